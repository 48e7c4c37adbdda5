"""The installation directory's `edge-runtime.lock`: one runtime per directory (SPEC.md §3.4, §8).

The OS lock (`flock`, behind `_try_os_lock`) is the truth: the kernel
drops it when the holder dies however it dies, so `kill -9` never leaves a directory locked. The
file's content (pid, start time, process start ticks, health URL) is for people and for
`edge-connector status`, and a second guard: on file systems where OS locks are silently
no-ops, a recorded holder that is still alive (same pid *and* same process start time, so a reused
pid is not mistaken for it) still refuses the directory.

A lock file can be deleted by a person who believes it stale; a fresh one would then admit a second
runtime. So the holder also locks the installation directory itself (POSIX), which no `rm` of a
file can undo, and a watcher thread notices a deleted or replaced lock file and puts it back. The
file is opened with `O_NOFOLLOW`: a symlink planted at its name is refused, never written through.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_FILE = "edge-runtime.lock"
#: How often the holder checks that its lock file is still the one it locked.
WATCH_INTERVAL_SECONDS = 1.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

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

    def __init__(self, install_dir: Path, watch_interval: float = WATCH_INTERVAL_SECONDS) -> None:
        self.install_dir = Path(install_dir)
        self.path = self.install_dir / LOCK_FILE
        self._fd: int | None = None
        self._dir_fd: int | None = None
        self._record: dict[str, Any] = {}
        self._guard = threading.Lock()
        self._watch_interval = watch_interval
        self._stop_watch = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> PreviousHolder | None:
        """Take the lock or raise `AlreadyRunning`; returns the dead holder whose lock was taken over, if any."""
        self.install_dir.mkdir(parents=True, exist_ok=True)
        self._lock_directory()
        try:
            previous = self._lock_file()
        except BaseException:
            self._unlock_directory()
            raise
        if self._watch_interval > 0:
            self._stop_watch.clear()
            self._watcher = threading.Thread(target=self._watch, name="lock-watch", daemon=True)
            self._watcher.start()
        return previous

    def _lock_directory(self) -> None:
        """The lock no `rm edge-runtime.lock` can remove."""
        fd = os.open(self.install_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        if _try_os_lock(fd):
            self._dir_fd = fd
            return
        os.close(fd)
        raise AlreadyRunning(self._holder_pid(), self.path)

    def _unlock_directory(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def _holder_pid(self, wait: float = 2 * WATCH_INTERVAL_SECONDS + 1) -> int | None:
        """Who holds the directory: from the lock file, which a live holder restores if it was deleted."""
        pid = _pid_holding_flock(self.install_dir)
        deadline = time.monotonic() + wait
        while pid is None:
            recorded = read_lock_file(self.install_dir).get("pid")
            if isinstance(recorded, int):
                return recorded
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)  # the holder's watcher puts the file back within its interval
        return pid

    def _lock_file(self) -> PreviousHolder | None:
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
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
        with self._guard:
            if self._fd is not None:
                self._write({**self._record, **fields})

    def restore_if_lost(self) -> bool:
        """Put the lock file back if it was deleted or replaced; True when it had to."""
        with self._guard:
            if self._fd is None:
                return False
            try:
                if os.path.samestat(os.fstat(self._fd), os.lstat(self.path)):
                    return False
            except FileNotFoundError:
                pass
            # A fresh file under a random name, locked and filled, then renamed over whatever is there.
            # os.urandom, not `secrets` (the same bytes): `edge-connector status` imports this module to read the
            # record, and `secrets` (hmac, hashlib, random) would be most of its import time.
            temporary = self.install_dir / f".{LOCK_FILE}.{os.urandom(6).hex()}"
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
            try:
                _try_os_lock(fd)
                old, self._fd = self._fd, fd
                self._write(self._record)
                os.replace(temporary, self.path)
            except BaseException:
                os.close(fd)
                temporary.unlink(missing_ok=True)
                raise
            os.close(old)
        log.warning(
            "%s was deleted or replaced while this runtime (pid %d) is running in %s; restored it. "
            "Delete it only when no runtime runs there",
            LOCK_FILE,
            os.getpid(),
            self.install_dir,
        )
        return True

    def _watch(self) -> None:
        while not self._stop_watch.wait(self._watch_interval):
            try:
                self.restore_if_lost()
            except Exception as exc:  # keep watching; the directory lock still refuses a second runtime
                log.warning("Could not restore %s: %s", self.path, exc)

    def release(self) -> None:
        self._stop_watch.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(5)
        self._watcher = None
        with self._guard:
            if self._fd is None:
                return
            # Unlink while still holding the lock: a newcomer that opened the old inode re-checks the name.
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)  # closing drops the OS lock
            self._fd = None
        self._unlock_directory()

    def _write(self, record: dict[str, Any]) -> None:
        assert self._fd is not None
        self._record = record
        data = (json.dumps(record) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)


def _pid_holding_flock(directory: Path) -> int | None:
    """Linux: the pid with an exclusive flock on `directory`, from /proc/locks; None elsewhere or unknown."""
    try:
        info = os.stat(directory)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.readlines()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 12345 08:01:1234567 0 EOF" — device in hex major:minor, then inode.
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE" and fields[5] == wanted:
            try:
                return int(fields[4])
            except ValueError:
                return None
    return None


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
