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
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bundler.build import BuildResult, build_project
from bundler.errors import BuildError
from bundler.incremental import IncrementalEsbuild
from bundler.index_server import IndexServer
from bundler.node import node_env, npm_command
from edge_protocol.manifest import Manifest
from edge_runtime.private_files import write_private_json

from . import dev_state
from .call_examples import example_arguments
from .client import PlatformClient
from .dev_children import Child, child_env, first_free_port
from .dev_state import DEFAULT_HEALTH_PORT, DEFAULT_PLATFORM_PORT
from .dev_vars import DevVars
from .errors import CliError
from .project_watch import Changes, RebuildScheduler, latest_mtime, tools_changed, watch_and_rebuild

DEV_EMAIL = "dev@localhost"
DEV_DEPLOYMENT = "dev"
_LISTENING = re.compile(r"mock-platform listening on (http://\S+)")
#: How long the runtime may take to report a new version before the reload is called failed.
LIVE_TIMEOUT_SECONDS = 20.0


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
        # Kept between saves: esbuild re-reads only changed files, the indexer reloads only the tools' code.
        self.esbuild = IncrementalEsbuild()
        self.indexer = IndexServer()
        # One client polls /statusz while a reload goes live: `httpx.get()` would build a TLS context
        # (~30 ms of CPU) per poll, taken from the runtime that is loading the new tools.
        self._health_http = httpx.Client(timeout=2)
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
        self.indexer.close()
        self.esbuild.close()
        self._health_http.close()
        if self.runtime:
            self.runtime.stop(timeout=15)
        if self.platform:
            self.platform.stop(timeout=10)
        if self.client:
            self.client.close()

    async def _start_everything(self) -> None:
        self.indexer.start()  # Node.js boots while the platform starts
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
            child_env(),
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
            # One worker: a reload loads the tools once instead of once per worker on a machine that is
            # also building (EC_WORKERS still overrides it, to try concurrency in dev).
            "workers": 1,
            # A save loads into the serving worker (edge_runtime/reload_in_place.py; EC_RELOAD_IN_PLACE=0
            # swaps processes as `edge-connector start` does).
            "reloadInPlace": True,
        }
        (self.runtime_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    def _start_runtime(self) -> None:
        assert self.deployment_id and self._deployment_secret
        self.runtime = Child(
            "runtime",
            [sys.executable, "-m", "edge_cli", "start", "--dir", str(self.runtime_dir)],
            child_env(DEPLOYMENT_ID=self.deployment_id, DEPLOYMENT_SECRET=self._deployment_secret),
            echo=self.echo,
        )
        self.runtime.start()

    # --- build → upload → live
    def _build(self) -> BuildResult | None:
        try:
            # fast_pack: the upload stays on this machine.
            return build_project(self.project_dir, fast_pack=True, indexer=self.indexer, incremental=self.esbuild)
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
            return self._health_http.get(f"http://127.0.0.1:{self.health_port}/statusz").json()
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
        built = time.perf_counter()
        if result is None:
            self.echo("  the last good version keeps serving")
            return
        if self.manifest is not None and result.checksum == self.manifest.checksum:  # e.g. a comment edit
            self.echo(f"= no change in the bundle ({(time.perf_counter() - started) * 1000:.0f} ms)")
            return
        try:
            version = await asyncio.to_thread(self._publish, result)
            uploaded = time.perf_counter()
        except CliError as exc:  # the platform is down or refused: say so; the next save tries again
            self.echo(f"✗ upload failed: {exc}")
            self.echo("  the last good version keeps serving; save again to retry")
            return
        try:
            ms = await self._wait_live(version, saved_at)
        except CliError as exc:
            self.echo(f"✗ reload failed: {exc}")
            return
        where = ", ".join(f"{name} {ms:.0f}" for name, ms in result.timings_ms.items() if name != "prepare")
        self.echo(
            f"✓ v{version} live in {ms:.0f} ms from save · {tools_changed(self.manifest, result.manifest)}"
            f" (build {(built - started) * 1000:.0f}: {where}; upload {(uploaded - built) * 1000:.0f})"
        )
        self.manifest, self.version = result.manifest, version

    async def _watch(self) -> None:
        """Rebuild on every save, one build at a time. A build that fails in any way prints one line and
        leaves the scheduler ready, so the next save builds again (a dev loop never stalls silently)."""
        latest_save = time.time()

        async def needs_build(changes: Changes) -> Changes:
            nonlocal latest_save
            dev_vars = self.dev_vars
            if dev_vars is not None and any(dev_vars.is_dev_vars(path) for _, path in changes):
                await asyncio.to_thread(dev_vars.apply)  # secrets: no rebuild, the runtime refetches
                changes = {(change, path) for change, path in changes if not dev_vars.is_dev_vars(path)}
            if changes:
                latest_save = latest_mtime(path for _, path in changes) or time.time()
            return changes

        async def rebuild() -> None:
            try:
                await self._rebuild(latest_save)
            except Exception as exc:  # unforeseen: say it, keep the loop alive
                self.echo(f"✗ rebuild failed: {type(exc).__name__}: {exc}; save again to retry")

        await watch_and_rebuild(self.project_dir, self._stop, self.scheduler, rebuild, needs_build=needs_build)

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
