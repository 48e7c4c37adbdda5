"""Is a tool's schema valid JSON Schema (draft 2020-12)? Read directly when it can be, else jsonschema.

jsonschema is the largest import of a build (~130 ms of CPU here, more than esbuild bundling a small
tool). Most tools' schemas use only the common keywords, whose forms `edge_protocol.argument_check`
verifies without it (the same reading that answers "valid" for a call's arguments). For any other
schema jsonschema decides, and since a project's schemas rarely change between builds, one found
valid leaves an empty marker file named by the SHA-256 of its canonical JSON in the user cache: a
rebuild with the same schemas never imports jsonschema. Only "valid" is remembered: a problem is
always found afresh, with jsonschema's own message. A marker that cannot be written (read-only cache)
only costs the next build the check again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from edge_protocol.argument_check import fast_check

from .esbuild import cache_root

#: Names the verdict: another draft, or another meaning of "valid", gets another folder.
VERDICTS_DIR = "valid-schemas-2020-12"


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Where and why `schema` is not valid JSON Schema (draft 2020-12), or None."""
    if fast_check(schema) is not None:
        return None  # written only with keywords whose forms `fast_check` verifies: valid, no import needed
    return _problem(json.dumps(schema, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=512)
def _problem(canonical: str) -> str | None:
    """Cached in memory too: a dev session checks the same schemas on every save."""
    marker = _verdicts_dir() / hashlib.sha256(canonical.encode()).hexdigest()
    if marker.is_file():
        return None
    problem = _check(canonical)
    if problem is None:
        _remember(marker)
    return problem


def _check(canonical: str) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(json.loads(canonical))
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "(root)"
        return f"{where}: {exc.message}"
    return None


def _verdicts_dir() -> Path:
    return cache_root() / VERDICTS_DIR


def _remember(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        pass
