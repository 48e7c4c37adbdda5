"""API fuzzing (issue 12): schemathesis over the platform's own OpenAPI document, in this process.

Every operation of `/openapi.json` gets schemathesis' examples, coverage (boundary and negative
values) and fuzzing phases, with every response check on: no 5xx, the status code, content type,
headers and body the document promises, valid data accepted, invalid data refused. It runs as a
user, as a deployment (which most routes refuse with 403 `user_token_required`, as documented), and
as a user of a platform with dev mode off (its dev routes, sign-in and health only: the dev routes
answer 404 there).

Generation is derandomized and bounded (`max_examples`), with no deadline, so CI load cannot make it
flaky and a run is reproducible. The number of requests sent and of 5xx seen is printed at the end
of the module (`pytest -s`) and checked: some requests must have been sent, and no 5xx.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from mock_platform.app import create_app
from mock_platform.config import PlatformConfig

#: Examples per operation and phase (37 operations as a user and as a deployment, 10 without dev mode):
#: the coverage phase's own deterministic cases are most of the requests; this bounds the rest.
MAX_EXAMPLES = 12
#: The name schemathesis' in-process client sends as `Host`: the platform is configured to serve it, so
#: dev mode's DNS-rebinding guard (SPEC.md §9) admits every request, those of its own checks included.
HOST = asgi.HOST

#: The tool-call route answers 502/503/504 by design (SPEC.md §5: `tool_error`, `connector_unavailable`,
#: `tool_timeout`): they say the connector side failed, not the platform. No connector is connected
#: here, so a call that passes validation gets 503; those are counted apart from real 5xx.
CONNECTOR_STATUSES = (502, 503, 504)
TOOL_CALL = "/api/tools/{tool}/call"
UPLOAD = "/api/bundles/{name}/versions"

FUZZ_CONFIG = {
    # The test sends a real token with every request, so the fuzzer must not draw (or leave out) the
    # `Authorization` header itself; `ignored_auth` still checks that a request without it is refused.
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "with-security-parameters": False,
    },
    "checks": {"enabled": True},
    "operations": [
        {
            "include-path": TOOL_CALL,
            "checks": {"not_a_server_error": {"expected-statuses": ["1XX", "2XX", "3XX", "4XX", *CONNECTOR_STATUSES]}},
        },
        {
            # No schema can say "a gzip'd tar holding a valid bundle": drawn bytes are schema-valid, and
            # refused (422 invalid_bundle), as they must be. The archive zoo covers that body in depth.
            "include-path": UPLOAD,
            "checks": {"positive_data_acceptance": {"enabled": False}},
        },
    ],
}


# Upload bodies are archives: the fuzzer sends the bytes it draws, as any binary body (the platform must refuse them).
schemathesis.serializer.alias("application/gzip", "application/octet-stream")


@dataclass
class Tally:
    """What the fuzzer sent and got, per identity (printed at the end of the module)."""

    requests: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    connector_statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0


TALLY = Tally()


def _platform(dev: bool) -> Any:
    """An app over a fresh data dir; its lifespan starts with the first request schemathesis sends."""
    data_dir = Path(tempfile.mkdtemp(prefix="ec-api-fuzz-"))
    _DATA_DIRS.append(data_dir)
    # Also when this module is collected but none of its tests run (the fixture below never tears down).
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    return create_app(PlatformConfig(data_dir=data_dir / "data", host=HOST, jwt_secret="fuzz-" + "x" * 40, dev=dev))


def _schema(app: Any) -> Any:
    # The document is built from the app's routes (no request, nothing started at collection).
    loaded = schemathesis.openapi.from_dict(app.openapi(), config=SchemathesisConfig.from_dict(FUZZ_CONFIG))
    loaded.app = app
    return loaded


_DATA_DIRS: list[Path] = []
DEV_APP, NO_DEV_APP = _platform(dev=True), _platform(dev=False)
dev_schema = _schema(DEV_APP)
#: Without dev mode only the dev routes and sign-in answer differently (404, and no DNS-rebinding
#: guard): those are fuzzed again there, the rest once is enough for the suite's time budget.
no_dev_schema = _schema(NO_DEV_APP).exclude(path_regex=r"^/(?!api/auth/|api/dev/|api/sim/|login$|api/me$|healthz$)")


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()
    for data_dir in _DATA_DIRS:
        shutil.rmtree(data_dir, ignore_errors=True)


def _user_headers(app: Any, email: str, org_id: str) -> dict[str, str]:
    """A member's user token minted by the platform's own token service (dev-login is off without dev mode)."""
    platform = app.state.platform
    sub, org, orgs = platform.store.sign_in(email, org_id)
    return {"Authorization": f"Bearer {platform.tokens.issue(sub, org_id=org, orgs=orgs)}"}


def _seeded_identities(app: Any) -> dict[str, dict[str, str]]:
    """An org with a deployment, a secret and an invite, so the fuzzer meets real objects; the headers
    of its owner and of its deployment's client-credentials token."""
    # schemathesis' client runs the app's lifespan in its own loop; its pytest plugin ends it after each
    # test and the next request starts it again (the platform's state lives on in its data dir).
    with asgi.get_client(app) as client:
        assert client.get("/healthz").status_code == 200
        user = _user_headers(app, "fuzz@example.com", "org-fuzz")
        created = client.post("/api/deployments", json={"name": "fuzzed"}, headers=user)
        assert created.status_code == 201, created.text
        deployment_id = created.json()["deploymentId"]
        assert client.put("/api/secrets/API_KEY", json={"value": "v"}, headers=user).status_code == 200
        assert client.post("/api/org/invites", json={"email": "b@example.com"}, headers=user).status_code == 201
        granted = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": deployment_id,
                "client_secret": created.json()["secret"],
            },
        )
        assert granted.status_code == 200, granted.text
    return {"user": user, "deployment": {"Authorization": f"Bearer {granted.json()['access_token']}"}}


@pytest.fixture(scope="module")
def dev_identities() -> dict[str, dict[str, str]]:
    return _seeded_identities(DEV_APP)


@pytest.fixture(scope="module")
def no_dev_identities() -> dict[str, dict[str, str]]:
    return _seeded_identities(NO_DEV_APP)


FUZZ_SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)


def _call(case: Any, who: str, headers: dict[str, str]) -> None:
    started = time.perf_counter()
    response = case.call(headers=dict(headers))  # a copy: the transport adds its own headers to it
    TALLY.seconds += time.perf_counter() - started
    TALLY.requests[who] += 1
    status = response.status_code
    if status >= 500 and not (case.path == TOOL_CALL and status in CONNECTOR_STATUSES):
        TALLY.server_errors.append(f"{who}: {case.method} {case.path} -> {status}")
    elif status >= 500:
        TALLY.connector_statuses[status] += 1
    case.validate_response(response, headers=dict(headers))


@pytest.mark.parametrize("who", ["user", "deployment"])
@dev_schema.parametrize()
@FUZZ_SETTINGS
def test_the_api_keeps_its_openapi_promises(case, who: str, dev_identities) -> None:
    _call(case, who, dev_identities[who])


@no_dev_schema.parametrize()
@FUZZ_SETTINGS
def test_the_api_without_dev_mode_keeps_its_openapi_promises(case, no_dev_identities) -> None:
    _call(case, "user-dev-off", no_dev_identities["user"])


def test_the_fuzzer_sent_requests_and_saw_no_server_error() -> None:
    """Runs after the fuzz tests (same module, declared later): the figures of docs/security.md."""
    if not TALLY.requests:
        pytest.skip("the fuzz tests of this module did not run (selected alone)")
    total = sum(TALLY.requests.values())
    print(
        f"\nAPI fuzzing: {total} requests ({dict(TALLY.requests)}), {len(TALLY.server_errors)} unexpected 5xx, "
        f"{sum(TALLY.connector_statuses.values())} documented connector answers {dict(TALLY.connector_statuses)}, "
        f"{TALLY.seconds:.1f} s in requests"
    )
    if set(TALLY.requests) == {"user", "deployment", "user-dev-off"}:  # the whole module ran
        assert total > 1000
    assert TALLY.server_errors == []
