"""The shared token reader (claims, org rule, messages), the call deadline, invalid_arguments and routes."""

from __future__ import annotations

import base64
import json

import pytest

from edge_protocol import routes, tokens
from edge_protocol.calls import argument_problems, call_deadline_ms, invalid_arguments, json_pointer
from edge_protocol.errors import ToolErrorKind


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt_text(payload, header=None) -> str:
    return f"{_b64(header or {'alg': 'HS256', 'typ': 'JWT'})}.{_b64(payload)}.signature"


# ------------------------------------------------------------------------------------ tokens
def test_unverified_claims_in_python_names():
    claims = tokens.read_unverified(
        jwt_text({"sub": "ada", "orgId": "o1", "deploymentId": "d1", "exp": 200, "iat": 100})
    )
    assert claims == tokens.TokenClaims("ada", "o1", {}, "d1", 200, 100, "HS256")
    assert claims.expired(now=200) and not claims.expired(now=199)
    assert claims.expiry_iso() == "1970-01-01T00:03:20Z"


@pytest.mark.parametrize(
    "org_id,orgs,expected",
    [
        ("o1", {"o2": "owner"}, "o1"),
        (None, {"o2": "owner", "o3": "member"}, "o2"),
        ("", {"o2": "x"}, "o2"),
        (None, {}, None),
        (None, None, None),
    ],
)
def test_the_org_rule(org_id, orgs, expected):
    assert tokens.organization(org_id, orgs) == expected


@pytest.mark.parametrize(
    "token,why",
    [
        ("abc", "expected three dot-separated parts"),
        ("a.b", "expected three dot-separated parts"),
        ("a.!!!.c", "undecodable payload"),
        ("a." + _b64([]) + ".c", "the payload is not a JSON object"),
        (jwt_text({"sub": 5}), "'sub' must be a non-empty string"),
        (jwt_text({"orgs": ["o"]}), "'orgs' must be an object"),
        (jwt_text({"orgId": 3}), "'orgId' must be a non-empty string"),
        (jwt_text({"deploymentId": 3}), "'deploymentId' must be a string"),
        (jwt_text({"exp": "soon"}), "'exp' must be a number"),
    ],
)
def test_bad_tokens_are_named_with_the_canonical_prefix(token, why):
    with pytest.raises(tokens.TokenError) as caught:
        tokens.read_unverified(token)
    assert caught.value.code == "token_invalid"
    assert caught.value.message.startswith("Token validation failed: ") and why in caught.value.message


def test_check_usable_uses_the_canonical_messages():
    with pytest.raises(tokens.TokenError) as expired:
        tokens.check_usable(tokens.TokenClaims("u", "o", exp=10), now=11)
    assert (expired.value.code, expired.value.message) == ("token_expired", "Token has expired")
    with pytest.raises(tokens.TokenError) as orgless:
        tokens.check_usable(tokens.TokenClaims("u", None, exp=10), now=5)
    assert (orgless.value.code, orgless.value.message) == ("no_organization", "No organization in token")
    tokens.check_usable(tokens.TokenClaims("u", "o", exp=None))
    assert tokens.NO_TOKEN == "No authentication token found"


# ------------------------------------------------------------------------------------ deadline
@pytest.mark.parametrize(
    "call,tool,runtime,expected",
    [
        (None, None, None, 30_000),  # nothing said: the default tool timeout
        (None, 10_000, 30_000, 10_000),  # the tool's own
        (300, 10_000, 30_000, 300),  # the caller asks for less
        (60_000, 10_000, 30_000, 10_000),  # the caller cannot extend the tool's
        (None, 60_000, 30_000, 30_000),  # the runtime's maximum caps the tool
        (None, 60_000, None, 60_000),  # the platform knows no runtime maximum
    ],
)
def test_call_deadline(call, tool, runtime, expected):
    assert call_deadline_ms(call, tool, runtime) == expected


# ------------------------------------------------------------------------------------ invalid_arguments
class SchemaError:
    def __init__(self, path, message):
        self.absolute_path, self.message = path, message


def test_json_pointer():
    assert json_pointer([]) == "" and json_pointer(["a", 0, "b/c", "x~y"]) == "/a/0/b~1c/x~0y"


def test_one_shape_of_invalid_arguments():
    problems = argument_problems([SchemaError(["z"], "z is wrong"), SchemaError(["a", 1], "a is wrong")])
    assert problems == [{"path": "/a/1", "message": "a is wrong"}, {"path": "/z", "message": "z is wrong"}]
    error = invalid_arguments("echo", problems)
    assert error.kind is ToolErrorKind.INVALID_ARGUMENTS and error.details == problems
    assert error.message == "Invalid arguments for 'echo' at /a/1: a is wrong (and 1 more)"
    assert (
        invalid_arguments("echo", [{"path": "", "message": "not an object"}]).message
        == "Invalid arguments for 'echo': not an object"
    )
    assert len(argument_problems([SchemaError([str(i)], "x") for i in range(30)])) == 10


def test_with_jsonschema_errors():
    from jsonschema import Draft202012Validator

    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}, "required": ["n"]}
    problems = argument_problems(Draft202012Validator(schema).iter_errors({"s": 5}))
    # A missing required field is named by its own path (SPEC §15: each failing field's path).
    assert problems == [
        {"path": "/n", "message": "'n' is a required property"},
        {"path": "/s", "message": "5 is not of type 'string'"},
    ]


# ------------------------------------------------------------------------------------ routes
def test_route_templates():
    assert routes.archive_path("tools", 3) == "/api/bundles/tools/versions/3/archive"
    assert routes.archive_path("@acme/tools", 1) == "/api/bundles/@acme/tools/versions/1/archive"
    assert routes.tool_call_path("get weather") == "/api/tools/get%20weather/call"
    assert routes.deployment_secrets_path("dep-1") == "/api/deployments/dep-1/secrets"
