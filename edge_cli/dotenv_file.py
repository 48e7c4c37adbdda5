"""Dotenv files of tool secrets: `.dev.vars` in `dev` and `mcp DIR`, and `secret bulk FILE` (SPEC.md §11).

python-dotenv reads the format (quotes, `export`, comments, multi-line values); this module adds the
checks a secret file needs: every name a valid secret name, every line a `NAME=value`.
"""

from __future__ import annotations

from pathlib import Path

from edge_protocol.sandbox import SECRET_NAME_RE

DEV_VARS = ".dev.vars"


class DotenvError(ValueError):
    """The file cannot be used; the message names the file and the name at fault."""


def read_secrets_file(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DotenvError(f"{path} is not UTF-8 text") from None
    import io

    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    result: dict[str, str] = {}
    for name, value in values.items():
        if not SECRET_NAME_RE.match(name):
            raise DotenvError(
                f"{path}: {name!r} is not a valid secret name (A-Z, 0-9 and _, starting with a "
                "letter or _, at most 64 characters)"
            )
        if value is None:
            raise DotenvError(f"{path}: {name} has no value; write {name}=value")
        result[name] = value
    return result
