"""Runtime settings (SPEC.md §6): flag > environment > `config.json` > default, validated once at start.

Each setting is one row of `SETTINGS`: its `config.json` key, its environment variable and its
parser. A table rather than pydantic-settings because the three sources use three spellings of each
name and every refusal must name the key the operator actually used, its value and what is allowed,
in one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CONFIG_FILE = "config.json"
AUTH_TOKEN_FILE = "auth-token.json"
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A setting with a value the runtime cannot use; the message names key, value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    install_dir: Path
    tool_rpc_url: str = "ws://127.0.0.1:8000/tool-rpc"
    auth_token_path: Path | None = None  # None = <install dir>/auth-token.json (filled in by load_settings)
    deployment_id: str | None = None
    deployment_secret: str | None = field(default=None, repr=False)  # never printed
    health_host: str = "127.0.0.1"
    health_port: int = 8080
    sync_interval_seconds: float = 600.0
    backoff_initial_seconds: float = 5.0
    backoff_max_seconds: float = 60.0
    heartbeat_seconds: float = 30.0
    tool_timeout_seconds: float = 30.0
    workers: int = 2
    reload_in_place: bool = False  # edge_runtime/reload_in_place.py; `edge-connector dev` turns it on
    max_concurrency: int = 64
    log_format: str = "text"
    disable_tray: bool = False
    disable_autostart: bool = False
    node: str | None = None

    @property
    def token_path(self) -> Path:
        return self.auth_token_path or self.install_dir / AUTH_TOKEN_FILE

    @property
    def uses_client_credentials(self) -> bool:
        return bool(self.deployment_id and self.deployment_secret)

    @property
    def platform_http_url(self) -> str:
        """The platform's HTTP base, derived from the WebSocket URL (ws→http, wss→https, path dropped)."""
        return platform_http_url(self.tool_rpc_url)


def platform_http_url(tool_rpc_url: str) -> str:
    parts = urlsplit(tool_rpc_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    path = parts.path
    if path.endswith("/tool-rpc"):
        path = path[: -len("/tool-rpc")]
    return urlunsplit((scheme, parts.netloc, path.rstrip("/"), "", ""))


# ------------------------------------------------------------------------------------ parsers
# Each parser returns the typed value or raises ValueError with what is allowed.
def _positive_float(value: Any) -> float:
    number = _number(value, float)
    if number <= 0:
        raise ValueError("a number of seconds greater than 0")
    return number


def _positive_int(value: Any) -> int:
    number = _number(value, int)
    if number < 1:
        raise ValueError("a whole number of at least 1")
    return number


def _port(value: Any) -> int:
    number = _number(value, int, allowed="a port number from 0 to 65535 (0 picks a free port)")
    if not 0 <= number <= 65535:
        raise ValueError("a port number from 0 to 65535 (0 picks a free port)")
    return number


def _number(value: Any, kind: type, allowed: str | None = None) -> Any:
    allowed = allowed or ("a whole number" if kind is int else "a number")
    if isinstance(value, bool):
        raise ValueError(allowed)
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(allowed) from None


def _ws_url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError("a ws:// or wss:// URL such as ws://127.0.0.1:8000/tool-rpc")
    return text


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value.strip()


def _path(value: Any) -> Path:
    return Path(_text(value)).expanduser()


def _log_format(value: Any) -> str:
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text not in LOG_FORMATS:
        raise ValueError("one of " + ", ".join(LOG_FORMATS))
    return text


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("1 or 0")


@dataclass(frozen=True)
class SettingSpec:
    attr: str  # Settings field, also the flag name with `_` → `-`
    config_key: str | None  # camelCase key in config.json; None = not settable there (secrets)
    env: str | None
    parse: Callable[[Any], Any]


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("tool_rpc_url", "toolRpcUrl", "TOOL_RPC_URL", _ws_url),
    SettingSpec("auth_token_path", "authTokenPath", "AUTH_TOKEN_PATH", _path),
    SettingSpec("deployment_id", "deploymentId", "DEPLOYMENT_ID", _text),
    # The secret is environment-only: a config file or a command line would leak it to other users.
    SettingSpec("deployment_secret", None, "DEPLOYMENT_SECRET", _text),
    SettingSpec("health_host", "healthHost", "HEALTH_HOST", _text),
    SettingSpec("health_port", "healthPort", "HEALTH_PORT", _port),
    SettingSpec("sync_interval_seconds", "syncIntervalSeconds", "EC_SYNC_INTERVAL", _positive_float),
    SettingSpec("backoff_initial_seconds", "backoffInitialSeconds", "EC_BACKOFF_INITIAL", _positive_float),
    SettingSpec("backoff_max_seconds", "backoffMaxSeconds", "EC_BACKOFF_MAX", _positive_float),
    SettingSpec("heartbeat_seconds", "heartbeatSeconds", "EC_HEARTBEAT", _positive_float),
    SettingSpec("tool_timeout_seconds", "toolTimeoutSeconds", "EC_TOOL_TIMEOUT", _positive_float),
    SettingSpec("workers", "workers", "EC_WORKERS", _positive_int),
    SettingSpec("reload_in_place", "reloadInPlace", "EC_RELOAD_IN_PLACE", _flag),
    SettingSpec("max_concurrency", "maxConcurrency", "EC_MAX_CONCURRENCY", _positive_int),
    SettingSpec("log_format", "logFormat", "EC_LOG_FORMAT", _log_format),
    SettingSpec("disable_tray", None, "EC_DISABLE_TRAY", _flag),
    SettingSpec("disable_autostart", None, "EC_DISABLE_AUTOSTART", _flag),
    SettingSpec("node", None, "EC_NODE", _text),
)

_CONFIG_KEYS = {spec.config_key for spec in SETTINGS if spec.config_key}


def read_config_file(install_dir: Path) -> dict[str, Any]:
    """`config.json` of the installation directory, or {} when there is none."""
    path = install_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"Cannot read {path}: {exc.strerror}; check its permissions") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): fix or delete it"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f'{path} must hold a JSON object of settings such as {{"healthPort": 8080}}')
    unknown = sorted(set(data) - _CONFIG_KEYS)
    if unknown:
        raise SettingsError(f"{path}: unknown setting {unknown[0]!r}; allowed keys: {', '.join(sorted(_CONFIG_KEYS))}")
    return data


def load_settings(
    install_dir: Path | str | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: `flags` (Settings field names, None = not given) > `env` > config.json > default."""
    install_dir = Path(install_dir if install_dir is not None else os.getcwd()).expanduser().resolve()
    if install_dir.exists() and not install_dir.is_dir():
        raise SettingsError(f"Installation directory {install_dir} is not a directory; pass --dir DIR")
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    config = read_config_file(install_dir)
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        if spec.attr in flags:
            source, raw = f"--{spec.attr.replace('_', '-')}", flags[spec.attr]
        elif spec.env and env.get(spec.env, "") != "":
            source, raw = spec.env, env[spec.env]
        elif spec.config_key and spec.config_key in config:
            source, raw = f"{CONFIG_FILE} {spec.config_key}", config[spec.config_key]
        else:
            continue
        try:
            values[spec.attr] = spec.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if spec.attr == "deployment_secret" else repr(raw)
            raise SettingsError(f"Invalid setting {source}: {shown}; allowed: {exc}") from None
    settings = Settings(install_dir=install_dir, **values)
    if settings.auth_token_path is not None and not settings.auth_token_path.is_absolute():
        # A relative token path means relative to the installation directory, not wherever `start` ran.
        settings = _replace(settings, auth_token_path=install_dir / settings.auth_token_path)
    if settings.backoff_max_seconds < settings.backoff_initial_seconds:
        raise SettingsError(
            f"Invalid setting backoffMaxSeconds (EC_BACKOFF_MAX): {settings.backoff_max_seconds:g}; "
            f"allowed: a number not below backoffInitialSeconds ({settings.backoff_initial_seconds:g})"
        )
    if bool(settings.deployment_secret) and not settings.deployment_id:
        raise SettingsError("DEPLOYMENT_SECRET is set without DEPLOYMENT_ID; set both or neither")
    return settings


def _replace(settings: Settings, **changes: Any) -> Settings:
    data = {f.name: getattr(settings, f.name) for f in fields(settings)}
    data.update(changes)
    return Settings(**data)


def describe(settings: Settings) -> dict[str, Any]:
    """Settings as config.json-style keys for `/statusz` and logs; the secret is reported only as set/unset."""
    out: dict[str, Any] = {"installDir": str(settings.install_dir)}
    for spec in SETTINGS:
        value = getattr(settings, spec.attr)
        key = spec.config_key or spec.env or spec.attr
        if spec.attr == "deployment_secret":
            out["deploymentSecretSet"] = value is not None
            continue
        if spec.attr == "auth_token_path":
            value = settings.token_path
        out[key] = str(value) if isinstance(value, Path) else value
    return out
