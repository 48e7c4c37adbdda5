"""The CLI's token: `EDGE_CONNECTOR_TOKEN` > the file at `AUTH_TOKEN_PATH` > `<user config dir>/auth-token.json`,
saved with mode 0600. Tokens never appear in an error message."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_protocol import tokens
from edge_runtime.private_files import write_private_json

from .errors import CliError

TOKEN_FILE_NAME = "auth-token.json"
APP_NAME = "edge-connector"
ENV_TOKEN = "EDGE_CONNECTOR_TOKEN"
ENV_TOKEN_PATH = "AUTH_TOKEN_PATH"


def token_file_path() -> Path:
    """Where `auth` saves the token: `AUTH_TOKEN_PATH`, else the user config dir."""
    explicit = os.environ.get(ENV_TOKEN_PATH)
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs  # here: a command given EDGE_CONNECTOR_TOKEN never needs it (start-up)

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / TOKEN_FILE_NAME


@dataclass(frozen=True)
class StoredToken:
    token: str
    #: where it came from, for messages: "EDGE_CONNECTOR_TOKEN" or the file path
    source: str
    platform_url: str | None = None
    saved_at: str | None = None


def find_token() -> StoredToken | None:
    env_token = os.environ.get(ENV_TOKEN, "").strip()
    if env_token:
        return StoredToken(env_token, ENV_TOKEN)
    path = token_file_path()
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(
            f"The token file {path} cannot be read ({exc})", "Delete it and run edge-connector auth --browser again"
        ) from None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip():
        return None
    return StoredToken(token.strip(), str(path), data.get("platformUrl"), data.get("savedAt"))


def where_tokens_are_looked_for() -> str:
    path = token_file_path()
    via = f"{ENV_TOKEN_PATH}={path}" if os.environ.get(ENV_TOKEN_PATH) else str(path)
    return f"looked in ${ENV_TOKEN} (not set) and {via} (no token there)"


def load_token() -> StoredToken:
    """The CLI's token, or the `No authentication token found` failure saying where it looked."""
    found = find_token()
    if found is None:
        raise CliError(
            f"{tokens.NO_TOKEN}: {where_tokens_are_looked_for()}",
            "Run edge-connector auth --browser, or edge-connector auth --token <token>; in CI set EDGE_CONNECTOR_TOKEN",
        )
    return found


def save_token(token: str, url: str | None) -> Path:
    """Write the token file atomically with mode 0600 (never readable by others, even for an instant)."""
    data = {"token": token, "platformUrl": url, "savedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return write_private_json(token_file_path(), data)


def delete_token_file() -> Path | None:
    path = token_file_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
