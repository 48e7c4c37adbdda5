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
    with pytest.raises(AuthProblem, match="No authentication token found: .* holds no \"token\" field"):
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
    with pytest.raises(AuthProblem, match="^No organization in token: the JWT must contain an orgId claim or an orgs map"):
        source.check_at_start()


def test_orgs_map_counts_as_an_organization(tmp_path):
    info = save(tmp_path, make_token(orgs={"org-9": "owner"})).check_at_start()
    assert info.org_id == "org-9"


def test_not_a_jwt_is_a_validation_failure(tmp_path):
    with pytest.raises(AuthProblem, match="^Token validation failed: the saved token is not a JWT"):
        save(tmp_path, "not-a-jwt").check_at_start()


def test_claims_are_read_without_the_signing_key():
    info = read_claims(make_token(orgId="org-1", deploymentId="dep-1"))
    assert (info.subject, info.org_id, info.deployment_id) == ("dev@example.com", "org-1", "dep-1")
    assert not info.expired()
    assert info.expired(now=info.expires_at + 1)


def test_the_file_is_read_again_on_every_attempt(tmp_path):
    first, second = make_token(orgId="org-1"), make_token(orgId="org-2", sub="other")
    source = save(tmp_path, first)
    assert asyncio.run(source.token()) == first
    save(tmp_path, second)  # `edge-connector auth --token` while the runtime runs
    assert asyncio.run(source.token()) == second
