"""Which platform a command talks to: `--platform` > `EDGE_PLATFORM_URL` > `edge.json` `platformUrl` >
the URL saved with the token > `http://127.0.0.1:8000` (SPEC.md §4)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from edge_protocol.origins import origin_of

from .errors import CliError
from .token_file import token_file_path

DEFAULT_PLATFORM_URL = "http://127.0.0.1:8000"
ENV_PLATFORM_URL = "EDGE_PLATFORM_URL"


def resolve_platform_url(flag: str | None, project_dir: Path | str | None = None) -> str:
    for candidate in _candidates(flag, project_dir):
        if candidate and candidate.strip():
            return _normalise_url(candidate.strip())
    return DEFAULT_PLATFORM_URL


def _candidates(flag: str | None, project_dir: Path | str | None) -> Iterator[str | None]:
    """The places a platform URL may come from, first wins; each read only when the ones before name none."""
    yield flag
    yield os.environ.get(ENV_PLATFORM_URL)
    yield _platform_url_in(Path(project_dir) / "edge.json" if project_dir is not None else None)
    yield _platform_url_in(token_file_path())


def _normalise_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise CliError(
            f"Platform URL {url!r} must start with http:// or https://", "Pass e.g. --platform http://127.0.0.1:8000"
        )
    try:
        origin_of(url)
    except ValueError:
        raise CliError(f"Platform URL {url!r} has no host", "Pass e.g. --platform http://127.0.0.1:8000") from None
    return url.rstrip("/")


def _platform_url_in(path: Path | None) -> str | None:
    """The `platformUrl` of a JSON file (`edge.json`, the token file), if it names one."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("platformUrl") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
