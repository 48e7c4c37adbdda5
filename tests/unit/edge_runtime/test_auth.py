"""Token sources: the file token's start-up checks and their exact messages (SPEC.md §8)."""

from __future__ import annotations

import asyncio
import json
import time

import jwt
import pytest

from edge_runtime.auth import AuthProblem, FileToken, read_claims

KEY = "unit-test-signing-key-0123456789"


def make_token(**claims) -> str:
    now = int(time.time())
    body = {"sub": "dev@example.com", "iat": now, "exp": now + 3600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, KEY, algorithm="HS256")


def save(tmp_path, token: str):
    path = tmp_path / "auth-token.json"
    path.write_text(json.dumps({"token": token, "platformUrl": "http://127.0.0.1:8000", "savedAt": "x"}))
    return FileToken(path)


def test_missing_file_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(AuthProblem) as caught:
        FileToken(tmp_path / "auth-token.json").check_at_start()
    message = caught.value.message
    assert message.startswith("No authentication token found")
    assert str(tmp_path / "auth-token.json") in message
    assert "AUTH_TOKEN_PATH" in message and "DEPLOYMENT_ID" in message and "DEPLOYMENT_SECRET" in message
    assert "edge-connector auth --browser" in message and "edge-connector auth --token <new-token>" in message
    assert caught.value.fatal


def test_file_without_a_token_field(tmp_path):
    path = tmp_path / "auth-token.json"
    path.write_text("{}")
    with pytest.raises(AuthProblem, match='No authentication token found: .* holds no "token" field'):
        FileToken(path).check_at_start()


def test_expired_token_names_the_reauth_commands(tmp_path):
    source = save(tmp_path, make_token(orgId="org-1", exp=int(time.time()) - 10))
    with pytest.raises(AuthProblem) as caught:
        source.check_at_start()
    assert caught.value.message == (
        "Token has expired: re-authenticate with edge-connector auth --browser or "
        "edge-connector auth --token <new-token>"
    )


def test_org_less_token_is_refused(tmp_path):
    source = save(tmp_path, make_token())
    with pytest.raises(
        AuthProblem, match="^No organization in token: the JWT must contain an orgId claim or an orgs map"
    ):
        source.check_at_start()


def test_orgs_map_counts_as_an_organization(tmp_path):
    info = save(tmp_path, make_token(orgs={"org-9": "owner"})).check_at_start()
    assert info.org_id == "org-9"


def test_not_a_jwt_is_a_validation_failure(tmp_path):
    with pytest.raises(AuthProblem, match="^Token validation failed: the saved token is not a JWT"):
        save(tmp_path, "not-a-jwt").check_at_start()


def test_claims_are_read_without_the_signing_key():
    info = read_claims(make_token(orgId="org-1", deploymentId="dep-1"))
    assert (info.sub, info.org_id, info.deployment_id) == ("dev@example.com", "org-1", "dep-1")
    assert not info.expired()
    assert info.exp is not None and info.expired(now=info.exp + 1)


def test_the_file_is_read_again_on_every_attempt(tmp_path):
    first, second = make_token(orgId="org-1"), make_token(orgId="org-2", sub="other")
    source = save(tmp_path, first)
    assert asyncio.run(source.token()) == first
    save(tmp_path, second)  # `edge-connector auth --token` while the runtime runs
    assert asyncio.run(source.token()) == second


# ------------------------------------------------------------------------------------ client credentials
class TokenEndpoint:
    """A real loopback HTTP server playing `POST /oauth/token` (counts exchanges, answers a set lifetime)."""

    def __init__(self, expires_in: int = 3600, status: int = 200) -> None:
        import http.server
        import threading

        endpoint = self
        self.requests: list[str] = []
        self.expires_in, self.status = expires_in, status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                endpoint.requests.append(body)
                payload = (
                    json.dumps(
                        {
                            "access_token": make_token(orgId="org-1", deploymentId="dep-1")
                            + str(len(endpoint.requests)),
                            "token_type": "Bearer",
                            "expires_in": endpoint.expires_in,
                        }
                    )
                    if endpoint.status == 200
                    else json.dumps({"error": {"code": "invalid_client", "message": "no"}})
                )
                self.send_response(endpoint.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def exchange_twice(endpoint: TokenEndpoint) -> tuple[str, str]:
    import httpx

    from edge_runtime.auth import ClientCredentials

    async with httpx.AsyncClient() as http:
        source = ClientCredentials(endpoint.url, "dep-1", "the-secret-value", http)
        return await source.token(), await source.token()


def test_client_credentials_cache_the_token_until_near_expiry():
    endpoint = TokenEndpoint(expires_in=3600)
    try:
        first, second = asyncio.run(exchange_twice(endpoint))
    finally:
        endpoint.close()
    assert first == second and len(endpoint.requests) == 1
    assert "grant_type=client_credentials" in endpoint.requests[0] and "client_id=dep-1" in endpoint.requests[0]


def test_client_credentials_refresh_a_token_that_is_due():
    endpoint = TokenEndpoint(expires_in=0)  # due at once: exchanged again on the next use
    try:
        first, second = asyncio.run(exchange_twice(endpoint))
    finally:
        endpoint.close()
    assert first != second and len(endpoint.requests) == 2


@pytest.mark.parametrize(("lifetime", "margin"), [(3600, 720), (120, 30), (20, 10), (5, 2.5), (0, 0)])
def test_the_refresh_margin_is_a_fifth_at_least_30s_at_most_half(lifetime, margin):
    from edge_runtime.auth import refresh_margin

    assert refresh_margin(lifetime) == margin


def test_a_short_lived_token_is_used_until_its_refresh_is_due():
    import httpx

    from edge_runtime.auth import ClientCredentials

    async def scenario(endpoint: TokenEndpoint) -> tuple[float, float, int]:
        async with httpx.AsyncClient() as http:
            source = ClientCredentials(endpoint.url, "dep-1", "the-secret-value", http)
            before = source.seconds_until_refresh()
            await source.token()
            await source.token()  # not due yet: the cached token, no second exchange
            return before, source.seconds_until_refresh(), len(endpoint.requests)

    endpoint = TokenEndpoint(expires_in=20)
    try:
        before, after, exchanges = asyncio.run(scenario(endpoint))
    finally:
        endpoint.close()
    assert before == 0.0 and 0 < after <= 10 and exchanges == 1


def test_refused_client_credentials_are_fatal_and_say_invalid():
    endpoint = TokenEndpoint(status=401)
    try:
        with pytest.raises(AuthProblem) as caught:
            asyncio.run(exchange_twice(endpoint))
    finally:
        endpoint.close()
    assert caught.value.fatal
    assert caught.value.message.startswith("Deployment credentials invalid: the platform refused DEPLOYMENT_ID dep-1")
    assert "the-secret-value" not in caught.value.message


def test_an_unreachable_token_endpoint_is_retried_not_fatal():
    from tests.support.waiting import free_port

    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(AuthProblem) as caught:
        asyncio.run(exchange_twice(Nowhere()))
    assert not caught.value.fatal and "ECONNREFUSED" in caught.value.message


@pytest.mark.parametrize("token", ["a.b", "a.!!!.c", "a." + "W10" + ".c", "x.eyJzdWIiOiJ4In0"])
def test_malformed_tokens_are_validation_failures(token):
    with pytest.raises(AuthProblem, match="^Token validation failed: the saved token is not a JWT"):
        read_claims(token)
