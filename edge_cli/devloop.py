"""The `edge-connector dev` session: platform + runtime + watcher, every save live within a second.

The session owns three things and tears all of them down on Ctrl-C: an embedded mock platform
(a child process, unless `--platform URL` names one), a connector runtime (a child process running
`edge-connector start` in `DIR/.edge/runtime/`) and a file watcher that rebuilds, uploads and waits
until the runtime reports the new version. Children get a parent-death signal on Linux, so even a
`kill -9` of the dev process leaves no orphan behind.

Each upload pins the `dev` deployment to the uploaded version, so the platform pushes
`bundle.updated` and the runtime hot-swaps; the dev loop never restarts anything.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bundler.build import BuildResult, build_project
from bundler.errors import BuildError
from bundler.node import node_env, npm_command
from edge_protocol.manifest import Manifest
from edge_runtime.private_files import write_private_json

from . import dev_state
from .client import PlatformClient
from .dev_state import DEFAULT_HEALTH_PORT, DEFAULT_PLATFORM_PORT
from .dev_vars import DevVars
from .errors import CliError

DEV_EMAIL = "dev@localhost"
DEV_DEPLOYMENT = "dev"
_LISTENING = re.compile(r"mock-platform listening on (http://\S+)")
#: Paths under the project whose changes never trigger a build.
_IGNORED_PARTS = {".edge", "node_modules", ".git", "dist", ".mock-platform"}
#: How long the runtime may take to report a new version before the reload is called failed.
LIVE_TIMEOUT_SECONDS = 20.0
#: How far past a taken port to look for a free one.
PORT_SEARCH_SPAN = 100


# ------------------------------------------------------------------------------------ policy
@dataclass
class RebuildScheduler:
    """Coalesces file changes into builds: never two at once, changes during a build give one more.

    Pure state, no I/O: `changed()` says whether to start a build now; `finished()` whether to
    start another one straight away because something changed meanwhile.
    """

    building: bool = False
    pending: bool = False

    def changed(self) -> bool:
        if self.building:
            self.pending = True
            return False
        self.building = True
        return True

    def finished(self) -> bool:
        if self.pending:
            self.pending = False
            return True
        self.building = False
        return False


def is_watched(path: str, project_dir: Path) -> bool:
    """Sources, `edge.json`, `package.json` and lock files count; build output and deps don't."""
    try:
        relative = Path(path).resolve().relative_to(project_dir.resolve())
    except ValueError:
        return False
    if any(part in _IGNORED_PARTS for part in relative.parts):
        return False
    name = relative.name
    # Editors' atomic saves create temporary siblings (.foo.ts.swp, foo.ts~, 4913, .#foo.ts).
    return not (name.startswith((".#", ".~")) or name.endswith(("~", ".swp", ".swx", ".tmp")) or name == "4913")


def tools_changed(old: Manifest | None, new: Manifest) -> str:
    """A short human summary of what a reload changed: `+added -removed ~changed`."""
    if old is None:
        return ", ".join(t.name for t in new.tools)
    old_files = {f.path: f.sha256 for f in old.files}
    new_files = {f.path: f.sha256 for f in new.files}
    before = {t.name: t for t in old.tools}
    after = {t.name: t for t in new.tools}
    parts = [f"+{name}" for name in sorted(after.keys() - before.keys())]
    parts += [f"-{name}" for name in sorted(before.keys() - after.keys())]
    for name in sorted(after.keys() & before.keys()):
        a, b = before[name], after[name]
        if old_files.get(a.entry) != new_files.get(b.entry) or (a.description, a.inputSchema, a.timeoutMs) != (
            b.description,
            b.inputSchema,
            b.timeoutMs,
        ):
            parts.append(f"~{name}")
    return " ".join(parts) or "no tool changed"


def example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """A plausible argument object for a ready-to-paste `call` line: required properties only."""
    properties = schema.get("properties") or {}
    example: dict[str, Any] = {}
    for name in schema.get("required") or []:
        example[name] = _example_value(properties.get(name) or {})
    return example


def _example_value(schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "examples" in schema and schema["examples"]:
        return schema["examples"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            middle = (low + high) / 2  # latitude -90..90 gives 0, not the pole
            return int(middle) if kind == "integer" or middle == int(middle) else middle
        return low if isinstance(low, (int, float)) else 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return example_arguments(schema)
    return "example"


# ------------------------------------------------------------------------------- processes
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


def _child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EC_DISABLE_TRAY": "1", "EC_DISABLE_AUTOSTART": "1", **extra}
    # The dev loop's own CLI token must not leak into the children's view of the world.
    env.pop("EDGE_CONNECTOR_TOKEN", None)
    return env


# -------------------------------------------------------------------------------- session
@dataclass
class Reload:
    version: int | None
    changed: str
    save_to_live_ms: float | None


class DevSession:
    """Runs one dev loop for one project folder. `run()` blocks until `stop()` or Ctrl-C."""

    def __init__(
        self,
        project_dir: Path,
        *,
        platform_url: str | None,
        echo: Callable[[str], None],
        port: int = DEFAULT_PLATFORM_PORT,
        health_port: int = DEFAULT_HEALTH_PORT,
    ) -> None:
        self.project_dir = project_dir.resolve()
        self.edge_dir = self.project_dir / ".edge"
        self.runtime_dir = self.edge_dir / "runtime"
        self.platform_url = platform_url.rstrip("/") if platform_url else None
        self.echo = echo
        self.port = port
        self.health_port = health_port
        self.platform: Child | None = None
        self.runtime: Child | None = None
        self.client: PlatformClient | None = None
        self.manifest: Manifest | None = None
        self.version: int | None = None
        self.deployment_id: str | None = None
        self._deployment_secret: str | None = None
        self.dev_vars: DevVars | None = None
        self.scheduler = RebuildScheduler()
        self._stop = asyncio.Event()

    # --- lifecycle
    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        from edge_runtime.lock import AlreadyRunning, RuntimeLock

        lock = RuntimeLock(self.edge_dir / "dev")
        try:
            lock.acquire()
        except AlreadyRunning as exc:
            raise CliError(
                f"edge-connector dev is already running in {self.project_dir} (pid {exc.pid})",
                "Use that session, or stop it with Ctrl-C first",
            ) from None
        try:
            await self._start_everything()
            await self._watch()
        finally:
            dev_state.remove(self.project_dir, os.getpid())
            await asyncio.to_thread(self._teardown)
            lock.release()

    def _teardown(self) -> None:
        if self.runtime:
            self.runtime.stop(timeout=15)
        if self.platform:
            self.platform.stop(timeout=10)
        if self.client:
            self.client.close()

    async def _start_everything(self) -> None:
        await asyncio.to_thread(self._npm_install_if_needed)
        url: str = self.platform_url if self.platform_url else await asyncio.to_thread(self._start_platform)
        self.health_port = self._free_port_or_next(self.health_port, "runtime's health server", taken=(self.port,))
        token = await asyncio.to_thread(self._login, url)
        self.client = PlatformClient(url, token)
        deployment = await asyncio.to_thread(self._dev_deployment)
        deployment_id = deployment.get("deploymentId") or deployment.get("id")
        if not isinstance(deployment_id, str):
            raise CliError(
                f"The platform at {url} answered a deployment without an id", "Is it an edge-connector platform?"
            )
        self.deployment_id = deployment_id
        # The dev runtime runs with the dev deployment's own credentials: secrets (.dev.vars) reach only
        # a connector with a deployment token. A fresh secret each start; it lives in the child's env only.
        rotated = await asyncio.to_thread(self.client.post, f"/api/deployments/{self.deployment_id}/rotate-secret")
        self._deployment_secret = rotated["secret"]
        self.dev_vars = DevVars(self.project_dir, self.client, self.deployment_id, self.echo)
        await asyncio.to_thread(self.dev_vars.apply)
        result = await asyncio.to_thread(self._build)
        if result is None:
            raise CliError("The first build failed (see above)", "Fix the error and run edge-connector dev again")
        published = await asyncio.to_thread(self._publish, result)
        # The org default too, so `edge-connector call` and other connectors of the org see the bundle.
        await asyncio.to_thread(self.client.put, "/api/bundles/default", {"name": result.manifest.bundle})
        self._prepare_runtime_dir(url, token)
        self._start_runtime()
        await self._wait_live(published, time.time())
        self.manifest, self.version = result.manifest, published
        self._publish_session(url, token)
        self._print_ready(url)

    def _free_port_or_next(self, port: int, what: str, taken: Iterable[int] = ()) -> int:
        chosen = first_free_port(port, taken=taken)
        if chosen != port:
            self.echo(f"Port {port} is in use; the {what} listens on {chosen} instead.")
        return chosen

    def _publish_session(self, url: str, token: str) -> None:
        """`.edge/dev.json` (+ the CLI's dev token beside it): how `call`, `tail`, `status`, `secret`,
        `sim` and `mcp` in a second terminal find this session without flags."""
        token_path = self.edge_dir / "dev-token.json"
        write_private_json(token_path, {"token": token, "platformUrl": url, "savedAt": _utc_now()})
        dev_state.write(
            self.project_dir,
            dev_state.DevState(
                platform_url=url,
                health_url=f"http://127.0.0.1:{self.health_port}",
                token_path=str(token_path),
                deployment_id=self.deployment_id,
                pid=os.getpid(),
            ),
        )

    # --- set-up steps
    def _npm_install_if_needed(self) -> None:
        package = self.project_dir / "package.json"
        if not package.is_file() or (self.project_dir / "node_modules").is_dir():
            return
        try:
            data = json.loads(package.read_text())
        except ValueError:
            return  # the build explains a malformed package.json
        if not (data.get("dependencies") or data.get("devDependencies")):
            return
        self.echo("node_modules is missing: running npm install (bundled npm)…")
        done = subprocess.run(
            [*npm_command(), "install", "--no-audit", "--no-fund"],
            cwd=self.project_dir,
            env=node_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise CliError(
                f"npm install failed in {self.project_dir}: {done.stderr.strip().splitlines()[-1:]}",
                "Run npm install there yourself to see the full error",
            )

    def _start_platform(self) -> str:
        data_dir = self.edge_dir / "platform"
        self.port = self._free_port_or_next(self.port, "embedded platform")
        self.platform = Child(
            "platform",
            [
                sys.executable,
                "-m",
                "mock_platform.serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data",
                str(data_dir),
            ],
            _child_env(),
            echo=lambda line: None if "listening on" in line else self.echo(line),
        )
        self.platform.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in list(self.platform.lines):
                match = _LISTENING.search(line)
                if match:
                    return match.group(1)
            if not self.platform.alive():
                raise CliError("The embedded mock platform exited at start:\n" + "\n".join(self.platform.lines[-10:]))
            time.sleep(0.02)  # polling the child's output with a deadline
        raise CliError(
            "The embedded mock platform did not start within 30 s",
            "Run it alone with edge-connector platform serve to see why",
        )

    def _login(self, url: str) -> str:
        try:
            response = httpx.post(f"{url}/api/auth/dev-login", json={"email": DEV_EMAIL}, timeout=10)
        except httpx.HTTPError as exc:
            raise CliError(f"Cannot reach the platform at {url} ({exc})", "Is it running?") from None
        if response.status_code != 200:
            raise CliError(
                f"The platform at {url} refused the dev login (HTTP {response.status_code})",
                "edge-connector dev needs a mock platform in dev mode",
            )
        return response.json()["token"]

    def _dev_deployment(self) -> dict[str, Any]:
        assert self.client
        listed = self.client.get("/api/deployments")
        for deployment in listed.get("deployments", listed if isinstance(listed, list) else []):
            if deployment.get("name") == DEV_DEPLOYMENT:
                return deployment
        return self.client.post("/api/deployments", {"name": DEV_DEPLOYMENT})

    def _prepare_runtime_dir(self, url: str, token: str) -> None:
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        write_private_json(
            self.runtime_dir / "auth-token.json", {"token": token, "platformUrl": url, "savedAt": _utc_now()}
        )
        config = {
            "toolRpcUrl": url.replace("http://", "ws://").replace("https://", "wss://") + "/tool-rpc",
            "deploymentId": self.deployment_id,
            "healthHost": "127.0.0.1",
            "healthPort": self.health_port,
            "backoffInitialSeconds": 0.5,
            "backoffMaxSeconds": 5,
        }
        (self.runtime_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def _start_runtime(self) -> None:
        assert self.deployment_id and self._deployment_secret
        self.runtime = Child(
            "runtime",
            [sys.executable, "-m", "edge_cli", "start", "--dir", str(self.runtime_dir)],
            _child_env(DEPLOYMENT_ID=self.deployment_id, DEPLOYMENT_SECRET=self._deployment_secret),
            echo=self.echo,
        )
        self.runtime.start()

    # --- build → upload → live
    def _build(self) -> BuildResult | None:
        try:
            return build_project(self.project_dir)
        except BuildError as exc:
            self.echo(f"✗ build failed: {exc}")
            return None

    def _publish(self, result: BuildResult) -> int:
        """Upload, then pin the dev deployment to exactly that version; returns the version.

        The platform answers a bundle it already has with its existing version, so saving a file
        back to earlier content gives an older version: pinning (not tracking the newest) makes the
        runtime serve what is on disk now, and the assignment change pushes `bundle.updated`.
        """
        assert self.client and self.deployment_id
        _status, body = self.client.upload(
            f"/api/bundles/{result.manifest.bundle}/versions",
            result.archive_path,
            {"X-Bundle-Checksum": result.checksum},
        )
        version = int(body["version"])
        self.client.put(
            f"/api/deployments/{self.deployment_id}/bundle", {"name": result.manifest.bundle, "version": version}
        )
        return version

    def _runtime_status(self) -> dict[str, Any] | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.health_port}/statusz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    async def _wait_live(self, version: int, saved_at: float) -> float:
        """Wait until the runtime serves `version`; returns milliseconds since `saved_at` (wall clock)."""
        deadline = time.monotonic() + LIVE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            status = await asyncio.to_thread(self._runtime_status)
            status = status or {}
            # `ready`: connected and registered, so the platform routes calls to the new tools.
            if (status.get("bundle") or {}).get("version") == version and status.get("ready"):
                return (time.time() - saved_at) * 1000
            if self.runtime and not self.runtime.alive():
                raise CliError("The runtime exited (see its log above)")
            await asyncio.sleep(0.01)  # polling /statusz with a deadline
        raise CliError(
            f"The runtime did not report version {version} within {LIVE_TIMEOUT_SECONDS:.0f} s",
            f"Check http://127.0.0.1:{self.health_port}/statusz",
        )

    async def _rebuild(self, saved_at: float) -> None:
        started = time.perf_counter()
        result = await asyncio.to_thread(self._build)
        if result is None:
            self.echo("  the last good version keeps serving")
            return
        if self.manifest is not None and result.checksum == self.manifest.checksum:  # e.g. a comment edit
            self.echo(f"= no change in the bundle ({(time.perf_counter() - started) * 1000:.0f} ms)")
            return
        try:
            version = await asyncio.to_thread(self._publish, result)
        except CliError as exc:  # the platform is down or refused: say so; the next save tries again
            self.echo(f"✗ upload failed: {exc}")
            self.echo("  the last good version keeps serving; save again to retry")
            return
        try:
            ms = await self._wait_live(version, saved_at)
        except CliError as exc:
            self.echo(f"✗ reload failed: {exc}")
            return
        self.echo(f"✓ v{version} live in {ms:.0f} ms from save · {tools_changed(self.manifest, result.manifest)}")
        self.manifest, self.version = result.manifest, version

    async def _watch(self) -> None:
        """Rebuild on every save, one build at a time. A build that fails in any way prints one line and
        leaves the scheduler ready, so the next save builds again (a dev loop never stalls silently)."""
        from watchfiles import awatch

        latest_save = time.time()
        building: asyncio.Task[None] | None = None

        async def build_loop() -> None:
            while True:
                try:
                    await self._rebuild(latest_save)
                except Exception as exc:  # unforeseen: say it, keep the loop alive
                    self.echo(f"✗ rebuild failed: {type(exc).__name__}: {exc}; save again to retry")
                if not self.scheduler.finished():
                    return

        async with asyncio.TaskGroup() as builds:
            async for changes in awatch(
                self.project_dir,
                watch_filter=lambda _change, path: is_watched(path, self.project_dir),
                debounce=40,
                step=10,
                stop_event=self._stop,
                rust_timeout=200,
                yield_on_timeout=False,
            ):
                dev_vars = self.dev_vars
                if dev_vars is not None and any(dev_vars.is_dev_vars(path) for _, path in changes):
                    await asyncio.to_thread(dev_vars.apply)  # secrets: no rebuild, the runtime refetches
                    changes = {(change, path) for change, path in changes if not dev_vars.is_dev_vars(path)}
                    if not changes:
                        continue
                latest_save = _latest_mtime(path for _, path in changes) or time.time()
                if self.scheduler.changed():
                    building = builds.create_task(build_loop())
            if building is not None:
                building.cancel()  # stopping: the TaskGroup awaits the cancelled build

    # --- output
    def _print_ready(self, url: str) -> None:
        assert self.manifest is not None
        cli = dev_state.command_hint()
        here = Path.cwd().resolve() == self.project_dir
        lines = [
            "",
            f"Ready: {self.manifest.bundle} v{self.version} with {len(self.manifest.tools)} tool(s).",
            f"  dashboard  {url}/",
            f"  health     http://127.0.0.1:{self.health_port}/statusz",
            f"  from {'this folder' if here else self.project_dir} (call, tail, status, mcp find this session):",
        ]
        for tool in self.manifest.tools:
            arguments = json.dumps(example_arguments(tool.inputSchema))
            lines.append(f"    {cli} call {tool.name} '{arguments}'")
        lines += [f"    {cli} tail", "Watching for changes; Ctrl-C stops everything.", ""]
        for line in lines:
            self.echo(line)


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _latest_mtime(paths: Iterable[str]) -> float | None:
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            pass
    return max(times) if times else None
