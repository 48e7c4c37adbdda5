"""Start the real product on loopback for a benchmark: a mock platform and an `edge-connector start`.

Everything runs as separate processes, as in production, so CPU and RSS can be read per process.
The platform is started through `tests.support.platform.PlatformProcess` (the same launcher the
integration tests use); the runtime is started here because a benchmark needs its pid and env.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.support.platform import PlatformProcess
from tests.support.waiting import free_port, wait_until

from .bundles import BuiltBundle

#: Runtime settings that keep a benchmark short without changing the call path.
FAST_RUNTIME_ENV = {
    "EC_DISABLE_TRAY": "1",
    "EC_DISABLE_AUTOSTART": "1",
    "EC_BACKOFF_INITIAL": "0.2",
    "EC_BACKOFF_MAX": "1",
    "EC_LOG_FORMAT": "text",
}


class StackError(RuntimeError):
    pass


@dataclass
class Platform:
    """A running mock platform plus a user token of its dev org."""

    process: PlatformProcess
    token: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def client(self, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout)

    def upload(self, bundle: BuiltBundle) -> dict:
        with self.client() as http, open(bundle.archive, "rb") as body:
            response = http.post(
                f"/api/bundles/{bundle.manifest.bundle}/versions",
                content=body,
                headers={"X-Bundle-Checksum": bundle.checksum, "Content-Type": "application/gzip"},
            )
        if response.status_code not in (200, 201):
            raise StackError(f"upload refused: {response.status_code} {response.text[:300]}")
        return response.json()

    def set_default(self, name: str, version: int) -> None:
        with self.client() as http:
            response = http.put("/api/bundles/default", json={"name": name, "version": version})
        if response.status_code >= 300:
            raise StackError(f"set-default refused: {response.status_code} {response.text[:300]}")

    def publish(self, bundle: BuiltBundle) -> int:
        """Upload and make it the org default; returns the version."""
        version = int(self.upload(bundle)["version"])
        self.set_default(bundle.manifest.bundle, version)
        return version

    def stop(self) -> None:
        self.process.stop()


def start_platform(data_dir: Path, env: dict[str, str] | None = None, extra_args: list[str] | None = None) -> Platform:
    """`python -m mock_platform.serve` on a free loopback port, and a user token of the org `org-bench`."""
    process = PlatformProcess(Path(data_dir), extra_args=list(extra_args or []), env=dict(env or {})).start()
    try:
        token = process.user_token(email="bench@example.com", org_id="org-bench")
    except Exception:
        process.stop()
        raise
    return Platform(process, token)


@dataclass
class Runtime:
    """A running `edge-connector start` in its own installation directory."""

    install_dir: Path
    health_port: int
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"

    def statusz(self) -> dict:
        return _loopback_http().get(f"{self.health_url}/statusz").json()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def log_tail(self, lines: int = 30) -> str:
        return "".join(self.output[-lines:])


def start_runtime(
    platform: Platform, install_dir: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Runtime:
    """Write the installation directory (token file mode 0600), start the runtime, wait for /healthz."""
    install_dir = Path(install_dir)
    install_dir.mkdir(parents=True, exist_ok=True)
    token_file = install_dir / "auth-token.json"
    token_file.write_text(
        json.dumps({"token": platform.token, "platformUrl": platform.url, "savedAt": datetime.now(UTC).isoformat()})
    )
    os.chmod(token_file, 0o600)
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        **FAST_RUNTIME_ENV,
        "TOOL_RPC_URL": platform.process.ws_url,
        "HEALTH_PORT": str(port),
        "AUTH_TOKEN_PATH": str(token_file),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_cli", "start", "--dir", str(install_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )
    runtime = Runtime(install_dir, port, process)
    threading.Thread(target=_pump, args=(process, runtime.output), daemon=True).start()

    def healthy_or_dead() -> str | None:
        if process.poll() is not None:
            return "dead"
        try:
            return (
                "healthy"
                if _loopback_http().get(f"{runtime.health_url}/healthz", timeout=2).status_code == 200
                else None
            )
        except httpx.HTTPError:
            return None

    try:
        state = wait_until(healthy_or_dead, timeout, message="runtime /healthz")
    except AssertionError as exc:
        runtime.stop()
        raise StackError(f"{exc}\n{runtime.log_tail()}") from None
    if state == "dead":
        raise StackError(f"runtime exited with {process.returncode}:\n{runtime.log_tail()}")
    return runtime


def _pump(process: subprocess.Popen, sink: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sink.append(line)
        if len(sink) > 2000:  # keep the tail only; a long run must not grow the benchmark's own RSS
            del sink[:1000]


def wait_for_tool(
    platform: Platform, tool: str, arguments: dict, timeout: float = 30.0, accept=lambda output: True
) -> dict:
    """Call `tool` until a 200 whose output passes `accept`; returns that response body."""
    last: list[str] = ["no answer yet"]
    with platform.client(timeout=10) as http:

        def answered():
            response = http.post(f"/api/tools/{tool}/call", json={"arguments": arguments})
            last[0] = f"{response.status_code} {response.text[:300]}"
            if response.status_code == 200 and accept(response.json().get("output")):
                return response.json()
            return None

        try:
            return wait_until(answered, timeout, interval=0.005, message=f"tool {tool} to answer")
        except AssertionError as exc:
            raise StackError(f"{exc}; last answer: {last[0]}") from None


def elapsed_since(started: float) -> float:
    return time.perf_counter() - started


@functools.cache
def _loopback_http() -> httpx.Client:
    """One client for the probes: `httpx.get()` pays a new TLS context (~30 ms of CPU) per call."""
    return httpx.Client(timeout=5)
