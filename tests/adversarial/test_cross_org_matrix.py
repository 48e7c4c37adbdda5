"""The cross-org matrix (issue 12, SPEC.md §9): every route of the platform, called by four callers.

Org A (`alice`) owns everything: a deployment, a bundle assigned to it and set as the default, secrets
of both scopes, an invitation, a recorded call. Each route is called as a user of A, a user of org B
(`mallory`, with A's ids), A's deployment token and no token, and each answer is checked against the
table below. The table is keyed by the app's own route list, so a route added to the platform without
a row here fails `test_every_route_of_the_app_has_a_row`.

Beyond the statuses: a 404 that B gets for A's object is the answer B gets for an id that exists
nowhere (same status and code: a foreign id reveals nothing), no 2xx answer to B contains any of
A's identifiers, and a guarded route refuses the deployment token with `user_token_required` and
the missing token with `unauthenticated`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from mock_platform.errors import app_routes
from tests.support.bundles import echo_tool, make_archive
from tests.support.inprocess import BASE_URL, deployment_token, platform_app, sign_in

A, B, DEP, NONE = "user of A", "user of B", "deployment of A", "no token"
CALLERS = (NONE, DEP, B, A)  # A last: its calls change A's objects (deletes come at the very end)
WS_ACCEPTED = 101


@dataclass
class Seed:
    """Org A's objects, and the headers of the four callers."""

    deployment_id: str
    bundle: str
    version: int
    checksum: str
    archive: bytes
    tool: str
    secret: str
    headers: dict[str, dict[str, str]]
    markers: list[str] = field(default_factory=list)  # strings of A that B must never read


@dataclass(frozen=True)
class Row:
    """Expected status per caller, and how to build the request from A's objects."""

    a: int
    b: int
    dep: int
    none: int
    request: Callable[[Seed], dict[str, Any]] = lambda seed: {}

    def expected(self, caller: str) -> int:
        return {A: self.a, B: self.b, DEP: self.dep, NONE: self.none}[caller]


def _open(status: int = 200, request: Callable[[Seed], dict[str, Any]] = lambda seed: {}) -> Row:
    """An open route: every caller gets the same answer (tokens are not read)."""
    return Row(status, status, status, status, request)


def _user(a: int, b: int, request: Callable[[Seed], dict[str, Any]] = lambda seed: {}) -> Row:
    """A user-token route: deployment tokens get 403 `user_token_required`, no token 401."""
    return Row(a, b, 403, 401, request)


def _json(body: Callable[[Seed], Any]) -> Callable[[Seed], dict[str, Any]]:
    return lambda seed: {"json": body(seed)}


def _query(params: Callable[[Seed], dict[str, Any]]) -> Callable[[Seed], dict[str, Any]]:
    return lambda seed: {"params": params(seed)}


STRANGER = "stranger@elsewhere.example"
MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "matrix", "version": "1"}},
}

#: (method, path template) → row. `WS` marks a WebSocket route, `ANY` a route that takes every method.
MATRIX: dict[tuple[str, str], Row] = {
    # --- open: documentation, health, sign-in (dev mode), the dashboard
    ("GET", "/openapi.json"): _open(),
    ("GET", "/docs"): _open(),
    ("GET", "/docs/oauth2-redirect"): _open(),
    ("GET", "/redoc"): _open(),
    ("GET", "/.well-known/oauth-protected-resource"): _open(),
    ("GET", "/.well-known/oauth-protected-resource/mcp"): _open(),
    ("GET", "/healthz"): _open(),
    ("GET", "/"): _open(),
    ("GET", "/static/favicon.svg"): _open(),
    ("GET", "/static/{name}"): _open(request=lambda seed: {"path": {"name": "dashboard.js"}}),
    ("GET", "/login"): _open(),
    # Nobody joins org A by naming it, whatever token they hold (403 not_a_member).
    ("POST", "/login"): _open(403, lambda seed: {"data": {"email": STRANGER, "orgId": "org-acme", "mode": "paste"}}),
    ("POST", "/api/auth/dev-login"): _open(403, _json(lambda seed: {"email": STRANGER, "orgId": "org-acme"})),
    # Dev mode's test helper mints any token by design (SPEC.md §5); it is 404 without dev mode.
    ("POST", "/api/dev/tokens"): _open(200, _json(lambda seed: {"sub": STRANGER, "orgId": "org-elsewhere"})),
    ("POST", "/oauth/token"): _open(
        401,
        lambda seed: {
            "data": {"grant_type": "client_credentials", "client_id": seed.deployment_id, "client_secret": "guess"}
        },
    ),
    # --- the caller's own organization: B gets its own (empty) view, never A's
    ("GET", "/api/me"): _user(200, 200),
    ("GET", "/api/org/members"): _user(200, 200),
    ("POST", "/api/org/invites"): _user(201, 201, _json(lambda seed: {"email": "newcomer@example.com"})),
    ("GET", "/api/deployments"): _user(200, 200),
    ("POST", "/api/deployments"): _user(201, 201, _json(lambda seed: {"name": "another"})),
    ("GET", "/api/bundles"): _user(200, 200),
    ("GET", "/api/bundles/default"): _user(200, 200),
    ("DELETE", "/api/bundles/default"): _user(200, 200),
    ("GET", "/api/calls"): _user(200, 200),
    ("GET", "/api/connectors"): _user(200, 200),
    ("POST", "/api/sim/reject"): _user(200, 200, _json(lambda seed: {"count": 0})),
    ("POST", "/api/sim/latency"): _user(200, 200, _json(lambda seed: {"ms": 0})),
    ("POST", "/api/sim/pushes"): _user(200, 200, _json(lambda seed: {"enabled": True})),
    # Acts on the caller's org only: A's deployment id disconnects nothing of A's.
    ("POST", "/api/sim/disconnect"): _user(200, 200, _json(lambda seed: {"deploymentId": seed.deployment_id})),
    # B uploading the same archive gets a version of its own (201); A's upload again is a 200.
    ("POST", "/api/bundles/{name}/versions"): _user(
        200,
        201,
        lambda seed: {
            "path": {"name": seed.bundle},
            "content": seed.archive,
            "headers": {"X-Bundle-Checksum": seed.checksum},
        },
    ),
    # --- A's objects by id: B gets 404 (as for an id that exists nowhere)
    ("GET", "/api/deployments/{deployment_id}"): _user(200, 404),
    ("PATCH", "/api/deployments/{deployment_id}"): _user(200, 404, _json(lambda seed: {"replicas": 2})),
    ("POST", "/api/deployments/{deployment_id}/rotate-secret"): _user(200, 404),
    ("PUT", "/api/deployments/{deployment_id}/bundle"): _user(200, 404, _json(lambda seed: {"name": seed.bundle})),
    ("DELETE", "/api/deployments/{deployment_id}/bundle"): _user(200, 404),
    ("DELETE", "/api/deployments/{deployment_id}"): _user(204, 404),
    ("PUT", "/api/bundles/default"): _user(200, 404, _json(lambda seed: {"name": seed.bundle})),
    ("GET", "/api/bundles/{name}"): _user(200, 404),
    ("GET", "/api/bundles/{name}/versions/{version}"): _user(200, 404),
    ("PUT", "/api/secrets/{name}"): _user(
        200, 404, _json(lambda seed: {"value": "rotated", "deploymentId": seed.deployment_id})
    ),
    ("GET", "/api/secrets"): _user(200, 404, _query(lambda seed: {"deploymentId": seed.deployment_id})),
    ("DELETE", "/api/secrets/{name}"): _user(204, 404, _query(lambda seed: {"deploymentId": seed.deployment_id})),
    # Not connected: A's own deployment is 503 connector_unavailable; B's answer is deployment_not_found.
    ("POST", "/api/tools/{tool}/call"): _user(
        503, 404, _json(lambda seed: {"arguments": {}, "deploymentId": seed.deployment_id})
    ),
    # --- connector routes: what a deployment token may reach (SPEC.md §9)
    ("GET", "/api/bundles/{name}/versions/{version}/archive"): Row(200, 404, 200, 401),
    ("GET", "/api/connectors/assignment"): Row(
        200, 404, 200, 401, _query(lambda seed: {"deploymentId": seed.deployment_id})
    ),
    # Secret values go to the deployment's own token only: 403 for every user token.
    ("GET", "/api/deployments/{deployment_id}/secrets"): Row(403, 403, 200, 401),
    ("WS", "/tool-rpc"): Row(
        WS_ACCEPTED, 404, WS_ACCEPTED, 401, lambda seed: {"headers": {"X-Deployment-Id": seed.deployment_id}}
    ),
    ("WS", "/api/tail"): Row(
        WS_ACCEPTED, WS_ACCEPTED, 403, 401, _query(lambda seed: {"deploymentId": seed.deployment_id})
    ),
    ("ANY", "/mcp"): Row(
        200,
        200,
        403,
        401,
        lambda seed: {"json": MCP_INITIALIZE, "headers": {"Accept": "application/json, text/event-stream"}},
    ),
}


def app_endpoints(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves; HEAD rides along with GET."""
    found = set()
    for route in app_routes(app.routes):
        path = route.path.replace(":path}", "}")
        methods = getattr(route, "methods", None)
        if route.__class__.__name__.endswith("WebSocketRoute"):
            found.add(("WS", path))
        elif not methods:
            found.add(("ANY", path))
        else:
            found.update((method, path) for method in methods if method != "HEAD")
    return found


#: The refusal a guarded route gives these callers (SPEC.md §5/§9).
REFUSAL_CODES = {DEP: (403, "user_token_required"), NONE: (401, "unauthenticated")}
UPLOAD = ("POST", "/api/bundles/{name}/versions")
DELETE_DEPLOYMENT = ("DELETE", "/api/deployments/{deployment_id}")


def _order(key: tuple[str, str]) -> tuple[int, str, str]:
    """Reads first; then uploads (B's copy of A's bundle must not exist while B reads A's by name) and
    deletes; the deployment's own delete at the very end (its token dies with it)."""
    method, path = key
    rank = 2 if key == DELETE_DEPLOYMENT else 1 if method == "DELETE" or key == UPLOAD else 0
    return (rank, path, method)


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[tuple[TestClient, Seed]]:
    work = tmp_path_factory.mktemp("matrix")
    with platform_app(work / "data") as api:
        alice = sign_in(api, "alice@acme.example", "org-acme")
        mallory = sign_in(api, "mallory@elsewhere.example", "org-elsewhere")
        assert api.post("/api/org/invites", json={"email": "invitee@acme.example"}, headers=alice).status_code == 201
        archive, manifest = make_archive(work / "bundle", [echo_tool("acme_echo")], name="acme-tools")
        uploaded = api.post(
            "/api/bundles/acme-tools/versions",
            content=archive.read_bytes(),
            headers={**alice, "X-Bundle-Checksum": manifest.checksum},
        )
        assert uploaded.status_code == 201, uploaded.text
        deployment_id, dep = deployment_token(api, alice, name="acme-prod")
        assert api.put(
            f"/api/deployments/{deployment_id}/bundle", json={"name": "acme-tools"}, headers=alice
        ).is_success
        assert api.put("/api/bundles/default", json={"name": "acme-tools"}, headers=alice).is_success
        for body in ({"value": "org-value"}, {"value": "deployment-value", "deploymentId": deployment_id}):
            assert api.put("/api/secrets/ACME_SECRET", json=body, headers=alice).is_success
        # A call of A's (its connector is not connected) so A has a recent call B must not see.
        api.post("/api/tools/acme_echo/call", json={"arguments": {}}, headers=alice)
        seed = Seed(
            deployment_id=deployment_id,
            bundle="acme-tools",
            version=1,
            checksum=manifest.checksum,
            archive=archive.read_bytes(),
            tool="acme_echo",
            secret="ACME_SECRET",
            headers={A: alice, B: mallory, DEP: dep, NONE: {}},
            markers=[
                deployment_id,
                "acme-prod",
                "ACME_SECRET",
                "alice@acme.example",
                "invitee@acme.example",
                "org-acme",
            ],
        )
        yield api, seed


def _path(template: str, seed: Seed, ids: dict[str, str] | None = None) -> str:
    values = {
        "deployment_id": seed.deployment_id,
        "name": seed.secret if template.startswith("/api/secrets") else seed.bundle,
        "version": str(seed.version),
        "tool": seed.tool,
        **(ids or {}),
    }
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _send(api: TestClient, method: str, template: str, caller: str, seed: Seed, row: Row) -> tuple[int, str]:
    """Status and body of one call (101 and "" for an accepted WebSocket)."""
    spec = dict(row.request(seed))
    path = _path(template, seed, spec.pop("path", None))
    headers = {**seed.headers[caller], **spec.pop("headers", {})}
    if method == "WS":
        url = (
            BASE_URL.replace("http", "ws", 1)
            + path
            + ("?" + "&".join(f"{k}={v}" for k, v in spec.pop("params", {}).items()) if "params" in spec else "")
        )
        try:
            with api.websocket_connect(url, headers=headers):
                return WS_ACCEPTED, ""
        except WebSocketDenialResponse as denied:
            return denied.status_code, denied.text
    response = api.request("POST" if method == "ANY" else method, path, headers=headers, **spec)
    return response.status_code, response.text


def _error_code(body: str) -> str | None:
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def _wrong_refusal(caller: str, row: Row, status: int, body: str) -> bool:
    """A guarded route's refusal of this caller does not carry its code (open routes answer alike)."""
    expected = REFUSAL_CODES.get(caller)
    if expected is None or status != expected[0] or row.expected(caller) == row.a:
        return False
    return _error_code(body) != expected[1]


def _with_foreign_ids_replaced(seed: Seed) -> Seed:
    """The same requests aimed at ids that exist nowhere."""
    nowhere = f"dep-{uuid.uuid4().hex[:12]}"
    return Seed(
        deployment_id=nowhere,
        bundle="nowhere-tools",
        version=seed.version,
        checksum=seed.checksum,
        archive=seed.archive,
        tool="nowhere_tool",
        secret="NOWHERE_SECRET",
        headers=seed.headers,
    )


def test_every_route_of_the_app_has_a_row(platform):
    api, _seed = platform
    served = app_endpoints(api.app)
    assert served - set(MATRIX) == set(), "routes without a row in MATRIX: add the expected statuses"
    assert set(MATRIX) - served == set(), "rows for routes the app no longer serves"


def test_each_caller_gets_the_expected_status_on_every_route(platform):
    api, seed = platform
    mismatches, leaks, revealing = [], [], []
    for caller in CALLERS:
        for method, template in sorted(MATRIX, key=_order):
            row = MATRIX[(method, template)]
            status, body = _send(api, method, template, caller, seed, row)
            if status != row.expected(caller):
                mismatches.append(
                    f"{caller}: {method} {template} -> {status} (expected {row.expected(caller)}) {body[:200]}"
                )
            if _wrong_refusal(caller, row, status, body):
                mismatches.append(f"{caller}: {method} {template} -> {status} {body[:200]}")
            if caller == B and status < 300:
                leaks.extend(f"{method} {template} shows B {marker!r}" for marker in seed.markers if marker in body)
            if caller == B and status == 404:
                # A foreign id must answer exactly like an id that exists nowhere.
                status_nowhere, body_nowhere = _send(api, method, template, B, _with_foreign_ids_replaced(seed), row)
                if (status_nowhere, _error_code(body_nowhere)) != (status, _error_code(body)):
                    revealing.append(
                        f"{method} {template}: A's id -> {status} {_error_code(body)}, "
                        f"none -> {status_nowhere} {_error_code(body_nowhere)}"
                    )
    assert mismatches == [], "\n".join(mismatches)
    assert leaks == [], "\n".join(leaks)
    assert revealing == [], "\n".join(revealing)
