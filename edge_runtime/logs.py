"""Runtime logging: `text` for people, `json` (one object per line) for log shippers; both redact secrets.

Modules log with plain `logging.getLogger("edge_runtime.<module>")` and pass structured fields through
`extra={...}`. `configure()` installs one handler on the root logger, so records from libraries
(websockets, httpx, uvicorn) go through the same redaction: a token must never reach a log line,
whoever wrote the line and however it got there (message, arguments, extra fields, exception text,
traceback).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = ("text", "json")

REDACTED = "[REDACTED]"

# Environment variables whose values are secrets: their values are scrubbed wherever they appear.
SECRET_ENV_VARS: tuple[str, ...] = ("DEPLOYMENT_SECRET", "EDGE_CONNECTOR_TOKEN")

# Shorter values would redact ordinary words and digits all over the log; real secrets are long.
_MIN_SECRET_LENGTH = 6

# Three base64url segments, the first starting with `eyJ` (`{"`): any JWT, signed or not.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]+")
# Names whose value is a secret, in query strings / env lines (`name=value`) and in JSON (`"name": "value"`).
_SECRET_KEYS = (
    r"client_secret|clientSecret|deployment_secret|deploymentSecret|access_token|accessToken|"
    r"refresh_token|refreshToken|id_token|token|secret|password|api_key|apiKey|"
    r"DEPLOYMENT_SECRET|EDGE_CONNECTOR_TOKEN"
)
# The lookahead keeps redaction idempotent: an already redacted value is not redacted again.
_KEY_EQUALS_VALUE = re.compile(rf"(?i)\b({_SECRET_KEYS})(\s*=\s*)(?!\[REDACTED\])([^\s&\"',;}}\]]+)")
_JSON_KEY_VALUE = re.compile(rf"(?i)(\"(?:{_SECRET_KEYS})\"\s*:\s*\")((?:[^\"\\]|\\.)*)(\")")
# `scheme://user:password@host`: a proxy or platform URL with credentials in it.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@\"']+@")
_SECRET_FIELD_NAME = re.compile(rf"(?i)^(?:{_SECRET_KEYS}|authorization)$")

_extra_secrets: set[str] = set()
_extra_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Scrub this exact value from every later log line (e.g. a secret read from a file, not the env)."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _extra_secrets_lock:
            _extra_secrets.add(value)


def _known_secret_values() -> list[str]:
    values = {os.environ.get(name, "") for name in SECRET_ENV_VARS}
    with _extra_secrets_lock:
        values |= _extra_secrets
    # Longest first so a secret containing another is scrubbed whole.
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str) -> str:
    """Replace anything that looks like a token or a secret in `text` with `[REDACTED]`."""
    if not text:
        return text
    for value in _known_secret_values():
        text = text.replace(value, REDACTED)
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _KEY_EQUALS_VALUE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _JSON_KEY_VALUE.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _URL_USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    return text


def redact_structure(value: Any) -> Any:
    """A JSON-like value with every secret-named field and secret-looking string redacted (`/statusz`)."""
    return _redact_value("", value)


def _redact_value(key: str, value: Any) -> Any:
    """Redact a structured field: secret-named fields whole, strings by pattern, containers recursively."""
    if _SECRET_FIELD_NAME.match(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_redact_value("", v) for v in value]
    return redact(str(value))


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller attached with `extra=`, redacted."""
    return {
        key: _redact_value(key, value)
        for key, value in vars(record).items()
        if key not in _STANDARD_RECORD_ATTRS and not key.startswith("_")
    }


def _utc_iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _safe_message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string must not lose the line (nor crash the caller)
        return f"{record.msg!s} {record.args!r}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, then the extra fields (and exc/stack)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": redact(_safe_message(record)),
        }
        for key, value in record_fields(record).items():
            # Never let an extra field overwrite the fixed keys a log shipper indexes on.
            entry[key if key not in entry else f"field_{key}"] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """`2026-11-28T10:00:00.123Z INFO  edge_runtime.session: Connected  deployment=d-1 tools=3`."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc_iso(record.created)} {record.levelname:<5} {record.name}: {_safe_message(record)}"
        fields = record_fields(record)
        if fields:
            line += "  " + " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        # Redact the whole line last: the message and the traceback may both carry a secret.
        return redact(line)


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not any(ch.isspace() or ch in '"=' for ch in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# Marks the handler configure() installed, so calling configure() again replaces it instead of doubling lines.
_HANDLER_MARK = "_edge_runtime_handler"

# Chatty libraries: their INFO lines repeat what the runtime already logs with more context.
_QUIET_LIBRARIES: tuple[str, ...] = ("httpx", "httpcore", "websockets", "watchfiles")


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"Invalid log format {fmt!r}: use one of {', '.join(LOG_FORMATS)} (EC_LOG_FORMAT / logFormat)")


def configure(
    fmt: str = "text",
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
    quiet_libraries: Iterable[str] = _QUIET_LIBRARIES,
) -> logging.Handler:
    """Send every log record to `stream` (default stderr) in `fmt` ("text" or "json"), secrets redacted.

    Idempotent: a second call replaces the handler the first one installed. Returns the handler.
    """
    formatter = make_formatter(fmt)
    if isinstance(level, str):
        numeric = logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            raise ValueError(f"Invalid log level {level!r}: use DEBUG, INFO, WARNING or ERROR")
        level = numeric
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, _HANDLER_MARK, False):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in quiet_libraries:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
    return handler
