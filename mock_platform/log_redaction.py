"""The platform log's redactor (SPEC.md §11): no stored secret value ever appears in a log line.

Values are registered when stored (and, at start, every value already stored); a filter on the
log handlers replaces them in the formatted message and in exception text, whoever logged them.
"""

from __future__ import annotations

import logging
import threading

REDACTED = "[REDACTED]"
#: Shorter values would blank out ordinary words and numbers all over the log (same rule as the runtime's).
MIN_REDACTED_LENGTH = 6
#: Loggers that have handlers of their own (uvicorn's), besides the root logger.
_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")

_values: set[str] = set()
_lock = threading.Lock()


def register_value(value: str) -> None:
    if len(value) >= MIN_REDACTED_LENGTH:
        with _lock:
            _values.add(value)


def redact(text: str) -> str:
    with _lock:
        values = sorted(_values, key=len, reverse=True)  # a value containing another goes whole
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class SecretValueFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _values:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = SecretValueFilter()


def install() -> None:
    """Put the filter on every handler of the root and uvicorn loggers (idempotent)."""
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
