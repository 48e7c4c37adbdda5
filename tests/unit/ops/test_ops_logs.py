"""Log formats and redaction: feed tokens and secrets in every way a log line can carry them, grep the output."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from edge_runtime import logs

# A real-looking HS256 JWT (header {"alg":"HS256","typ":"JWT"}); its parts must never survive.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiJkZXBsb3ltZW50OmQtMSIsIm9yZ0lkIjoib3JnLTEiLCJleHAiOjE5MDAwMDAwMDB9"
    ".kFx0zQ3vX1b2N9c8Jm5LwYtR7uHs4Ae6GdPq0iKlM1o"
)
JWT_SIGNATURE = JWT.rsplit(".", 1)[1]
DEPLOYMENT_SECRET = "dsec_9f8e7d6c5b4a3f2e1d0c"
CLI_TOKEN = "cli-token-value-123456"
OPAQUE_BEARER = "opaqueBearerValue_42"
CLIENT_SECRET = "clientsecretvalue777"


@pytest.fixture
def secrets_env(monkeypatch):
    monkeypatch.setenv("DEPLOYMENT_SECRET", DEPLOYMENT_SECRET)
    monkeypatch.setenv("EDGE_CONNECTOR_TOKEN", CLI_TOKEN)


@pytest.fixture
def capture():
    """Configure logging into a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffer = io.StringIO()

    def _configure(fmt: str, level: int | str = logging.DEBUG) -> io.StringIO:
        logs.configure(fmt, level=level, stream=buffer)
        return buffer

    yield _configure
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def _emit_every_kind_of_leak(logger: logging.Logger) -> None:
    logger.info("saved token %s for %s", JWT, "org-1")
    logger.info(f"handshake header Authorization: Bearer {OPAQUE_BEARER}")
    logger.info("posting grant_type=client_credentials&client_id=d-1&client_secret=" + CLIENT_SECRET)
    logger.info("env says %s and %s", DEPLOYMENT_SECRET, CLI_TOKEN)
    logger.info('response body {"access_token": "%s", "token_type": "Bearer"}', OPAQUE_BEARER)
    logger.warning(
        "connect failed",
        extra={
            "url": f"wss://p.example/tool-rpc?token={JWT}",
            "headers": {"Authorization": f"Bearer {OPAQUE_BEARER}"},
            "token": "short-but-secret",
            "attempt": 3,
            "secrets": [DEPLOYMENT_SECRET],
        },
    )
    try:
        raise RuntimeError(f"auth refused for client_secret={CLIENT_SECRET} token {JWT} secret {DEPLOYMENT_SECRET}")
    except RuntimeError:
        logger.exception("auth failed")
    try:
        _fail_with_secret_in_local_frame()
    except ValueError:
        logger.error("nested failure", exc_info=True, stack_info=True)


def _fail_with_secret_in_local_frame() -> None:
    header = f"Bearer {OPAQUE_BEARER}"
    raise ValueError(f"bad header {header}")


LEAKS = [
    JWT,
    JWT_SIGNATURE,
    JWT.split(".")[1],
    DEPLOYMENT_SECRET,
    CLI_TOKEN,
    OPAQUE_BEARER,
    CLIENT_SECRET,
    "short-but-secret",
]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_token_or_secret_survives_in_any_part_of_a_record(fmt, secrets_env, capture):
    buffer = capture(fmt)
    _emit_every_kind_of_leak(logging.getLogger("edge_runtime.test"))
    output = buffer.getvalue()
    for leak in LEAKS:
        assert leak not in output, f"{leak!r} leaked into {fmt} logs"
    # Everything else is still there, so redaction did not just drop lines.
    assert output.count(logs.REDACTED) >= 10
    assert "RuntimeError: auth refused" in output and "ValueError: bad header" in output
    assert "org-1" in output and "client_id=d-1" in output and "token_type" in output


def test_json_is_one_object_per_line_with_time_level_logger_event_and_fields(capture):
    buffer = capture("json")
    log = logging.getLogger("edge_runtime.session")
    log.info("Connected to platform", extra={"deploymentId": "d-1", "tools": 3, "bundle": {"name": "b", "version": 2}})
    try:
        raise OSError("ECONNREFUSED")
    except OSError:
        log.error("Disconnected from platform server", exc_info=True)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert first["level"] == "info" and first["logger"] == "edge_runtime.session"
    assert first["event"] == "Connected to platform"
    assert first["deploymentId"] == "d-1" and first["tools"] == 3 and first["bundle"] == {"name": "b", "version": 2}
    assert second["level"] == "error" and "OSError: ECONNREFUSED" in second["exc"]
    assert "Traceback" in second["exc"]


def test_extra_fields_cannot_overwrite_fixed_keys(capture):
    buffer = capture("json")
    logging.getLogger("edge_runtime.x").info("real event", extra={"event": "fake", "level": "fake"})
    entry = json.loads(buffer.getvalue())
    assert entry["event"] == "real event" and entry["level"] == "info"
    assert entry["field_event"] == "fake" and entry["field_level"] == "fake"


def test_text_format_is_readable_with_time_level_logger_message_and_fields(capture):
    buffer = capture("text")
    logging.getLogger("edge_runtime.sync").warning(
        "No bundle assigned", extra={"fix": "edge-connector bundle set-default NAME", "attempt": 2}
    )
    line = buffer.getvalue().rstrip("\n")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING edge_runtime\.sync: No bundle assigned"
        r'  fix="edge-connector bundle set-default NAME" attempt=2',
        line,
    ), line


def test_level_filters_and_configure_is_idempotent(capture):
    buffer = capture("text", level="WARNING")
    logs.configure("text", level="WARNING", stream=buffer)  # again: must not double the lines
    log = logging.getLogger("edge_runtime.y")
    log.info("hidden")
    log.warning("shown")
    assert buffer.getvalue().count("shown") == 1
    assert "hidden" not in buffer.getvalue()


def test_library_loggers_go_through_the_same_redaction(secrets_env, capture):
    buffer = capture("json")
    logging.getLogger("websockets.client").warning("> Authorization: Bearer %s", JWT)
    output = buffer.getvalue()
    assert JWT_SIGNATURE not in output and "Bearer [REDACTED]" in output


def test_registered_secret_is_scrubbed(capture):
    buffer = capture("text")
    logs.register_secret("file-held-secret-xyz")
    logging.getLogger("edge_runtime.auth").info("read file-held-secret-xyz from disk")
    assert "file-held-secret-xyz" not in buffer.getvalue()


def test_short_env_values_are_not_scrubbed_everywhere(monkeypatch):
    # A one-character "secret" would otherwise turn every "1" in the logs into [REDACTED].
    monkeypatch.setenv("DEPLOYMENT_SECRET", "1")
    assert logs.redact("attempt 1 of 10") == "attempt 1 of 10"


def test_redaction_is_idempotent():
    once = logs.redact(f"url?token={JWT}&x=1 client_secret={CLIENT_SECRET} Bearer {OPAQUE_BEARER}")
    assert once == "url?token=[REDACTED]&x=1 client_secret=[REDACTED] Bearer [REDACTED]"
    assert logs.redact(once) == once


def test_ordinary_messages_are_left_alone():
    for message in (
        "Token has expired",
        "No authentication token found in /x/auth-token.json",
        "Token validation failed: Signature verification failed",
        "Deployment already connected",
    ):
        assert logs.redact(message) == message


def test_unknown_format_is_refused_naming_the_allowed_values():
    with pytest.raises(ValueError, match=r"'xml'.*text, json"):
        logs.configure("xml")


def test_a_real_runtime_in_json_mode_writes_only_json_lines_and_no_secret(platform, tmp_path):
    """`edge-connector start` with EC_LOG_FORMAT=json and client credentials: every line parses, none
    carries the deployment secret or a token (the exchange, the handshake and a forced reconnect log a lot)."""
    import httpx

    from tests.support.runtime import RuntimeProcess

    user = platform.user_token()
    created = httpx.post(
        f"{platform.url}/api/deployments",
        json={"name": "json-logs"},
        headers={"Authorization": f"Bearer {user}"},
        timeout=10,
    ).json()
    runtime = RuntimeProcess(
        tmp_path / "install",
        env={
            "TOOL_RPC_URL": platform.ws_url,
            "EC_LOG_FORMAT": "json",
            "DEPLOYMENT_ID": created["deploymentId"],
            "DEPLOYMENT_SECRET": created["secret"],
        },
    ).start()
    try:
        runtime.wait_healthy()
        # Drop the link so the runtime logs a disconnect and a reconnect too.
        assert (
            httpx.post(
                f"{platform.url}/api/sim/disconnect",
                json={"deploymentId": created["deploymentId"]},
                headers={"Authorization": f"Bearer {user}"},
                timeout=10,
            ).status_code
            == 200
        )
        runtime.wait_for_log("Disconnected from platform server")
        runtime.wait_for_log("Connected to platform server", count=2)
    finally:
        runtime.stop()
    lines = [line for line in runtime.text.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # fails on any line that is not one JSON object
    assert {"time", "level", "logger", "event"} <= set(entries[0])
    assert any(e["event"].startswith("Disconnected from platform server") for e in entries)
    assert created["secret"] not in runtime.text
    assert not re.search(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.", runtime.text), "a JWT reached the log"
