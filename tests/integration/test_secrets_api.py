"""Tool secrets on the platform (SPEC.md §11): API, limits, scopes, encryption at rest, who may read values."""

from __future__ import annotations

import stat
import uuid

import httpx
import pytest

from tests.support.platform import PlatformProcess

VALUE = "sk-live-" + uuid.uuid4().hex  # unique, so finding it anywhere means it leaked


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("secrets-api") / "data", extra_args=["--log-level", "debug"]).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def org(server):
    """A fresh org: (user client, deployment id, deployment secret)."""
    unique = uuid.uuid4().hex[:10]
    token = server.user_token(f"{unique}@example.com", f"org-{unique}")
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    created = client.post("/api/deployments", json={"name": "edge-1"}).json()
    yield client, created["deploymentId"], created["secret"]
    client.close()


def deployment_client(server, deployment_id: str, secret: str) -> httpx.Client:
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": deployment_id, "client_secret": secret},
    ).json()["access_token"]
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_put_list_delete_in_both_scopes(org):
    client, dep, _ = org
    put = client.put("/api/secrets/API_KEY", json={"value": VALUE})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["name"] == "API_KEY" and body["scope"] == "org" and body["deploymentId"] is None and body["updatedAt"]
    assert VALUE not in put.text
    own = client.put("/api/secrets/API_KEY", json={"value": VALUE + "-dep", "deploymentId": dep}).json()
    assert own["scope"] == "deployment" and own["deploymentId"] == dep
    assert [s["name"] for s in client.get("/api/secrets").json()["secrets"]] == ["API_KEY"]
    scoped = client.get("/api/secrets", params={"deploymentId": dep})
    assert scoped.json()["secrets"][0]["scope"] == "deployment" and VALUE not in scoped.text
    assert client.delete("/api/secrets/API_KEY", params={"deploymentId": dep}).status_code == 204
    gone = client.delete("/api/secrets/API_KEY", params={"deploymentId": dep})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "secret_not_found"
    assert client.delete("/api/secrets/API_KEY").status_code == 204
    assert client.get("/api/secrets").json()["secrets"] == []


@pytest.mark.parametrize(
    "name, value, code",
    [
        ("api-key", "x", "invalid_secret_name"),
        ("1KEY", "x", "invalid_secret_name"),
        ("K" * 65, "x", "invalid_secret_name"),
        ("BIG", "é" * 32_769, "secret_too_large"),  # 65,538 bytes of UTF-8
    ],
)
def test_bad_puts_are_422_with_a_reason(org, name, value, code):
    client, _, _ = org
    response = client.put(f"/api/secrets/{name}", json={"value": value})
    assert response.status_code == 422 and response.json()["error"]["code"] == code, response.text


def test_limits_exactly_at_the_edge(org):
    client, dep, _ = org
    assert client.put("/api/secrets/MAX", json={"value": "a" * 65_536}).status_code == 200
    for n in range(99):
        assert client.put(f"/api/secrets/K_{n}", json={"value": "v"}).status_code == 200
    over = client.put("/api/secrets/ONE_MORE", json={"value": "v"})
    assert over.status_code == 422 and over.json()["error"]["code"] == "too_many_secrets"
    assert client.put("/api/secrets/MAX", json={"value": "b"}).status_code == 200  # replacing is not adding
    assert client.put("/api/secrets/ONE_MORE", json={"value": "v", "deploymentId": dep}).status_code == 200
    missing = client.put("/api/secrets/X", json={"value": "v", "deploymentId": "dep-nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "deployment_not_found"


def test_values_go_only_to_the_deployments_own_token_with_its_override(server, org):
    client, dep, secret = org
    other = client.post("/api/deployments", json={"name": "edge-2"}).json()
    client.put("/api/secrets/API_KEY", json={"value": VALUE})
    client.put("/api/secrets/REGION", json={"value": "eu-west"})
    client.put("/api/secrets/API_KEY", json={"value": VALUE + "-own", "deploymentId": dep})
    refused = client.get(f"/api/deployments/{dep}/secrets")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "deployment_token_required"
    assert VALUE not in refused.text
    with deployment_client(server, dep, secret) as connector:
        assert connector.get(f"/api/deployments/{dep}/secrets").json() == {
            "secrets": {"API_KEY": VALUE + "-own", "REGION": "eu-west"}
        }
        foreign = connector.get(f"/api/deployments/{other['deploymentId']}/secrets")
        assert foreign.status_code == 403 and VALUE not in foreign.text
        # A deployment token manages nothing: listing and writing need a user token.
        assert connector.get("/api/secrets").status_code == 403
        assert connector.put("/api/secrets/API_KEY", json={"value": "x"}).status_code == 403
    with deployment_client(server, other["deploymentId"], other["secret"]) as connector:
        assert connector.get(f"/api/deployments/{other['deploymentId']}/secrets").json()["secrets"]["API_KEY"] == VALUE


def test_at_rest_the_database_never_holds_a_value_and_the_key_is_private(server, org):
    client, _, _ = org
    client.put("/api/secrets/AT_REST", json={"value": VALUE + "-rest"})
    key = server.data_dir / "secrets.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    raw = b"".join(p.read_bytes() for p in server.data_dir.glob("platform.db*"))
    assert b"AT_REST" in raw  # the row is there (names are not secret) ...
    assert VALUE.encode() not in raw  # ... its value is not, in the database nor its WAL
    assert VALUE not in "".join(server.output)  # nor in the platform's (debug) log
