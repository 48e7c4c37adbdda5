"""What a bundle asks for (SPEC.md §10-§11): edge.json keys read, checked and carried through the manifest."""

from __future__ import annotations

import pytest

from edge_protocol.manifest import Manifest
from edge_protocol.sandbox import SandboxError, SandboxRequest, missing_secrets

FULL = {
    "env": ["MY_BASE", "MY_BASE"],
    "permissions": {
        "fsRead": ["/srv/data"],
        "fsWrite": ["/srv/out"],
        "childProcess": True,
        "workerThreads": True,
        "addons": True,
        "wasi": True,
    },
    "secrets": {"required": ["API_KEY"]},
    "secretsInEnv": ["API_KEY"],
}


def test_an_empty_request_is_the_default_sandbox():
    request = SandboxRequest.from_wire({})
    assert request.empty and request.to_wire() == {} and request.summary() == "default sandbox"


def test_every_key_round_trips_and_is_described():
    request = SandboxRequest.from_wire(FULL)
    assert request.env == ("MY_BASE",)  # duplicates dropped
    assert SandboxRequest.from_wire(request.to_wire()) == request
    summary = request.summary()
    for phrase in (
        "read /srv/data",
        "write /srv/out",
        "child processes",
        "worker threads",
        "native addons",
        "WASI",
        "host env MY_BASE",
        "secrets API_KEY",
        "secrets in env API_KEY",
    ):
        assert phrase in summary


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"env": ["DEPLOYMENT_SECRET"]}, "may not pass DEPLOYMENT_SECRET"),
        ({"env": ["AUTH_TOKEN_PATH", "HOME"]}, "AUTH_TOKEN_PATH, HOME"),
        ({"env": "PATH"}, '"env" must be a list'),
        ({"permissions": {"fsRead": ["relative/dir"]}}, 'permissions.fsRead" must be a list of absolute paths'),
        ({"permissions": {"childProcess": "yes"}}, 'permissions.childProcess" must be true or false'),
        ({"permissions": {"network": True}}, "unknown key 'network'"),
        ({"secrets": {"required": ["api-key"]}}, "secrets.required"),
        ({"secrets": ["API_KEY"]}, '"secrets" must be an object'),
        ({"secretsInEnv": ["EDGE_CONNECTOR_TOKEN"]}, "may not name EDGE_CONNECTOR_TOKEN"),
    ],
)
def test_bad_requests_name_the_key(data, fragment):
    with pytest.raises(SandboxError) as caught:
        SandboxRequest.from_wire(data, "edge.json")
    assert fragment in str(caught.value) and str(caught.value).startswith("edge.json")


def test_missing_secrets_keeps_the_bundle_order():
    request = SandboxRequest.from_wire({"secrets": {"required": ["B_KEY", "A_KEY", "C_KEY"]}})
    assert missing_secrets(request, {"A_KEY"}) == ["B_KEY", "C_KEY"]
    assert missing_secrets(request, {"A_KEY", "B_KEY", "C_KEY"}) == []


def test_the_manifest_carries_the_request_and_omits_an_empty_one():
    base = {
        "schemaVersion": 1,
        "bundle": "b",
        "version": None,
        "createdAt": "x",
        "builder": {},
        "tools": [],
        "files": [],
        "checksum": "sha256:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    assert "sandbox" not in Manifest.from_dict(base).to_dict()
    manifest = Manifest.from_dict({**base, "sandbox": FULL})
    assert manifest.to_dict()["sandbox"]["permissions"]["childProcess"] is True
    assert Manifest.from_dict(manifest.to_dict()).sandbox == manifest.sandbox
    assert manifest.with_version(3).sandbox == manifest.sandbox
