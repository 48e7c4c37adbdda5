"""Run `edge-connector tail` as a user would, in the background, and read what it prints."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from dataclasses import dataclass, field

from .cli import EDGE_CONNECTOR, Cli
from .waiting import wait_until

#: Reconnect quickly in tests (the same variables as the runtime's backoff).
FAST_BACKOFF = {"EC_BACKOFF_INITIAL": "0.2", "EC_BACKOFF_MAX": "1"}


@dataclass
class TailProcess:
    cli: Cli
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def start(self, wait_following: bool = True) -> TailProcess:
        self.process = subprocess.Popen(
            [EDGE_CONNECTOR, "tail", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.cli.env, **FAST_BACKOFF},
            cwd=self.cli.home,
        )
        threading.Thread(target=self._pump, args=(self.process.stdout, self.stdout), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr), daemon=True).start()
        if wait_following:
            self.wait_stderr("Following", message="tail to connect")
        return self

    @staticmethod
    def _pump(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in list(self.stdout)]

    def wait_events(self, condition, timeout: float = 10.0, message: str = "tail events") -> list[dict]:
        wait_until(lambda: self._alive_or_fail() and condition(self.events()), timeout, message=message)
        return self.events()

    def wait_stderr(self, fragment: str, count: int = 1, timeout: float = 15.0, message: str = "") -> str:
        wait_until(
            lambda: self._alive_or_fail() and "".join(self.stderr).count(fragment) >= count,
            timeout,
            message=message or f"tail to print {fragment!r}",
        )
        return "".join(self.stderr)

    def _alive_or_fail(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"tail exited {self.process.returncode}:\n{''.join(self.stderr)}")
        return True

    def interrupt(self, timeout: float = 10.0) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
