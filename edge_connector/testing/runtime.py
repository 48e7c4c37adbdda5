"""Start a real `edge-connector start` subprocess in an installation directory for integration tests.

`RuntimeProcess(install_dir, env={...}).start()` runs `python -m edge_cli start --dir DIR` with
`HEALTH_PORT=0` (unless given), reads the real port from the log line
`Health server listening on http://HOST:PORT`, and offers polling helpers over `/healthz` and
`/statusz`. Output (stdout+stderr) is kept in `output` for assertions on log lines.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .waiting import wait_until

_HEALTH_LINE = re.compile(r"Health server listening on (http://\S+)")

#: Short intervals so reconnect tests take fractions of a second (SPEC.md §6 variables).
FAST_ENV = {
    "EC_BACKOFF_INITIAL": "0.2",
    "EC_BACKOFF_MAX": "1",
    "EC_HEARTBEAT": "5",
    "EC_SYNC_INTERVAL": "600",
    "EC_WORKERS": "1",
    "EC_DISABLE_TRAY": "1",
    "EC_DISABLE_AUTOSTART": "1",
}


def write_token_file(install_dir: Path, token: str, platform_url: str = "") -> Path:
    """`auth-token.json` as `edge-connector auth --token` writes it (mode 0600)."""
    install_dir.mkdir(parents=True, exist_ok=True)
    path = install_dir / "auth-token.json"
    path.write_text(json.dumps({"token": token, "platformUrl": platform_url, "savedAt": "2026-11-28T00:00:00Z"}))
    path.chmod(0o600)
    return path


@dataclass
class RuntimeProcess:
    install_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)
    health_url: str = ""
    _pump_thread: threading.Thread | None = None

    def start(self, wait_for_health_server: bool = True, timeout: float = 20.0) -> RuntimeProcess:
        self.install_dir.mkdir(parents=True, exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DEPLOYMENT_ID", "DEPLOYMENT_SECRET", "TOOL_RPC_URL", "AUTH_TOKEN_PATH", "HEALTH_PORT")
        }
        env.update({"PYTHONUNBUFFERED": "1", "HEALTH_PORT": "0", **FAST_ENV, **self.env})
        self.output = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_cli", "start", "--dir", str(self.install_dir), *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        if wait_for_health_server:
            found = wait_until(
                lambda: self._health_from_output() or self.exited(), timeout, message="runtime health server"
            )
            if not isinstance(found, str):
                raise AssertionError("edge-connector start exited early:\n" + self.text)
            self.health_url = found
        return self

    def _pump(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.output.append(line)

    def _health_from_output(self) -> str | None:
        for line in list(self.output):
            match = _HEALTH_LINE.search(line)
            if match:
                return match.group(1)
        return None

    # ------------------------------------------------------------------------------ probes
    @property
    def text(self) -> str:
        return "".join(self.output)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def get(self, path: str) -> httpx.Response:
        return _loopback_http().get(self.health_url + path)

    def status(self) -> dict[str, Any]:
        return self.get("/statusz").json()

    def healthz(self) -> int:
        return self.get("/healthz").status_code

    def wait_healthy(self, timeout: float = 20.0) -> dict[str, Any]:
        wait_until(lambda: self.exited() or self.healthz() == 200, timeout, message="/healthz 200")
        if self.exited():
            raise AssertionError("runtime exited while waiting for /healthz:\n" + self.text)
        return self.status()

    def wait_unhealthy(self, timeout: float = 20.0) -> None:
        wait_until(lambda: self.healthz() == 503, timeout, message="/healthz 503")

    def wait_for_log(self, fragment: str, timeout: float = 20.0, count: int = 1) -> str:
        wait_until(
            lambda: self.text.count(fragment) >= count or self.exited(),
            timeout,
            message=f"log line containing {fragment!r}",
        )
        if self.text.count(fragment) < count:
            raise AssertionError(f"runtime exited without logging {fragment!r}:\n{self.text}")
        return self.text

    def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runtime did not exit within {timeout}s:\n{self.text}") from None
        if self._pump_thread is not None:
            self._pump_thread.join(5)  # the last lines are in `output` once the pipe is drained
        return code

    # ------------------------------------------------------------------------------ stopping
    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the graceful path (drain, close 1000, release the lock, exit 0)."""
        if self.exited():
            return self.process.returncode  # type: ignore[union-attr]
        self.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.process is not None and not self.exited():
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """Teardown: graceful first, then kill."""
        if self.process is None or self.exited():
            return
        try:
            self.terminate(timeout=15)
        except AssertionError:
            self.kill()


@functools.cache
def _loopback_http() -> httpx.Client:
    """One client for every probe: `httpx.get()` builds a client and its TLS context per call (~30 ms of
    CPU), which a test polling /statusz pays every few milliseconds, beside the processes it waits for."""
    return httpx.Client(timeout=5)
