"""API fuzzing (issue 12): schemathesis v4 over the platform's own OpenAPI document, every check on,
once with a user token and once with a deployment token: no 5xx, no response outside the schema.

The app runs in this process (ASGI), seeded with an org that has a deployment and a bundle, so the
generated requests reach real data and not only 404s. The totals are printed at the end of the run
(`-s` shows them) for the issue's closing figures.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mock_platform.app import create_app
from mock_platform.config import PlatformConfig
from tests.support.bundles import echo_tool, make_archive
from tests.support.inprocess import deployment_token, sign_in

HOST = {"Host": "127.0.0.1"}  # dev mode refuses other Host names (SPEC.md §9)
EXAMPLES = 25

_data = Path(tempfile.mkdtemp(prefix="api-fuzz-"))
atexit.register(shutil.rmtree, _data, True)
CONFIG = PlatformConfig(data_dir=_data / "platform")


def _seed() -> dict[str, dict[str, str]]:
    """Data to reach, through an app of its own on the same data dir (its lifespan closes its store)."""
    with TestClient(create_app(CONFIG), base_url="http://127.0.0.1") as client:
        user = sign_in(client, "fuzz@example.com", "org-fuzz")
        archive, manifest = make_archive(_data / "bundle", [echo_tool()], name="fuzz-tools")
        client.post("/api/bundles/fuzz-tools/versions", content=archive.read_bytes(),
                    headers={**user, "X-Bundle-Checksum": manifest.checksum})
        client.put("/api/bundles/default", json={"name": "fuzz-tools"}, headers=user)
        _, deployment = deployment_token(client, user)
    return {"user": {**HOST, **user}, "deployment": {**HOST, **deployment}}


@schemathesis.serializer("application/gzip")
def _gzip_body(ctx, value):
    """Upload bodies are any bytes (the archive reader must refuse what is not a bundle)."""
    return {"data": value if isinstance(value, bytes) else bytes(str(value), "utf-8")}


HEADERS = _seed()
APP = create_app(CONFIG)
STATUSES: Counter[int] = Counter()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers=HOST)


def _fuzz(case, who: str) -> None:
    response = case.call(headers=HEADERS[who])
    STATUSES[response.status_code] += 1
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    excluded = []
    if case.operation.path == "/api/bundles/{name}/versions":
        # `format: binary` admits any bytes, and only a real bundle archive is accepted: the one check
        # that cannot hold here. The archive zoo covers this route's refusals instead.
        excluded.append(positive_data_acceptance)
    case.validate_response(response, headers=HEADERS[who], excluded_checks=excluded)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_user_token(case):
    _fuzz(case, "user")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_deployment_token(case):
    _fuzz(case, "deployment")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print(f"\nAPI fuzzing: {sum(STATUSES.values())} requests, {sum(n for s, n in STATUSES.items() if s >= 500)} "
          f"answered 5xx; statuses {dict(sorted(STATUSES.items()))}")
