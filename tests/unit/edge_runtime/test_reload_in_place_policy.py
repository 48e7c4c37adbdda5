"""When a new version may load into the serving workers (edge_runtime/reload_in_place.py)."""

from __future__ import annotations

import dataclasses

import pytest

from edge_protocol.manifest import Manifest
from edge_protocol.sandbox import SandboxRequest
from edge_runtime.reload_in_place import MAX_RELOADS_PER_POOL, can_reload_in_place

SERVING = Manifest(bundle="tools", checksum="sha256:" + "a" * 64, files=[], tools=[], createdAt="", version=1)
NEW = dataclasses.replace(SERVING, checksum="sha256:" + "b" * 64, version=2)
SAME = dict(
    enabled=True,
    serving=SERVING,
    serving_secrets={"API_KEY": "one"},
    new=NEW,
    secrets={"API_KEY": "one"},
    reloads=0,
    workers_ready=2,
    workers_wanted=2,
)


def test_a_new_version_of_the_same_bundle_loads_in_place():
    assert can_reload_in_place(**SAME)
    assert can_reload_in_place(**{**SAME, "reloads": MAX_RELOADS_PER_POOL - 1})


@pytest.mark.parametrize(
    "change",
    [
        {"enabled": False},
        {"serving": None},
        {"new": dataclasses.replace(NEW, bundle="other-tools")},  # another scratch directory
        {"new": dataclasses.replace(NEW, sandbox=SandboxRequest(env=("EXTRA",)))},  # other flags and env
        {"secrets": {"API_KEY": "two"}},  # the workers started with the old value
        {"reloads": MAX_RELOADS_PER_POOL},  # time for fresh processes
        {"workers_ready": 1},  # one is restarting
    ],
    ids=["off", "nothing serving", "another bundle", "another sandbox", "new secrets", "reloaded enough", "not ready"],
)
def test_anything_that_changes_how_workers_start_means_new_workers(change):
    assert not can_reload_in_place(**{**SAME, **change})
