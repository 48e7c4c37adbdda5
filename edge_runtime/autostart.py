"""Start the runtime at login: a systemd user unit (Linux), a launchd agent (macOS).

Rendering is a pure function of the target OS and a few paths (`render_entry`), so every OS's file is
tested on any OS. Secrets never go into those files or on their command lines: each entry points at
the installation directory's 0600 environment file (see `envfile.py`).
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .envfile import ENV_FILE_MODE, ENV_FILE_NAME, read_env_file, write_env_file

OsName = Literal["linux", "darwin"]

UNIT_NAME = "edge-connector.service"
LAUNCHD_LABEL = "com.edge-connector.runtime"
LOG_FILE_NAME = "edge-connector.log"

# SIGTERM drains for up to 10 s (SPEC §8); the service manager waits this long before SIGKILL.
STOP_TIMEOUT_SECONDS = 20
RESTART_DELAY_SECONDS = 5

# Environment the autostarted runtime needs, captured from the shell that runs `autostart enable`
# (a login session started by systemd/launchd has none of it).
CAPTURED_ENV_VARS: tuple[str, ...] = (
    "TOOL_RPC_URL",
    "AUTH_TOKEN_PATH",
    "DEPLOYMENT_ID",
    "DEPLOYMENT_SECRET",
    "HEALTH_HOST",
    "HEALTH_PORT",
    "EC_SYNC_INTERVAL",
    "EC_BACKOFF_INITIAL",
    "EC_BACKOFF_MAX",
    "EC_HEARTBEAT",
    "EC_TOOL_TIMEOUT",
    "EC_WORKERS",
    "EC_MAX_CONCURRENCY",
    "EC_LOG_FORMAT",
    "EC_DISABLE_TRAY",
    "EC_NODE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


class AutostartError(RuntimeError):
    """Autostart cannot be changed; `hint` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def current_os() -> OsName:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "darwin"
    raise AutostartError(
        f"Autostart is not supported on {sys.platform} (Linux and macOS only)",
        "Run `edge-connector start` from your own service manager",
    )


def check_allowed(environ: Mapping[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    if env.get("EC_DISABLE_AUTOSTART", "").strip().lower() in ("1", "true", "yes", "on"):
        raise AutostartError(
            "OS autostart is disabled (EC_DISABLE_AUTOSTART=1)",
            "In containers let the orchestrator restart the runtime; elsewhere unset EC_DISABLE_AUTOSTART",
        )


@dataclass(frozen=True)
class AutostartEntry:
    """One OS's autostart file: where it goes, what it holds, and how to activate or deactivate it."""

    os_name: OsName
    path: Path
    content: str
    activate: list[list[str]] = field(default_factory=list)
    deactivate: list[list[str]] = field(default_factory=list)


def runtime_command(python: str, install_dir: Path) -> list[str]:
    # `python -m edge_cli` rather than the `edge-connector` script: the interpreter path is known and
    # exact (the venv's), while a script on PATH may be another installation.
    return [python, "-m", "edge_cli", "start", "--dir", str(install_dir)]


def entry_path(os_name: OsName, home: Path, environ: Mapping[str, str]) -> Path:
    if os_name == "linux":
        config = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
        return Path(config) / "systemd" / "user" / UNIT_NAME
    return home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def _systemd_quote(argument: str) -> str:
    # `%` starts a specifier in unit files; quotes and backslashes need escaping inside "…".
    escaped = argument.replace("%", "%%")
    if any(ch in escaped for ch in " \t\"\\'") or not escaped:
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def _systemd_path(path: Path) -> str:
    return str(path).replace("%", "%%")


def render_systemd_unit(python: str, install_dir: Path) -> str:
    command = " ".join(_systemd_quote(arg) for arg in runtime_command(python, install_dir))
    return f"""# Written by `edge-connector autostart enable`; remove with `edge-connector autostart disable`.
# Secrets are not here: they are read from the mode-0600 EnvironmentFile in the installation directory.
[Unit]
Description=edge-connector runtime ({_systemd_path(install_dir)})

[Service]
Type=simple
WorkingDirectory={_systemd_path(install_dir)}
EnvironmentFile={_systemd_path(install_dir / ENV_FILE_NAME)}
ExecStart={command}
Restart=on-failure
RestartSec={RESTART_DELAY_SECONDS}
# SIGTERM to the runtime only: it drains calls in flight (up to 10 s) and stops its Node.js workers itself;
# signalling the whole group at once would kill the workers under calls still being finished.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={STOP_TIMEOUT_SECONDS}

[Install]
WantedBy=default.target
"""


def render_launchd_plist(python: str, install_dir: Path) -> str:
    env_file = str(install_dir / ENV_FILE_NAME)
    log_file = str(install_dir / LOG_FILE_NAME)
    plist = {
        "Label": LAUNCHD_LABEL,
        # launchd cannot read an environment file: load it through envfile, then exec the runtime.
        "ProgramArguments": [
            python,
            "-m",
            "edge_runtime.envfile",
            env_file,
            "--",
            *runtime_command(python, install_dir),
        ],
        "WorkingDirectory": str(install_dir),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart on failure, not after a clean stop
        "ThrottleInterval": RESTART_DELAY_SECONDS,
        "ExitTimeOut": STOP_TIMEOUT_SECONDS,
        "ProcessType": "Background",
        "StandardOutPath": log_file,
        "StandardErrorPath": log_file,
    }
    return plistlib.dumps(plist, sort_keys=False).decode("utf-8")


def render_entry(
    os_name: OsName, install_dir: Path, *, python: str, home: Path, environ: Mapping[str, str] | None = None
) -> AutostartEntry:
    """The autostart file for `os_name`, for the runtime of `install_dir` run by `python`."""
    env = {} if environ is None else environ
    path = entry_path(os_name, home, env)
    if os_name == "linux":
        return AutostartEntry(
            os_name,
            path,
            render_systemd_unit(python, install_dir),
            activate=[["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", UNIT_NAME]],
            deactivate=[
                ["systemctl", "--user", "disable", "--now", UNIT_NAME],
                ["systemctl", "--user", "daemon-reload"],
            ],
        )
    return AutostartEntry(
        os_name,
        path,
        render_launchd_plist(python, install_dir),
        activate=[["launchctl", "load", "-w", str(path)]],
        deactivate=[["launchctl", "unload", "-w", str(path)]],
    )


@dataclass
class AutostartResult:
    entry: AutostartEntry
    env_file: Path
    ran: list[str] = field(default_factory=list)  # service-manager commands run successfully
    to_run: list[str] = field(default_factory=list)  # commands the user should run (tool missing or failed)


def _run_or_defer(commands: list[list[str]], result: AutostartResult) -> None:
    for command in commands:
        printable = " ".join(command)
        if shutil.which(command[0]) is None:
            result.to_run.append(printable)
            continue
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            result.to_run.append(printable)
            continue
        (result.ran if completed.returncode == 0 else result.to_run).append(printable)


def _capture_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[name] for name in CAPTURED_ENV_VARS if environ.get(name)}


def enable(
    install_dir: Path,
    *,
    os_name: OsName | None = None,
    python: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    run_commands: bool = True,
) -> AutostartResult:
    """Write the env file (0600) and the OS entry for `install_dir`; activate it if the tool is there."""
    env = os.environ if environ is None else environ
    check_allowed(env)
    install_dir = install_dir.expanduser().resolve()
    if not install_dir.is_dir():
        raise AutostartError(f"Installation directory {install_dir} does not exist", "Create it or pass --dir DIR")
    entry = render_entry(
        os_name or current_os(),
        install_dir,
        python=python or sys.executable,
        home=home or Path.home(),
        environ=env,
    )
    env_file = install_dir / ENV_FILE_NAME
    # Keep what the file already holds (it may have been edited), overlay what this shell has now.
    write_env_file(env_file, {**read_env_file(env_file), **_capture_environment(env)})
    entry.path.parent.mkdir(parents=True, exist_ok=True)
    entry.path.write_text(entry.content, encoding="utf-8", newline="")
    result = AutostartResult(entry, env_file)
    if run_commands:
        _run_or_defer(entry.activate, result)
    else:
        result.to_run.extend(" ".join(c) for c in entry.activate)
    return result


def disable(
    *,
    os_name: OsName | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    run_commands: bool = True,
) -> AutostartResult | None:
    """Deactivate and remove the OS entry; None when there was none. The env file is left in place."""
    env = os.environ if environ is None else environ
    check_allowed(env)
    os_name = os_name or current_os()
    path = entry_path(os_name, home or Path.home(), env)
    if not path.exists():
        return None
    entry = render_entry(os_name, Path("."), python=sys.executable, home=home or Path.home(), environ=env)
    result = AutostartResult(entry, Path())
    if run_commands:
        _run_or_defer(entry.deactivate, result)
    else:
        result.to_run.extend(" ".join(c) for c in entry.deactivate)
    path.unlink()
    return result


@dataclass(frozen=True)
class AutostartStatus:
    os_name: OsName
    path: Path
    enabled: bool
    install_dir: str | None  # the directory the entry starts, read back from the file
    env_file: Path | None
    env_file_private: bool | None  # mode 0600 (None when there is no file)
    disabled_by_env: bool


def _installed_dir(os_name: OsName, content: str) -> str | None:
    """The installation directory an entry starts, read back from its working directory."""
    if os_name == "darwin":
        try:
            return plistlib.loads(content.encode("utf-8")).get("WorkingDirectory")
        except Exception:  # a hand-edited, broken plist: report it as enabled for an unknown dir
            return None
    for line in content.splitlines():
        if line.startswith("WorkingDirectory="):
            return line[len("WorkingDirectory=") :].strip().replace("%%", "%")
    return None


def status(
    install_dir: Path | None = None,
    *,
    os_name: OsName | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AutostartStatus:
    env = os.environ if environ is None else environ
    os_name = os_name or current_os()
    path = entry_path(os_name, home or Path.home(), env)
    content = path.read_text(encoding="utf-8") if path.exists() else ""
    started_dir = _installed_dir(os_name, content) if content else None
    directory = Path(started_dir) if started_dir else install_dir
    env_file = directory / ENV_FILE_NAME if directory else None
    private: bool | None = None
    if env_file is not None and env_file.exists():
        private = (env_file.stat().st_mode & 0o777) == ENV_FILE_MODE
    return AutostartStatus(
        os_name=os_name,
        path=path,
        enabled=bool(content),
        install_dir=started_dir,
        env_file=env_file if env_file is not None and env_file.exists() else None,
        env_file_private=private,
        disabled_by_env=env.get("EC_DISABLE_AUTOSTART", "").strip().lower() in ("1", "true", "yes", "on"),
    )
