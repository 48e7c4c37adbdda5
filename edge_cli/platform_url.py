"""Which platform a command talks to: `--platform` > `EDGE_PLATFORM_URL` > `edge.json` `platformUrl` >
the URL saved with the token > `http://127.0.0.1:8000` (SPEC.md §4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_protocol.origins import origin_of

from .errors import CliError
from .token_file import token_file_path

DEFAULT_PLATFORM_URL = "http://127.0.0.1:8000"
ENV_PLATFORM_URL = "EDGE_PLATFORM_URL"


def resolve_platform_url(flag: str | None, project_dir: Path | str | None = None) -> str:
    edge_json = Path(project_dir) / "edge.json" if project_dir is not None else None
    for candidate in (
        flag,
        os.environ.get(ENV_PLATFORM_URL),
        _platform_url_in(edge_json),
        _platform_url_in(token_file_path()),
    ):
        if candidate and candidate.strip():
            return _normalise_url(candidate.strip())
    return DEFAULT_PLATFORM_URL


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
