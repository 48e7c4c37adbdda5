"""A refused handshake, read as plain values: the failure kind and the words an operator acts on."""

from __future__ import annotations

import orjson

from edge_runtime.connect_failures import describe_connect_error, handshake_failure, is_expired_token
from edge_runtime.connection import FailureKind
from edge_runtime.platform_errors import describe_refusal, error_body


def body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def test_an_expired_token_is_named_and_marks_the_token_stale() -> None:
    expired = body("token_expired", "Token has expired")
    failure = handshake_failure(401, expired, None, None)
    assert failure.kind is FailureKind.UNAUTHORIZED
    assert "expired" in failure.message.lower()
    assert is_expired_token(401, expired)
    assert not is_expired_token(401, body("token_invalid", "bad signature"))


def test_a_duplicate_deployment_names_it_and_the_fix() -> None:
    failure = handshake_failure(409, body("deployment_already_connected", "x"), None, "dep-1")
    assert "dep-1" in failure.message and "DEPLOYMENT_ID" in failure.message


def test_a_503_carries_its_retry_after_and_other_statuses_do_not() -> None:
    assert handshake_failure(503, None, "7", None).retry_after == 7.0
    assert handshake_failure(500, None, "7", None).retry_after is None


def test_a_body_that_is_not_an_error_reads_as_nothing() -> None:
    assert error_body(b"<html>") == (None, None)
    assert error_body(None) == (None, None)
    assert error_body(body("c", "m")) == ("c", "m")
    assert describe_refusal(404, body("not_found", "No such bundle")) == "HTTP 404 not_found: No such bundle"
    assert describe_refusal(502, b"Bad Gateway") == "HTTP 502"


def test_a_refused_connection_says_what_to_check() -> None:
    assert "is the platform server running" in describe_connect_error(ConnectionRefusedError(), "ws://x")
