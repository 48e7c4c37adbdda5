"""The installation directory's `edge-runtime.lock`: one runtime per directory (SPEC.md §3.4, §8).

The OS lock (`flock`, behind `_try_os_lock`) is the truth: the kernel
drops it when the holder dies however it dies, so `kill -9` never leaves a directory locked. The
file's content (pid, start time, process start ticks, health URL) is for people and for
`edge-connector status`, and a second guard: on file systems where OS locks are silently
no-ops, a recorded holder that is still alive (same pid *and* same process start time, so a reused
pid is not mistaken for it) still refuses the directory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_FILE = "edge-runtime.lock"

log = logging.getLogger("edge_runtime.lock")


class AlreadyRunning(Exception):
    """Another live runtime holds the directory."""

    def __init__(self, pid: int | None, lock_path: Path) -> None:
        self.pid = pid
        self.lock_path = lock_path
        super().__init__(f"Edge runtime already running (pid {pid if pid is not None else 'unknown'})")


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started (an opaque number, stable for the life of the process); None if it is gone.

    Linux: field 22 of /proc/<pid>/stat (clock ticks since boot). Elsewhere psutil when installed.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read()
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        return int(data[data.rindex(b")") + 2 :].split()[19])
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # /proc works, so the process is gone
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process(pid).create_time() * 100)
    except ImportError:
        return None if not _pid_exists(pid) else -1
    except Exception:  # psutil.NoSuchProcess, AccessDenied
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _try_os_lock(fd: int) -> bool:
    """Take an exclusive, non-blocking OS lock on `fd`; False if someone else holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@dataclass
class PreviousHolder:
    pid: int | None
    started_at: str | None


class RuntimeLock:
    """Acquire with `acquire()`, release with `release()` (also on every exit path of the runtime)."""

    def __init__(self, install_dir: Path) -> None:
        self.path = Path(install_dir) / LOCK_FILE
        self._fd: int | None = None
        self._record: dict[str, Any] = {}

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> PreviousHolder | None:
        """Take the lock or raise `AlreadyRunning`; returns the dead holder whose lock was taken over, if any."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_os_lock(fd):
                previous = _read_record(fd)
                os.close(fd)
                raise AlreadyRunning(previous.get("pid"), self.path)
            # The holder before us may have deleted the file between our open and our lock; then we
            # locked an orphaned inode and must start over on the file that now has the name.
            try:
                same_file = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same_file = False
            if not same_file:
                os.close(fd)
                continue
            previous = _read_record(fd)
            pid = previous.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and _is_same_live_process(pid, previous.get("processStart")):
                os.close(fd)
                raise AlreadyRunning(pid, self.path)
            self._fd = fd
            self._write({"pid": os.getpid(), "startedAt": _now(), "processStart": process_start_ticks(os.getpid())})
            if previous:
                return PreviousHolder(pid if isinstance(pid, int) else None, previous.get("startedAt"))
            return None
        raise OSError(f"could not lock {self.path}: it keeps being replaced")

    def update(self, **fields: Any) -> None:
        """Add facts for `edge-connector status` (e.g. the health URL once the port is bound)."""
        if self._fd is not None:
            self._write({**self._record, **fields})

    def release(self) -> None:
        if self._fd is None:
            return
        # Unlink while still holding the lock: a newcomer that opened the old inode re-checks the name.
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)  # closing drops the OS lock
        self._fd = None

    def _write(self, record: dict[str, Any]) -> None:
        assert self._fd is not None
        self._record = record
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)


def read_lock_file(install_dir: Path) -> dict[str, Any]:
    """The record of the runtime holding `install_dir`, or {} (no lock, or unreadable)."""
    try:
        data = json.loads((Path(install_dir) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_record(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 65536, 0)
        record = json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {"unreadable": True}
    return record if isinstance(record, dict) else {"unreadable": True}


def _is_same_live_process(pid: int, recorded_start: Any) -> bool:
    current = process_start_ticks(pid)
    if current is None:
        return False
    if isinstance(recorded_start, int) and current != -1:
        return current == recorded_start  # a different start time means the pid was reused
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
