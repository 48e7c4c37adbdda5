"""Writing a file that holds a secret: mode 0600 from its first byte, never through a planted link.

`tempfile.mkstemp` creates the temporary file with a random name, `O_EXCL` and mode 0600, so a
symlink or file someone placed at a predictable name (`auth-token.tmp`, `.env.<pid>.tmp`) is never
followed or truncated; `os.replace` then swaps it in atomically (it replaces a link, never writes
through it).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private_file(path: Path, text: str, mode: int = PRIVATE_MODE) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_private_json(path: Path, data: object) -> Path:
    """`data` as indented JSON through `write_private_file`; returns the path."""
    write_private_file(path, json.dumps(data, indent=2) + "\n")
    return Path(path)
