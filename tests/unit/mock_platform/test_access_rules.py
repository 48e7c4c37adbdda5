"""SPEC.md §9 on the API: organizations admit only members and invitees, dev routes only in dev mode,
dev mode refuses foreign Host names, deployment tokens reach only connector routes, and a foreign
deployment id is indistinguishable from none."""

from __future__ import annotations

import pytest

from edge_protocol.limits import MAX_CALL_BODY_BYTES
from tests.support.bundles import echo_tool, make_archive
from tests.support.inprocess import deployment_token, platform_app, sign_in


@pytest.fixture
def api(tmp_path):
    with platform_app(tmp_path / "data") as client:
        yield client


def _error(response):
    return response.status_code, response.json()["error"]["code"], response.json()["error"]["message"]


def test_signing_in_to_someone_elses_org_is_refused(api):
    alice = sign_in(api, "alice@example.com", "org-acme")
    api.post("/api/deployments", json={"name": "prod"}, headers=alice)
    refused = api.post("/api/auth/dev-login", json={"email": "mallory@example.com", "orgId": "org-acme"})
    assert _error(refused) == (
        403,
        "not_a_member",
        "You are not a member of organization org-acme; ask one of its owners to invite you",
    )
    page = api.post("/login", data={"email": "mallory@example.com", "orgId": "org-acme", "mode": "paste"})
    assert page.status_code == 403 and "not a member of organization org-acme" in page.text
    assert 'id="token"' not in page.text
    # Mallory's own sign-in gives her own org, which sees nothing of Acme's.
    mallory = sign_in(api, "mallory@example.com")
    assert api.get("/api/deployments", headers=mallory).json() == {"deployments": []}


def test_owners_invite_and_the_invitee_joins_at_next_sign_in(api):
    owner = sign_in(api, "owner@example.com", "org-acme")
    invited = api.post("/api/org/invites", json={"email": "bob@example.com"}, headers=owner)
    assert invited.status_code == 201 and invited.json() == {
        "email": "bob@example.com",
        "role": "member",
        "orgId": "org-acme",
    }
    assert api.get("/api/org/members", headers=owner).json() == {
        "members": [{"email": "owner@example.com", "role": "owner"}],
        "invites": [{"email": "bob@example.com", "role": "member"}],
    }
    bob = sign_in(api, "bob@example.com", "org-acme")
    assert api.get("/api/org/members", headers=bob).json()["members"] == [
        {"email": "owner@example.com", "role": "owner"},
        {"email": "bob@example.com", "role": "member"},
    ]
    assert _error(api.post("/api/org/invites", json={"email": "eve@example.com"}, headers=bob))[:2] == (
        403,
        "owner_required",
    )
    assert (
        api.post("/api/org/invites", json={"email": "x@example.com", "role": "admin"}, headers=owner).status_code == 422
    )
    api.post("/api/org/invites", json={"email": "carol@example.com", "role": "owner"}, headers=owner)
    carol = sign_in(api, "carol@example.com", "org-acme")
    assert api.post("/api/org/invites", json={"email": "dan@example.com"}, headers=carol).status_code == 201


def test_dev_routes_exist_only_in_dev_mode(tmp_path):
    with platform_app(tmp_path / "data", dev=False) as api:
        assert _error(api.post("/api/auth/dev-login", json={"email": "a@example.com"}))[:2] == (404, "not_found")
        assert _error(api.post("/api/dev/tokens", json={"sub": "a", "orgId": "o"}))[:2] == (404, "not_found")
        # A foreign Host is fine outside dev mode (the platform is published under its own names).
        assert api.get("/healthz", headers={"Host": "platform.example.com"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:8000", "127.0.0.1.nip.io:8000", "10.0.0.1"])
def test_dev_mode_refuses_foreign_host_names(api, host):
    response = api.get("/healthz", headers={"Host": host})
    assert response.status_code == 421 and response.json()["error"]["code"] == "misdirected_request"
    assert api.post("/api/tools/echo/call", json={}, headers={"Host": host}).status_code == 421


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "127.0.0.1"])
def test_dev_mode_accepts_its_own_address_and_localhost(api, host):
    assert api.get("/healthz", headers={"Host": host}).status_code == 200


def test_deployment_tokens_reach_only_connector_routes(api, tmp_path):
    user = sign_in(api, "ops@example.com", "org-ops")
    for bundle in ("assigned-tools", "other-tools"):
        archive, manifest = make_archive(tmp_path / bundle, [echo_tool()], name=bundle)
        api.post(
            f"/api/bundles/{bundle}/versions",
            content=archive.read_bytes(),
            headers={**user, "X-Bundle-Checksum": manifest.checksum},
        )
    dep_id, dep = deployment_token(api, user)
    api.put(f"/api/deployments/{dep_id}/bundle", json={"name": "assigned-tools"}, headers=user)
    assert api.get("/api/connectors/assignment", headers=dep).json()["assignedBundle"]["name"] == "assigned-tools"
    assert api.get("/api/bundles/assigned-tools/versions/1/archive", headers=dep).status_code == 200
    assert api.get("/api/bundles/other-tools/versions/1/archive", headers=dep).status_code == 404
    for method, path, body in [
        ("POST", "/api/tools/echo/call", {"arguments": {}}),
        ("GET", "/api/calls", None),
        ("GET", "/api/connectors", None),
        ("GET", "/api/deployments", None),
        ("POST", f"/api/deployments/{dep_id}/rotate-secret", None),
        ("GET", "/api/bundles", None),
        ("PUT", "/api/bundles/default", {"name": "other-tools"}),
        ("GET", "/api/me", None),
        ("GET", "/api/org/members", None),
        ("POST", "/api/sim/reject", {"count": 1}),
    ]:
        response = api.request(method, path, json=body, headers=dep)
        assert _error(response)[:2] == (403, "user_token_required"), (method, path, response.text)


def test_a_foreign_or_unknown_deployment_id_is_deployment_not_found(api):
    alice = sign_in(api, "alice@example.com", "org-a")
    bob = sign_in(api, "bob@example.com", "org-b")
    bobs = api.post("/api/deployments", json={"name": "b"}, headers=bob).json()["deploymentId"]
    alices = api.post("/api/deployments", json={"name": "a"}, headers=alice).json()["deploymentId"]
    foreign = api.post("/api/tools/echo/call", json={"arguments": {}, "deploymentId": bobs}, headers=alice)
    unknown = api.post("/api/tools/echo/call", json={"arguments": {}, "deploymentId": "dep-nowhere"}, headers=alice)
    assert _error(foreign)[:2] == _error(unknown)[:2] == (404, "deployment_not_found")
    assert bobs not in foreign.text.replace(f"'{bobs}'", "")  # only the id the caller sent is echoed
    own = api.post("/api/tools/echo/call", json={"arguments": {}, "deploymentId": alices}, headers=alice)
    assert _error(own)[:2] == (503, "connector_unavailable")


def test_a_call_body_over_the_frame_budget_is_413(api):
    user = sign_in(api, "big@example.com", "org-big")
    body = b'{"arguments": {"blob": "' + b"x" * (MAX_CALL_BODY_BYTES + 1) + b'"}}'
    response = api.post("/api/tools/echo/call", content=body, headers={**user, "Content-Type": "application/json"})
    assert _error(response)[:2] == (413, "arguments_too_large")
