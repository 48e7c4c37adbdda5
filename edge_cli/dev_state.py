"""The running `dev` session of a project, as other commands find it: `<project>/.edge/dev.json`.

`edge-connector dev` writes the file (mode 0600) once its platform and runtime are up and removes it
when it stops; `call`, `tail`, `status`, `secret`, `sim` and `mcp` read it when no `--platform` or
token is given, so a second terminal needs no flags. A file whose pid is dead (a `kill -9` of `dev`)
is stale and ignored. The file holds the *path* of the dev token, never the token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEV_STATE_FILE = Path(".edge") / "dev.json"
#: `dev`'s stable ports, like wrangler's: yesterday's command, an alias or an editor task keeps working.
DEFAULT_PLATFORM_PORT = 8787
DEFAULT_HEALTH_PORT = 8788
#: Markers of a tool project: where the walk up from the current directory stops.
_PROJECT_MARKERS = ("edge.json", "package.json")


@dataclass(frozen=True)
class DevState:
    platform_url: str
    health_url: str
    token_path: str
    deployment_id: str | None
    pid: int

    def to_json(self) -> dict[str, object]:
        return {
            "platformUrl": self.platform_url,
            "healthUrl": self.health_url,
            "tokenPath": self.token_path,
            "deploymentId": self.deployment_id,
            "pid": self.pid,
        }

    @classmethod
    def from_json(cls, data: object) -> DevState | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                platform_url=str(data["platformUrl"]),
                health_url=str(data["healthUrl"]),
                token_path=str(data["tokenPath"]),
                deployment_id=data.get("deploymentId"),
                pid=int(data["pid"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def find_project(start: Path) -> Path | None:
    """The tool project `start` is in: the nearest folder upwards holding `.edge/dev.json`, else the
    nearest holding `edge.json` or `package.json`."""
    folders = (start.resolve(), *start.resolve().parents)
    for folder in folders:
        if (folder / DEV_STATE_FILE).is_file():
            return folder
    for folder in folders:
        if any((folder / marker).is_file() for marker in _PROJECT_MARKERS):
            return folder
    return None


def write(project_dir: Path, state: DevState) -> Path:
    from edge_runtime.private_files import write_private_json  # here: `dev --help` imports this module

    return write_private_json(project_dir / DEV_STATE_FILE, state.to_json())


def remove(project_dir: Path, pid: int) -> None:
    """Remove the file if it is still ours (a newer session may have replaced it)."""
    path = project_dir / DEV_STATE_FILE
    current = read(project_dir, check_alive=False)
    if current is not None and current.pid == pid:
        path.unlink(missing_ok=True)


def read(project_dir: Path, *, check_alive: bool = True) -> DevState | None:
    """The live session of `project_dir`, or None (no file, unreadable, or its process is gone)."""
    try:
        state = DevState.from_json(json.loads((project_dir / DEV_STATE_FILE).read_text("utf-8")))
    except (OSError, ValueError):
        return None
    if state is None or (check_alive and not pid_alive(state.pid)):
        return None
    return state


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:  # a zombie (dead, not yet reaped) is not a session
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def had_session(project_dir: Path) -> bool:
    """`dev` ran in this project before (its lock folder is there), whether or not it runs now."""
    return (project_dir / ".edge" / "dev").is_dir()


def command_hint() -> str:
    """The shortest way to run this CLI in a printed line: `edge-connector` when that name on PATH is
    this installation, else the executable's real path (a venv that is not activated)."""
    import shutil
    import sys

    beside_python = Path(sys.executable).parent / "edge-connector"
    on_path = shutil.which("edge-connector")
    if on_path and beside_python.exists() and _same_file(on_path, beside_python):
        return "edge-connector"
    if beside_python.exists():
        return str(beside_python)
    return f"{sys.executable} -m edge_cli"


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
