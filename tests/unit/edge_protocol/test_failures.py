"""The failure-kind mappers on plain numbers: handshake statuses, close codes, retryable statuses."""

from __future__ import annotations

import pytest

from edge_protocol import close_codes
from edge_protocol.failures import (
    FailureKind,
    failure_kind_of_close,
    failure_kind_of_status,
    is_platform_restart,
    is_retryable_status,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, FailureKind.UNAUTHORIZED),
        (403, FailureKind.UNAUTHORIZED),
        (409, FailureKind.DUPLICATE),
        (503, FailureKind.UNAVAILABLE),
        (500, FailureKind.UNAVAILABLE),
        (429, FailureKind.UNAVAILABLE),
        (404, FailureKind.UNAVAILABLE),
    ],
)
def test_handshake_status_kinds(status, kind):
    assert failure_kind_of_status(status) is kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (close_codes.CLOSE_TOKEN_EXPIRED, FailureKind.UNAUTHORIZED),
        (close_codes.CLOSE_REPLACED, FailureKind.DUPLICATE),
        (close_codes.CLOSE_PROTOCOL_ERROR, FailureKind.PROTOCOL),
        (close_codes.CLOSE_PLATFORM_RESTART, FailureKind.LOST),
        (close_codes.CLOSE_NORMAL, FailureKind.LOST),
        (1006, FailureKind.LOST),
        (1011, FailureKind.LOST),
        (None, FailureKind.LOST),
    ],
)
def test_close_code_kinds(code, kind):
    assert failure_kind_of_close(code) is kind


def test_only_1012_is_a_platform_restart():
    assert is_platform_restart(close_codes.CLOSE_PLATFORM_RESTART)
    assert not is_platform_restart(close_codes.CLOSE_NORMAL) and not is_platform_restart(None)


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (200, False),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (413, False),
        (422, False),
    ],
)
def test_retryable_statuses(status, retry):
    assert is_retryable_status(status) is retry
