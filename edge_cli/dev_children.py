"""The child processes of a dev session (the embedded platform, the runtime) and the ports they take."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import CliError

#: How far past a taken port to look for a free one.
PORT_SEARCH_SPAN = 100


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the dev process dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class Child:
    """One child process whose output is relayed to the terminal with a prefix."""

    name: str
    argv: list[str]
    env: dict[str, str]
    echo: Callable[[str], None]
    process: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        threading.Thread(target=self._relay, name=f"relay-{self.name}", daemon=True).start()

    def _relay(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            line = line.rstrip("\n")
            if len(self.lines) < 200:
                self.lines.append(line)
            self.echo(f"[{self.name}] {line}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float) -> None:
        if not self.alive():
            return
        assert self.process
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def first_free_port(
    preferred: int,
    *,
    taken: Iterable[int] = (),
    host: str = "127.0.0.1",
    is_free: Callable[[int, str], bool] = port_is_free,
) -> int:
    """`preferred` when it is free, else the next free port above it (skipping `taken`)."""
    skip = set(taken)
    for port in range(preferred, min(preferred + PORT_SEARCH_SPAN, 65536)):
        if port not in skip and is_free(port, host):
            return port
    raise CliError(
        f"No free port between {preferred} and {preferred + PORT_SEARCH_SPAN - 1}",
        "Pass another one with --port / --health-port",
    )


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EC_DISABLE_TRAY": "1", "EC_DISABLE_AUTOSTART": "1", **extra}
    # The dev loop's own CLI token must not leak into the children's view of the world.
    env.pop("EDGE_CONNECTOR_TOKEN", None)
    return env
