"""The tool executor (SPEC.md §8): a pool of Node.js workers running the active bundle's tools.

A call is checked here before any byte goes to node: the tool must exist (`tool_not_found`), the
arguments must satisfy its `inputSchema` (`invalid_arguments`, validators compiled once per load),
and fewer than `max_concurrency` calls may be in flight (`overloaded`). It then goes to the least
busy ready worker with a deadline of min(call timeoutMs, tool timeoutMs, toolTimeoutSeconds).

At the deadline the caller gets `tool_timeout` at once and the worker is told to abort `ctx.signal`;
a worker that has not settled that call 1 s later is killed and replaced while the other workers
keep serving. A worker that exits for any reason fails only its own calls (`tool_crashed`) and is
replaced. `load()` swaps bundles without dropping a call: the new pool must load every tool before
it takes calls; calls already running finish on the old pool, which is then stopped.

What a call must pass before it runs is `call_admission`; a loaded bundle's workers are a `worker_pool`;
when a new version may load into the serving workers instead of new ones is `reload_in_place`.
Over 400 lines on purpose: loading, calling, deadlines and restarts all move the same pools and
pending calls, and read best as one class.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import orjson

from edge_protocol.calls import call_deadline_ms, invalid_arguments
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.manifest import Manifest, ToolDescriptor

from .call_admission import admit_call, timeout_error
from .logs import register_secret
from .reload_in_place import can_reload_in_place, prepare_everywhere
from .sandbox import SandboxRefused, check_grants, permission_flags, scratch_dir_for, worker_environment
from .worker_pool import FAST_CRASH_SECONDS, BundleLoadError, WarmPool, WorkerPool, compile_schema
from .workers import HOST_SCRIPT, InFlight, ToolLogSink, Worker, WorkerLoadError

#: How long a worker may keep running a call past its deadline before it is killed and replaced.
STUCK_GRACE_SECONDS = 1.0
#: How long loading a bundle's tools may take in a fresh worker.
LOAD_TIMEOUT_SECONDS = 30.0


class Executor:
    """Runs tool calls of the loaded bundle in Node.js workers; see the module docstring."""

    def __init__(
        self,
        workers: int,
        max_concurrency: int,
        tool_timeout_s: float,
        node: str,
        logger: logging.Logger,
        *,
        scratch_root: Path | None = None,
        host_env: Mapping[str, str] | None = None,
        protected_paths: list[Path] | None = None,
        versions_dir: Path | None = None,
    ) -> None:
        """`scratch_root` holds each bundle's scratch dir (default: a fresh temporary folder);
        `host_env` is what the worker environment is filtered from (default: this process's);
        `protected_paths` (the installation directory, the token file) no permission grant may open;
        `versions_dir`: reload in place (reload_in_place.py): a new version stored in this folder loads into
        the serving workers when it can, and those workers may read the whole folder."""
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.scratch_root = Path(scratch_root) if scratch_root else Path(tempfile.mkdtemp(prefix="edge-scratch-"))
        self.host_env = dict(os.environ if host_env is None else host_env)
        self.protected_paths = list(protected_paths or [])
        self.versions_dir = versions_dir.resolve() if versions_dir is not None else None
        self.reloads_in_place = 0
        self._secrets: dict[str, str] | None = None  # None until the first delivery (or when none come)
        self.worker_count = workers
        self.max_concurrency = max_concurrency
        self.tool_timeout_ms = int(tool_timeout_s * 1000)
        self.node = node
        self.logger = logger
        self._pool: WorkerPool | None = None
        self._old_pools: set[WorkerPool] = set()
        self._ids = itertools.count(1)
        self._pending = 0  # calls whose caller is still waiting (the overload measure)
        self._closing = False
        self._load_lock = asyncio.Lock()
        self._worker_numbers = itertools.count(1)
        self._background: set[asyncio.Task] = set()
        self._settled: asyncio.Future | None = None
        self.calls_per_tool: Counter[str] = Counter()
        self.errors_per_kind: Counter[str] = Counter()
        self.worker_restarts = 0
        #: Where the tools' console lines go besides the log (the runtime's live-tail forwarder).
        self.tool_log_sink: ToolLogSink | None = None
        #: True while someone tails this connector: lines go to the sink (otherwise they are not even
        #: decoded for it), and a call's lines are handed on before its answer.
        self.order_tool_logs: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------------------ surface
    @property
    def manifest(self) -> Manifest | None:
        return self._pool.manifest if self._pool else None

    @property
    def tools(self) -> list[ToolDescriptor]:
        return list(self._pool.manifest.tools) if self._pool else []

    @property
    def in_flight(self) -> int:
        return self._pending

    def stats(self) -> dict[str, Any]:
        pool = self._pool
        return {
            "workers": sum(1 for w in pool.workers if w.alive) if pool else 0,
            "workersReady": sum(1 for w in pool.workers if w.ready and w.alive) if pool else 0,
            "inFlight": self._pending,
            "maxConcurrency": self.max_concurrency,
            "workerRestarts": self.worker_restarts,
            "reloadsInPlace": self.reloads_in_place,
            "callsPerTool": dict(self.calls_per_tool),
            "errorsPerKind": dict(self.errors_per_kind),
        }

    # --------------------------------------------------------------------------------- load
    @property
    def secrets(self) -> dict[str, str]:
        return dict(self._secrets or {})

    async def load(self, bundle_dir: Path, manifest: Manifest, warm: WarmPool | None = None) -> None:
        """Start a pool on `bundle_dir`; swap it in only if every worker loaded every tool.

        `warm` (from `warm_up`) supplies workers already started for this bundle. Raises
        BundleLoadError (the previous pool keeps serving). Loads are serialised.
        """
        async with self._load_lock:
            if self._reloadable_in_place(Path(bundle_dir), manifest):
                await self.discard(warm)
                if await self._reload_in_place(Path(bundle_dir), manifest):
                    return
            await self._load_locked(Path(bundle_dir), manifest, self.secrets, "Loaded", warm)

    async def warm_up(self, bundle_dir: Path, manifest: Manifest) -> WarmPool | None:
        """Start the Node.js workers of a bundle whose files are still arriving in `bundle_dir`, so that
        `load(..., warm=)` only has to require its tools. None when they cannot start (load starts its own)."""
        if self._closing or self._reloadable_in_place(Path(bundle_dir), manifest):
            return None
        try:
            pool = self._new_pool(Path(bundle_dir), manifest, self.secrets)
        except BundleLoadError:
            return None  # load() says why
        self._old_pools.add(pool)  # not serving yet; listed so that close() stops it too
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self.worker_count):
                    group.create_task(self._spawn_worker(pool))
        except Exception as failed:  # noqa: BLE001 - node would not start: load() retries and reports it
            self.logger.debug("Could not start workers ahead of the bundle: %r", failed)
            await self._stop_pool(pool, drain_timeout=0)
            self._old_pools.discard(pool)
            return None
        return WarmPool(pool)

    async def discard(self, warm: WarmPool | None) -> None:
        """Stop workers from `warm_up` that will not be used (the bundle was refused)."""
        if warm is not None and not warm.used:
            warm.used = True
            await self._stop_pool(warm.pool, drain_timeout=0)
            self._old_pools.discard(warm.pool)

    async def set_secrets(self, secrets: Mapping[str, str]) -> bool:
        """New secrets for new calls: workers are replaced like in a swap (calls in flight finish on the
        old ones). Returns False when the new workers could not start (the old ones keep serving)."""
        secrets = {str(k): str(v) for k, v in secrets.items()}
        for value in secrets.values():
            register_secret(value)
        async with self._load_lock:
            if secrets == self._secrets:
                return True
            pool = self._pool
            if pool is None or self._closing:
                self._secrets = secrets
                return True
            try:
                await self._load_locked(pool.bundle_dir, pool.manifest, secrets, "Reloaded secrets for")
            except BundleLoadError as exc:
                self.logger.error("Could not apply the new secrets: %s; the previous workers keep serving", exc)
                return False
            self._secrets = secrets
            return True

    def _new_pool(self, bundle_dir: Path, manifest: Manifest, secrets: dict[str, str]) -> WorkerPool:
        """A pool with no workers yet: grants checked, schemas compiled, scratch dir made."""
        try:
            check_grants(manifest.sandbox, self.protected_paths)
        except SandboxRefused as exc:
            raise BundleLoadError(f"bundle {manifest.bundle!r} refused: {exc}") from None
        validators = {tool.name: compile_schema(tool) for tool in manifest.tools}
        scratch = scratch_dir_for(self.scratch_root, manifest.bundle)
        try:
            scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise BundleLoadError(f"cannot create the scratch directory {scratch}: {exc}") from None
        return WorkerPool(bundle_dir.resolve(), manifest, validators, scratch.resolve(), secrets, current=False)

    async def _load_locked(
        self, bundle_dir: Path, manifest: Manifest, secrets: dict[str, str], verb: str, warm: WarmPool | None = None
    ) -> None:
        pool = warm.take(bundle_dir, manifest, secrets) if warm is not None and not self._closing else None
        if pool is not None:
            self._old_pools.discard(pool)
        elif warm is not None:
            await self.discard(warm)  # started for another bundle, or with other secrets
        try:
            if self._closing:
                raise BundleLoadError("the executor is shutting down")
            _check_entries(bundle_dir, manifest)
            if pool is None:
                pool = self._new_pool(bundle_dir, manifest, secrets)
        except BaseException:
            if pool is not None:
                await self._stop_pool(pool, drain_timeout=0)
            raise
        started = time.monotonic()
        try:
            await self._start_workers(pool)
        except WorkerLoadError as exc:
            await self._stop_pool(pool, drain_timeout=0)
            raise _load_error(exc, manifest) from None
        except OSError as exc:
            await self._stop_pool(pool, drain_timeout=0)
            raise BundleLoadError(
                f"could not start Node.js ({self.node}): {exc}; set EC_NODE to a working node binary"
            ) from None
        except BaseException:
            await self._stop_pool(pool, drain_timeout=0)
            raise
        if self._closing:  # close() ran while the workers started: they must not outlive it
            await self._stop_pool(pool, drain_timeout=0)
            raise BundleLoadError("the executor is shutting down")
        previous, self._pool = self._pool, pool
        pool.current = True
        pool.ready_event.set()
        self.logger.info(
            "%s bundle %s (%d tools) in %d workers in %.0f ms; sandbox: %s",
            verb,
            _bundle_label(manifest),
            len(manifest.tools),
            self.worker_count,
            (time.monotonic() - started) * 1000,
            manifest.sandbox.summary(),
            extra={"bundle": manifest.bundle, "checksum": manifest.checksum},
        )
        if previous is not None:
            previous.current = False
            self._old_pools.add(previous)
            self._spawn(self._retire(previous))

    def _among_versions(self, bundle_dir: Path) -> bool:
        """Whether `bundle_dir` is one of the versions in `versions_dir` (reload in place is on)."""
        return self.versions_dir is not None and bundle_dir.resolve().parent == self.versions_dir

    def _reloadable_in_place(self, bundle_dir: Path, manifest: Manifest) -> bool:
        pool = self._pool
        return pool is not None and can_reload_in_place(
            enabled=self._among_versions(bundle_dir) and self._among_versions(pool.bundle_dir) and not self._closing,
            serving=pool.manifest,
            serving_secrets=pool.secrets,
            new=manifest,
            secrets=self.secrets,
            reloads=pool.reloads,
            workers_ready=sum(1 for w in pool.workers if w.ready and w.alive),
            workers_wanted=self.worker_count,
        )

    async def _reload_in_place(self, bundle_dir: Path, manifest: Manifest) -> bool:
        """Load `manifest`'s tools into the serving workers, then switch all of them at once.

        Raises BundleLoadError when a tool fails to load (every worker keeps the version it serves).
        False when a worker could not take part (it exited, or the load timed out): the caller swaps.
        """
        pool = self._pool
        assert pool is not None
        _check_entries(bundle_dir, manifest)
        validators = {tool.name: compile_schema(tool) for tool in manifest.tools}
        paths = [(tool.name, (bundle_dir / tool.entry).resolve()) for tool in manifest.tools]
        workers = list(pool.workers)
        started = time.monotonic()
        failure = await prepare_everywhere(workers, paths, LOAD_TIMEOUT_SECONDS)
        if isinstance(failure, WorkerLoadError) and failure.tool is not None:
            raise _load_error(failure, manifest)  # the new version's fault: every worker keeps the old one
        if failure is not None:
            # A worker exited or the load timed out: what the others hold is unknown. They are replaced
            # (running the serving version, see _watch) and the new version gets new workers.
            for worker in workers:
                if worker.alive:
                    worker.kill("a reload in place did not finish")
            self.logger.warning("Could not reload in place (%s); starting new workers instead", failure)
            return False
        for worker in workers:
            worker.commit_tools(bundle_dir.resolve())
        pool.bundle_dir, pool.manifest, pool.validators = bundle_dir.resolve(), manifest, validators
        pool.reloads += 1
        self.reloads_in_place += 1
        self.logger.info(
            "Reloaded bundle %s (%d tools) in place in %d workers in %.0f ms",
            _bundle_label(manifest),
            len(manifest.tools),
            len(workers),
            (time.monotonic() - started) * 1000,
            extra={"bundle": manifest.bundle, "checksum": manifest.checksum},
        )
        return True

    async def _start_workers(self, pool: WorkerPool) -> None:
        """Load the pool's workers together (starting those it lacks: all of them unless warmed up);
        the first failure stops the others and is raised alone."""
        started = [worker for worker in pool.workers if worker.alive]
        pool.workers[:] = started
        try:
            async with asyncio.TaskGroup() as group:
                for worker in started:
                    group.create_task(self._load_worker(pool, worker))
                for _ in range(self.worker_count - len(started)):
                    group.create_task(self._start_worker(pool))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _start_worker(self, pool: WorkerPool) -> Worker:
        return await self._load_worker(pool, await self._spawn_worker(pool))

    async def _spawn_worker(self, pool: WorkerPool) -> Worker:
        """A node process for the pool, not loaded yet. It starts in the scratch dir: the bundle's own
        directory may not exist yet, and `load_tools` enters it."""
        request = pool.manifest.sandbox
        in_place = self._among_versions(pool.bundle_dir)
        worker = await Worker.start(
            next(self._worker_numbers),
            self.node,
            self.logger,
            self._on_message,
            cwd=pool.scratch_dir,
            on_log=self._on_tool_log,
            forward_logs=self.order_tool_logs_now,
            node_flags=permission_flags(
                # Reloading in place, a worker reads the next versions too: they land beside this one.
                self.versions_dir if in_place and self.versions_dir else pool.bundle_dir,
                pool.scratch_dir,
                HOST_SCRIPT.resolve(),
                request,
                self.host_env,
            ),
            env=worker_environment(self.host_env, request, pool.scratch_dir, pool.secrets),
            host_args=["--reuse-chunks"] if in_place else None,
        )
        pool.workers.append(worker)
        self._spawn(self._watch(pool, worker))
        return worker

    async def _load_worker(self, pool: WorkerPool, worker: Worker) -> Worker:
        try:
            await worker.load_tools(
                pool.tool_paths(),
                LOAD_TIMEOUT_SECONDS,
                scratch_dir=pool.scratch_dir,
                secrets=pool.secrets,
                cwd=pool.bundle_dir,
            )
        except BaseException:
            if worker in pool.workers:
                pool.workers.remove(worker)
            await worker.stop()
            raise
        return worker

    async def _retire(self, pool: WorkerPool, drain_timeout: float | None = None) -> None:
        """Let the old pool's calls finish (bounded by the longest deadline + grace), then stop it."""
        if drain_timeout is None:
            drain_timeout = self.tool_timeout_ms / 1000 + STUCK_GRACE_SECONDS + 1
        await self._stop_pool(pool, drain_timeout)
        self._old_pools.discard(pool)

    async def _stop_pool(self, pool: WorkerPool, drain_timeout: float) -> None:
        pool.current = False
        deadline = time.monotonic() + drain_timeout
        while pool.in_flight() and time.monotonic() < deadline:
            # The last settle of a pool's calls wakes us (see _on_message); the timeout bounds a miss.
            await asyncio.wait(
                [self._settled_signal()],
                timeout=min(0.5, max(0.0, deadline - time.monotonic())),
                return_when=asyncio.FIRST_COMPLETED,
            )
        await asyncio.gather(*(w.stop() for w in list(pool.workers)), return_exceptions=True)
        await asyncio.gather(*(w.wait_closed() for w in list(pool.workers)), return_exceptions=True)

    def _settled_signal(self) -> asyncio.Future:
        """A future resolved the next time some worker's last call settles (drain waits on it)."""
        if self._settled is None or self._settled.done():
            self._settled = asyncio.get_running_loop().create_future()
        return self._settled

    def _notify_settled(self) -> None:
        if self._settled is not None and not self._settled.done():
            self._settled.set_result(None)

    # --------------------------------------------------------------------------------- call
    async def call(self, name: str, arguments: Any, *, call_id: str, timeout_ms: int | None = None) -> Any:
        """Run tool `name`; returns its JSON output or raises ToolCallError."""
        try:
            pool, tool = admit_call(
                self._pool,
                name,
                arguments,
                pending=self._pending,
                max_concurrency=self.max_concurrency,
                closing=self._closing,
            )
        except ToolCallError as exc:
            self.errors_per_kind[exc.kind.value] += 1
            raise

        deadline_ms = call_deadline_ms(timeout_ms, tool.timeoutMs, self.tool_timeout_ms)
        self._pending += 1
        self.calls_per_tool[name] += 1
        started = time.monotonic()
        try:
            worker = pool.pick()
            if worker is None:
                worker = await self._wait_for_worker(pool, started + deadline_ms / 1000, name, deadline_ms)
            remaining_ms = deadline_ms - (time.monotonic() - started) * 1000
            return await self._dispatch(worker, name, arguments, call_id, remaining_ms, deadline_ms)
        except ToolCallError as exc:
            self.errors_per_kind[exc.kind.value] += 1
            raise
        finally:
            self._pending -= 1

    async def _wait_for_worker(self, pool: WorkerPool, deadline: float, name: str, deadline_ms: int) -> Worker:
        """All workers are restarting or stuck: wait (within the call's deadline) for one to be ready."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timeout_error(name, deadline_ms)
            pool.ready_event.clear()
            try:
                await asyncio.wait_for(pool.ready_event.wait(), min(remaining, 0.25))
            except TimeoutError:
                pass
            worker = pool.pick()
            if worker is not None:
                return worker

    async def _dispatch(
        self, worker: Worker, name: str, arguments: Any, call_id: str, remaining_ms: float, deadline_ms: int
    ) -> Any:
        loop = asyncio.get_running_loop()
        call = InFlight(next(self._ids), name, loop.create_future())
        try:
            ordered = self.order_tool_logs()
            message = {"t": "call", "id": call.id, "tool": name, "input": arguments, "callId": call_id}
            frame = orjson.dumps({**message, "flush": True} if ordered else message)
        except TypeError as exc:  # e.g. an integer beyond 64 bits: refuse before it reaches a worker
            raise invalid_arguments(name, [{"path": "", "message": str(exc)}]) from None
        worker.in_flight[call.id] = call
        call.timer = loop.call_later(max(0.0, remaining_ms) / 1000, self._on_deadline, worker, call, deadline_ms)
        worker.send_call(call.id, frame, ordered)
        await worker.drain()
        return await call.future

    def _on_message(self, worker: Worker, message: dict[str, Any]) -> None:
        call_id = message.get("id")
        call = worker.in_flight.pop(call_id, None) if isinstance(call_id, int) else None
        if call is None:
            return
        if call.timer is not None:
            call.timer.cancel()
        if not call.future.done():
            if message.get("t") == "ok":
                call.future.set_result(message.get("v"))
            elif message.get("t") == "invalid":  # the tool's zod schema refused the input (host.mjs)
                details = message.get("details")
                call.future.set_exception(invalid_arguments(call.tool, details if isinstance(details, list) else []))
            else:
                code = str(message.get("code") or ToolErrorKind.TOOL_ERROR.value)
                call.future.set_exception(
                    ToolCallError(
                        ToolErrorKind.TOOL_ERROR, str(message.get("message", "")), code, message.get("details")
                    )
                )
        if worker.load == 0:
            self._notify_settled()

    def order_tool_logs_now(self) -> bool:
        """Whether a worker hands its lines to the sink right now."""
        return self.tool_log_sink is not None and self.order_tool_logs()

    def _on_tool_log(self, tool: str, call_id: str | None, level: str, text: str) -> None:
        sink = self.tool_log_sink
        if sink is not None:
            sink(tool, call_id, level, text)

    def _on_deadline(self, worker: Worker, call: InFlight, deadline_ms: int) -> None:
        if call.id not in worker.in_flight:
            return
        call.overdue = True
        if not call.future.done():
            call.future.set_exception(timeout_error(call.tool, deadline_ms))
        worker.send({"t": "abort", "id": call.id})
        asyncio.get_running_loop().call_later(STUCK_GRACE_SECONDS, self._kill_if_stuck, worker, call)

    def _kill_if_stuck(self, worker: Worker, call: InFlight) -> None:
        if call.id in worker.in_flight and worker.alive:
            self.logger.warning(
                "Tool %s did not stop within %.0f s of its deadline; restarting tool worker %d",
                call.tool,
                STUCK_GRACE_SECONDS,
                worker.index,
                extra={"tool": call.tool},
            )
            worker.kill(f"tool {call.tool!r} did not stop after its deadline")

    # ---------------------------------------------------------------------- worker lifecycle
    async def _watch(self, pool: WorkerPool, worker: Worker) -> None:
        """When a worker exits: fail its calls as tool_crashed and, if its pool serves, replace it."""
        await asyncio.shield(worker.exited)
        reason = worker.exit_reason or "exited"
        for call in list(worker.in_flight.values()):
            worker.in_flight.pop(call.id, None)
            if call.timer is not None:
                call.timer.cancel()
            if not call.future.done():
                call.future.set_exception(
                    ToolCallError(
                        ToolErrorKind.TOOL_CRASHED,
                        f"Tool {call.tool!r} crashed: its Node.js worker {reason}",
                    )
                )
        self._notify_settled()
        if not pool.current or self._closing or worker not in pool.workers:
            return
        pool.workers.remove(worker)
        self.worker_restarts += 1
        self.logger.warning(
            "Tool worker %d %s; starting a replacement", worker.index, reason, extra={"worker": worker.index}
        )
        self._spawn(worker.wait_closed())
        lived = time.monotonic() - worker.started_at
        pool.restart_backoff.connection_lost(lived)
        if lived < FAST_CRASH_SECONDS:
            await asyncio.sleep(pool.restart_backoff.next_delay())
        while pool.current and not self._closing:
            try:
                await self._start_worker(pool)
                pool.ready_event.set()
                return
            except (WorkerLoadError, OSError) as exc:
                self.logger.error("Could not restart a tool worker: %s", exc)
                await asyncio.sleep(pool.restart_backoff.next_delay())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A task that outlives the call that started it (a watcher, a retiring pool); `close()` ends them."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:  # read here, not lost with the task
            name = getattr(task.get_coro(), "__qualname__", task.get_name())
            self.logger.error("Executor task %s failed: %r", name, task.exception(), exc_info=task.exception())

    # -------------------------------------------------------------------------------- close
    async def close(self, drain_timeout: float = 10.0) -> None:
        """Refuse new calls, let calls in flight finish (up to `drain_timeout`), stop every worker."""
        self._closing = True
        pools = [p for p in [self._pool, *self._old_pools] if p is not None]
        await asyncio.gather(*(self._stop_pool(p, drain_timeout) for p in pools), return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*list(self._background), return_exceptions=True)


def _check_entries(bundle_dir: Path, manifest: Manifest) -> None:
    for tool in manifest.tools:
        if not (bundle_dir / tool.entry).is_file():
            raise BundleLoadError(f"tool {tool.name!r} failed to load: {tool.entry} is missing from the bundle")


def _load_error(exc: WorkerLoadError, manifest: Manifest) -> BundleLoadError:
    who = f"tool {exc.tool!r}" if exc.tool else f"bundle {manifest.bundle!r}"
    return BundleLoadError(f"{who} failed to load: {exc}")


def _bundle_label(manifest: Manifest) -> str:
    version = f" v{manifest.version}" if manifest.version is not None else ""
    return f"{manifest.bundle}{version} ({manifest.checksum[:19]}…)"
