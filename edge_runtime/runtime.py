"""The connector runtime process: lock, auth, health, executor, sync and the link to the platform.

`Runtime.run()` is the whole life of `edge-connector start`: it takes the directory lock, refuses to
start on problems an operator must fix (`StartupError`), then keeps one link to the platform up for
as long as it runs (reconnecting with backoff through `ConnectionPolicy`), and on `request_stop()`
drains calls in flight for up to 10 s, closes the link with 1000 and releases the lock.

Over 400 lines on purpose: the process's life (start, the reconnect loop, drain, shutdown) shares one
state and reads best in one place; what stands alone lives beside it (`connect_failures`,
`runtime_status`, `token_refresh`, `session`, `sync`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import httpx
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from edge_protocol import __version__, close_codes
from edge_protocol.backoff import Backoff
from edge_protocol.manifest import Manifest
from edge_protocol.messages import (
    BundleRef,
    HelloParams,
    LogEntry,
    ToolInfo,
    ToolsUpdated,
)
from edge_protocol.origins import insecure_allowed, insecure_refusal

from .auth import (
    AuthProblem,
    ClientCredentials,
    FileToken,
    TokenSource,
)
from .connect_failures import describe_connect_error, handshake_failure, is_expired_token
from .connection import ConnectionPolicy, Failure, FailureKind, LinkState
from .health import STATUSZ_PUBLIC_ENV, HealthPortInUse, HealthRoutes, HealthServer
from .lock import AlreadyRunning, RuntimeLock
from .log_forwarder import LogForwarder, LogShipper
from .metrics import METRICS_CONTENT_TYPE, RuntimeMetrics
from .net import TlsSetupError, http_client, open_websocket
from .runtime_status import register_gauges, status_document
from .session import HelloRefused, SeenCalls, Session
from .settings import Settings
from .token_refresh import serve_refreshing
from .tray import TrayHandle, maybe_start_tray

log = logging.getLogger("edge_runtime")

#: How long a stopping runtime lets calls in flight finish (SPEC.md §8).
DRAIN_SECONDS = 10.0


class StartupError(Exception):
    """A problem the operator must fix before the runtime can run; `start` prints it and exits 1."""


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.metrics = RuntimeMetrics(is_known_tool=self._is_known_tool)
        self.policy = ConnectionPolicy(
            Backoff(initial=settings.backoff_initial_seconds, maximum=settings.backoff_max_seconds),
            clock=time.monotonic,
        )
        self.lock = RuntimeLock(settings.install_dir)
        self.seen_calls = SeenCalls()
        # Tools' console lines to a live tail, only while the platform says someone watches (SPEC.md §13).
        self.log_forwarder = LogForwarder()
        self.log_shipper = LogShipper(self.log_forwarder, self._send_tool_logs)
        self.session: Session | None = None
        self.connector_id: str | None = None
        self.org_id: str | None = None
        self.deployment_id: str | None = settings.deployment_id
        self.accepting = True
        self.health: HealthServer | None = None
        self.executor: Any = None
        self.sync: Any = None
        self.secrets: Any = None  # SecretsSync: this deployment's tool secrets (SPEC.md §11)
        self.auth: TokenSource | None = None
        self._http: httpx.AsyncClient | None = None
        self._stop = asyncio.Event()
        self._fatal: str | None = None
        self._tray: TrayHandle | None = None

    # ============================================================================ lifecycle
    def request_stop(self) -> None:
        """Begin a graceful stop (SIGINT/SIGTERM): no new calls, drain, close 1000, release the lock."""
        if not self._stop.is_set():
            log.info("Stopping: finishing calls in flight (up to %.0fs)", DRAIN_SECONDS)
            self._stop.set()

    async def run(self) -> None:
        """Run until stopped; raises `StartupError` (or `AlreadyRunning`) for problems found at start
        and `StartupError` for a fatal problem found later (invalid deployment credentials)."""
        try:
            previous = self.lock.acquire()
        except AlreadyRunning:
            raise
        except OSError as exc:
            raise StartupError(
                f"Cannot lock {self.lock.path}: {exc}; check the installation directory's permissions"
            ) from None
        if previous is not None:
            log.warning(
                "Took over a stale lock in %s left by pid %s (started %s), which is no longer running",
                self.settings.install_dir,
                previous.pid,
                previous.started_at or "at an unknown time",
            )
        try:
            await self._start()
            log.info("Edge runtime %s running in %s (pid %d)", __version__, self.settings.install_dir, os.getpid())
            # The link and the sync live and die together: a bug in either stops the runtime loudly
            # instead of leaving it half alive, and stopping waits for both to have ended.
            async with asyncio.TaskGroup() as tasks:
                running = [tasks.create_task(self._connection_loop(), name="connection")]
                if self.sync is not None:
                    running.append(tasks.create_task(self.sync.run(), name="bundle-sync"))
                if self.secrets is not None:
                    running.append(tasks.create_task(self.secrets.run(), name="secrets-sync"))
                await self._stop.wait()
                await self._close_link()
                for task in running:
                    task.cancel()
        finally:
            await self._shutdown()
            self.lock.release()
        if self._fatal:
            raise StartupError(self._fatal)

    async def _start(self) -> None:
        settings = self.settings
        # SPEC.md §9: the token (or deployment secret) never crosses a network in clear text by default.
        refusal = insecure_refusal(settings.tool_rpc_url, "the connector's token or deployment secret")
        if refusal is not None and not insecure_allowed(os.environ):
            raise StartupError(f"{refusal} (TOOL_RPC_URL={settings.tool_rpc_url})")
        try:
            self._http = http_client(settings.platform_http_url)
        except TlsSetupError as exc:  # SSL_CERT_FILE/SSL_CERT_DIR unusable: nothing will connect until fixed
            raise StartupError(str(exc)) from None
        self.auth = self._token_source()
        try:
            info = self.auth.check_at_start()
        except AuthProblem as problem:
            raise StartupError(problem.message) from None
        if info is not None and not self.deployment_id:
            self.deployment_id = info.deployment_id

        self.health = HealthServer(
            settings.health_host,
            settings.health_port,
            HealthRoutes(
                is_ready=self.is_ready,
                status=self.status,
                metrics=self.metrics.render,
                metrics_content_type=METRICS_CONTENT_TYPE,
            ),
            statusz_public=os.environ.get(STATUSZ_PUBLIC_ENV, "").strip() == "1",
        )
        try:
            await self.health.start()
        except HealthPortInUse as exc:
            raise StartupError(str(exc)) from None
        log.info("Health server listening on %s (/livez /healthz /statusz /metrics)", self.health.url)
        self.lock.update(healthUrl=self.health.url)
        register_gauges(self)
        self._start_tray()

        await self._start_executor()

    def _start_tray(self) -> None:
        """The optional tray icon (off without a display, pystray or with EC_DISABLE_TRAY=1; logs why)."""
        loop = asyncio.get_running_loop()

        def status_for_tray() -> dict[str, Any]:
            # Called from the tray's thread: read the status on the event loop that owns it.
            async def read() -> dict[str, Any]:
                return self.status()

            return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=2)

        def stop_from_tray() -> None:
            loop.call_soon_threadsafe(self.request_stop)

        self._tray = maybe_start_tray(
            status_for_tray, stop_from_tray, log, health_url=self.health.url if self.health else None
        )

    def _token_source(self) -> TokenSource:
        settings = self.settings
        if settings.uses_client_credentials:
            assert settings.deployment_id and settings.deployment_secret and self._http is not None
            return ClientCredentials(
                settings.platform_http_url, settings.deployment_id, settings.deployment_secret, self._http
            )
        return FileToken(settings.token_path)

    async def _start_executor(self) -> None:
        from .bundle_store import BUNDLES_DIR, BundleStore
        from .executor import Executor
        from .sync import BundleSync

        settings = self.settings
        node = settings.node
        if not node:
            from bundler.node import NodeNotFound, node_binary

            try:
                node = node_binary()
            except NodeNotFound as exc:
                raise StartupError(str(exc)) from None
        from .sandbox import SCRATCH_DIR
        from .secrets_sync import SecretsSync

        self.executor = Executor(
            settings.workers,
            settings.max_concurrency,
            settings.tool_timeout_seconds,
            node,
            logging.getLogger("edge_runtime.executor"),
            scratch_root=settings.install_dir / SCRATCH_DIR,
            protected_paths=[settings.install_dir, settings.token_path],
            versions_dir=settings.install_dir / BUNDLES_DIR if settings.reload_in_place else None,
        )
        self.executor.tool_log_sink = self.log_shipper.line
        self.executor.order_tool_logs = lambda: self.log_forwarder.subscribed
        assert self.auth is not None and self._http is not None
        self.secrets = SecretsSync(
            self._http,
            self.auth.token,
            lambda: self.deployment_id,
            self.executor,
            logging.getLogger("edge_runtime.secrets"),
        )
        self.sync = BundleSync(
            BundleStore(settings.install_dir),
            self.executor,
            self._http,
            self.auth.token,
            settings.sync_interval_seconds,
            self._on_swapped,
            logging.getLogger("edge_runtime.sync"),
            deployment_id=self.deployment_id,
            on_error=self.metrics.sync_failed,
        )
        # Repairs a half-finished swap, then loads what is installed; a bundle that does not load is
        # logged as a sync error and the runtime runs on without tools until a good one arrives.
        manifest = await self.sync.start_installed()
        if manifest is None and self.executor.manifest is None:
            log.info("No bundle installed in %s yet; waiting for the platform to assign one", settings.install_dir)

    # ============================================================================ the link
    async def _connection_loop(self) -> None:
        settings = self.settings
        url = settings.tool_rpc_url
        while not self._stop.is_set():
            self.policy.attempting()
            try:
                failure = await self._connect_once(url)
            except Exception as exc:  # a bug must cost one link, never the runtime's will to reconnect
                log.exception("Unexpected error on the platform link")
                failure = Failure(FailureKind.LOST, f"unexpected error: {type(exc).__name__}: {exc}")
            if self._stop.is_set():
                return
            assert failure is not None
            if self.policy.state is LinkState.REGISTERED:
                delay = self.policy.lost(failure)
                if failure.kind is FailureKind.UNAUTHORIZED and self.settings.uses_client_credentials:
                    delay = 0.0  # the token ran out (close 4001) on a good link: a fresh one is one exchange away
                self.metrics.disconnected()
                log.warning("Disconnected from platform server: %s; reconnecting in %.1fs", failure.message, delay)
            else:
                delay = self.policy.refused(failure)
                log.error("Cannot connect to platform server %s: %s; retrying in %.1fs", url, failure.message, delay)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                pass

    async def _connect_once(self, url: str) -> Failure | None:
        """One attempt: token, handshake, hello, then serve until the link ends; returns why it ended."""
        assert self.auth is not None
        try:
            token = await self.auth.token()
        except AuthProblem as problem:
            if problem.fatal and self.settings.uses_client_credentials:
                # Wrong credentials do not fix themselves: stop with the explanation (exit 1).
                self._fatal = problem.message
                self.request_stop()
                return None
            return Failure(FailureKind.UNAUTHORIZED if problem.fatal else FailureKind.UNREACHABLE, problem.message)
        try:
            ws = await open_websocket(
                url, token, heartbeat_seconds=self.settings.heartbeat_seconds, deployment_id=self.deployment_id
            )
        except InvalidStatus as exc:
            response = exc.response
            body = bytes(response.body) if response.body is not None else None
            if is_expired_token(response.status_code, body):
                self.auth.invalidate()
            return handshake_failure(
                response.status_code, body, response.headers.get("Retry-After"), self.deployment_id
            )
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI) as exc:
            return Failure(FailureKind.UNREACHABLE, describe_connect_error(exc, url))
        self.policy.connected()
        self.log_forwarder.set_subscribed(False)  # a new link forwards nothing until the platform asks
        # Secrets before hello: calls routed here once it is registered already see them. A failed fetch
        # is retried by the secrets loop; the link does not wait for it.
        if self.secrets is not None and not await self.secrets.fetch_now() and self.secrets.last_error is not None:
            self.secrets.request("retry after connect")
        session = Session(
            ws,
            self.executor,
            seen=self.seen_calls,
            metrics=self.metrics,
            on_bundle_updated=self._on_bundle_updated,
            is_accepting=lambda: self.accepting,
            on_tail_changed=self.log_forwarder.set_subscribed,
            before_answer=self.log_shipper.flush,
            on_secrets_updated=self._on_secrets_updated,
        )
        try:
            hello = await session.hello(self._hello_params())
        except HelloRefused as refused:
            await session.close(
                close_codes.CLOSE_PROTOCOL_ERROR
                if refused.failure.kind is FailureKind.PROTOCOL
                else close_codes.CLOSE_NORMAL
            )
            return refused.failure
        self.session = session
        self.connector_id, self.org_id = hello.connector_id, hello.org_id
        self.deployment_id = hello.deployment_id or self.deployment_id
        self.policy.registered()
        tools = len(self.executor.tools)
        log.info(
            "Connected to platform server %s as connector %s (deployment %s, org %s); %d tools registered",
            url,
            hello.connector_id,
            self.deployment_id or "none",
            hello.org_id,
            tools,
        )
        if self.sync is not None:
            self.sync.assigned(hello.assigned_bundle)
        if self._stop.is_set():
            await session.close(close_codes.CLOSE_NORMAL, "runtime stopping")
            return None
        try:
            async with asyncio.TaskGroup() as link_tasks:
                shipping = link_tasks.create_task(self.log_shipper.run(), name="tool-logs")
                if isinstance(self.auth, ClientCredentials):
                    failure = await serve_refreshing(session, self.auth)
                else:
                    failure = await session.serve()
                shipping.cancel()
        finally:
            self.log_forwarder.set_subscribed(False)
            self.session = None
        if failure.kind is FailureKind.UNAUTHORIZED:
            self.auth.invalidate()
        return None if self._stop.is_set() else failure

    async def _send_tool_logs(self, entries: list[LogEntry]) -> None:
        session = self.session
        if session is not None:
            await session.tools_log(entries)

    def _hello_params(self) -> HelloParams:
        manifest: Manifest | None = self.executor.manifest
        return HelloParams(
            connector_version=__version__,
            deployment_id=self.deployment_id,
            bundle=_bundle_of(manifest) if manifest else None,
            tools=tuple(ToolInfo.from_manifest(tool) for tool in self.executor.tools),
            concurrency=self.settings.max_concurrency,
        )

    def _on_secrets_updated(self) -> None:
        """`secrets.updated` (SPEC.md §11): fetch this deployment's secrets again, at once."""
        if self.secrets is not None:
            self.secrets.request("secrets.updated")

    def _on_bundle_updated(self, bundle: BundleRef) -> None:
        log.info("Platform announced bundle %s; syncing now", bundle.label())
        if self.sync is not None:
            self.sync.assigned(bundle)

    def _is_known_tool(self, name: str) -> bool:
        manifest = self.executor.manifest if self.executor is not None else None
        return manifest is not None and manifest.tool(name) is not None

    async def _on_swapped(self, manifest: Manifest) -> None:
        """BundleSync's callback after a swap: re-register the tools on the live link (`tools.updated`)."""
        session = self.session
        if session is None:
            return  # the next hello carries the new tools
        await session.tools_updated(
            ToolsUpdated(_bundle_of(manifest), tuple(ToolInfo.from_manifest(tool) for tool in manifest.tools))
        )

    # ============================================================================ shutdown
    async def _close_link(self) -> None:
        """Stop taking calls, let the ones in flight finish (up to 10 s), close the link with 1000."""
        self.policy.stopping()
        session = self.session
        if session is not None:
            # SPEC.md §14: first `connector.draining`, so the platform sends its new calls to the other
            # replicas; calls it routed here before reading it still arrive and run (accepting stays on
            # until they are in), then the ones in flight finish and the link closes with 1000.
            started = time.monotonic()
            if not await session.announce_draining():
                log.warning("The platform did not confirm the drain; finishing the calls in flight anyway")
            self.accepting = False
            if not await session.drain(max(0.0, DRAIN_SECONDS - (time.monotonic() - started))):
                log.warning("Calls still running after %.0fs; stopping them", DRAIN_SECONDS)
                await session.cancel_calls()
            await session.close(close_codes.CLOSE_NORMAL, "runtime stopping")

    async def _shutdown(self) -> None:
        await self._close_link()  # already done on a normal stop; needed when starting failed half way
        if self.executor is not None:
            try:
                await self.executor.close(drain_timeout=1.0)
            except Exception as exc:
                log.warning("Stopping the tool workers failed: %s", exc)
        if self._tray is not None:
            await asyncio.to_thread(self._tray.stop)  # joins the tray's thread: keep the loop free meanwhile
        if self.health is not None:
            await self.health.stop()
        if self._http is not None:
            await self._http.aclose()
        self.policy.stopped()
        log.info("Edge runtime stopped")

    # ============================================================================ health & status (runtime_status.py)
    def is_ready(self) -> bool:
        return self.policy.healthy and self.accepting and not self._stop.is_set()

    def status(self) -> dict[str, Any]:
        return status_document(self)


def _bundle_of(manifest: Manifest) -> BundleRef:
    return BundleRef(manifest.bundle, manifest.version, manifest.checksum)
