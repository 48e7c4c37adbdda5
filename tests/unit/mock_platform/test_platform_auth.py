"""TokenService: HS256 only, the exact refusal codes and words, org resolution, the persisted secret."""

from __future__ import annotations

import stat
import time

import jwt
import pytest

from mock_platform.auth import AuthError, TokenService
from mock_platform.config import PlatformConfig

SECRET = "unit-test-secret-0123456789abcdef"


@pytest.fixture
def tokens():
    return TokenService(SECRET)


def _refusal(tokens: TokenService, token) -> tuple[int, str, str]:
    with pytest.raises(AuthError) as caught:
        tokens.verify(token)
    return caught.value.status, caught.value.code, caught.value.message


def test_issue_and_verify_round_trip(tokens):
    token = tokens.issue("ada", org_id="org-1", orgs={"org-1": "owner"}, expires_in=60, deployment_id="dep-1")
    claims = tokens.verify(token)
    assert (claims.sub, claims.org_id, claims.orgs, claims.deployment_id) == (
        "ada",
        "org-1",
        {"org-1": "owner"},
        "dep-1",
    )
    assert claims.exp - claims.iat == 60
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_org_comes_from_org_id_else_the_first_key_of_orgs(tokens):
    assert tokens.verify(tokens.issue("u", orgs={"b": "member", "a": "owner"})).org_id == "b"
    assert tokens.verify(tokens.issue("u", org_id="x", orgs={"b": "member"})).org_id == "x"


def test_refusals_carry_the_spec_codes_and_messages(tokens):
    assert _refusal(tokens, None) == (401, "unauthenticated", "No authentication token found")
    assert _refusal(tokens, tokens.issue("u", org_id="o", expires_in=-1)) == (401, "token_expired", "Token has expired")
    assert _refusal(tokens, tokens.issue("u", expires_in=60)) == (403, "no_organization", "No organization in token")
    status, code, message = _refusal(tokens, "garbage")
    assert (status, code) == (401, "token_invalid") and message.startswith("Token validation failed: ")
    assert (
        _refusal(tokens, TokenService("another-secret-0123456789abcdefghijkl").issue("u", org_id="o"))[1]
        == "token_invalid"
    )


@pytest.mark.parametrize("algorithm,key", [("none", None), ("HS512", SECRET * 2)])
def test_only_hs256_is_accepted(tokens, algorithm, key):
    token = jwt.encode({"sub": "u", "orgId": "o", "iat": 1, "exp": 4_000_000_000}, key, algorithm=algorithm)
    assert _refusal(tokens, token)[:2] == (401, "token_invalid")


def test_required_claims(tokens):
    no_exp = jwt.encode({"sub": "u", "orgId": "o", "iat": 1}, SECRET, algorithm="HS256")
    assert _refusal(tokens, no_exp)[1] == "token_invalid"
    bad_orgs = jwt.encode({"sub": "u", "orgs": ["o"], "iat": 1, "exp": 4_000_000_000}, SECRET, algorithm="HS256")
    assert _refusal(tokens, bad_orgs)[1] == "token_invalid"


def test_decode_lets_an_orgless_token_through_for_callers_that_decide(tokens):
    assert tokens.decode(tokens.issue("u", expires_in=60)).org_id is None


def test_secret_is_generated_once_into_the_data_dir_with_mode_0600(tmp_path):
    config = PlatformConfig(data_dir=tmp_path / "data")
    first = TokenService.for_config(config)
    token = first.issue("u", org_id="o")
    path = tmp_path / "data" / "jwt-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TokenService.for_config(config).verify(token).sub == "u"  # same secret after a "restart"
    explicit = TokenService.for_config(PlatformConfig(data_dir=tmp_path / "data", jwt_secret="x" * 32))
    with pytest.raises(AuthError):
        explicit.verify(token)


def test_short_secrets_are_refused():
    with pytest.raises(ValueError):
        TokenService("short")


def test_a_cached_token_still_expires(tokens, monkeypatch):
    token = tokens.issue("u", org_id="o", expires_in=60)
    assert tokens.verify(token).sub == "u"
    assert tokens.verify(token).sub == "u"  # from the cache
    import mock_platform.auth as auth_module

    later = time.time() + 120
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    assert _refusal(tokens, token) == (401, "token_expired", "Token has expired")
