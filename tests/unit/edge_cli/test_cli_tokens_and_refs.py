"""Token checks done before saving (`auth --token`) and the NAME[@VERSION] argument of `bundle`."""

from __future__ import annotations

import time

import jwt
import pytest

from edge_cli.commands.bundle import parse_ref
from edge_cli.errors import CliError, UsageError
from edge_cli.jwt_claims import check_usable, read_claims

KEY = "k" * 32


def _token(algorithm: str = "HS256", **claims: object) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "ada", "iat": now, "exp": now + 600, **claims},
        "" if algorithm == "none" else KEY * 2,
        algorithm=algorithm,
    )


def test_a_good_token_is_read_without_the_secret():
    info = read_claims(_token(orgs={"org-1": "owner"}, deploymentId="dep-1"))
    assert (info.sub, info.org_id, info.deployment_id, info.expired()) == ("ada", "org-1", "dep-1", False)
    check_usable(info)


# Claims, not tokens, are the parameters: a token made at collection time would have expired by the time a
# long suite reaches this test (its exp is "now + 10 minutes").
@pytest.mark.parametrize(
    "claims,words",
    [
        ({"orgId": "o", "expires_in": -5}, "Token has expired"),
        ({}, "No organization in token"),
    ],
)
def test_unusable_tokens_are_named(claims, words):
    claims = dict(claims)
    expires_in = claims.pop("expires_in", None)
    if expires_in is not None:
        claims["exp"] = int(time.time()) + expires_in
    with pytest.raises(CliError, match=words):
        check_usable(read_claims(_token(**claims)))


@pytest.mark.parametrize(
    "token", ["abc", "a.b.c", _token(algorithm="none", orgId="o"), _token(algorithm="HS512", orgId="o")]
)
def test_malformed_tokens_are_refused(token):
    with pytest.raises(CliError):
        read_claims(token)


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("tools", ("tools", None)),
        ("tools@3", ("tools", 3)),
        ("@team/tools", ("@team/tools", None)),
        ("@team/tools@12", ("@team/tools", 12)),
    ],
)
def test_bundle_refs(ref, expected):
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["tools@x", "tools@0", ""])
def test_bad_bundle_refs_are_usage_errors(ref):
    with pytest.raises(UsageError):
        parse_ref(ref)
