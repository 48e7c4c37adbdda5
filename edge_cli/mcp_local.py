"""`edge-connector mcp DIR`: a project's tools as a local stdio MCP server, no platform, no login.

The tools run exactly as a connector runs them: the project is built by the bundler, the archive
is staged and verified by the runtime's `BundleStore` (in `DIR/.edge/mcp/`), and calls go through
the runtime's `Executor` (its argument validation, deadlines and Node.js workers). The MCP side is
`edge_protocol.mcp`. A save rebuilds (the `dev` loop's watch filter and rebuild scheduler),
hot-swaps the executor's workers and sends `notifications/tools/list_changed`; a broken save is
logged and the last good build keeps serving.

stdout carries only MCP frames (the SDK's stdio transport points fd 1 at stderr while it serves);
everything else, tool console output included, is logged to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from bundler.build import BuildResult, build_project
from bundler.errors import BuildError
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.manifest import Manifest
from edge_protocol.mcp import ToolFailure, ToolListChanges, UnknownTool, build_server
from edge_runtime.bundle_store import BundleStore
from edge_runtime.executor import BundleLoadError, Executor

from .dotenv_file import DEV_VARS, DotenvError, read_secrets_file
from .errors import CliError
from .mcp_stdio import serve_stdio
from .project_watch import Changes, RebuildScheduler, tools_changed, watch_and_rebuild

log = logging.getLogger("edge_cli.mcp")

#: Where the staged bundles of a local MCP server live, beside `dev`'s runtime folder.
MCP_DIR = Path(".edge") / "mcp"


class LocalTools:
    """`ToolBackend` over the runtime's executor: the loaded bundle's tools, called in Node.js."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def tools(self, caller: Any) -> list[dict[str, Any]]:
        return [
            {"name": t.name, "description": t.description, "inputSchema": t.inputSchema, "outputSchema": t.outputSchema}
            for t in self.executor.tools
        ]

    async def call(self, caller: Any, name: str, arguments: dict[str, Any]) -> Any:
        try:
            return await self.executor.call(name, arguments, call_id=f"mcp_{uuid.uuid4().hex[:16]}")
        except ToolCallError as exc:
            if exc.kind is ToolErrorKind.TOOL_NOT_FOUND:
                raise UnknownTool(name) from None
            raise ToolFailure(exc.kind.value, exc.message, exc.code, exc.details) from None


class LocalMcpServer:
    """Build, load and serve one tool project over stdio until stdin closes or `stop()`."""

    def __init__(
        self,
        project_dir: Path,
        *,
        workers: int = 1,
        max_concurrency: int = 64,
        tool_timeout_s: float = 30.0,
        node: str | None = None,
        watch: bool = True,
    ) -> None:
        self.project_dir = project_dir.resolve()
        self.store = BundleStore(self.project_dir / MCP_DIR, logging.getLogger("edge_cli.mcp.store"))
        self.workers, self.max_concurrency, self.tool_timeout_s = workers, max_concurrency, tool_timeout_s
        self.node = node
        self.watch = watch
        self.executor: Executor | None = None
        self.manifest: Manifest | None = None
        self.scheduler = RebuildScheduler()
        self.changes: ToolListChanges | None = None
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    # --------------------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        from bundler.node import NodeNotFound, node_binary

        if not self.project_dir.is_dir():
            raise CliError(
                f"{self.project_dir} is not a folder", "Pass the tool project's folder: edge-connector mcp DIR"
            )
        try:
            node = self.node or node_binary()
        except NodeNotFound as exc:
            raise CliError(str(exc)) from None
        self.executor = Executor(
            self.workers,
            self.max_concurrency,
            self.tool_timeout_s,
            node,
            logging.getLogger("edge_runtime.executor"),
            scratch_root=self.project_dir / ".edge" / "scratch",
        )
        try:
            result = await asyncio.to_thread(self._build)
            if result is None:
                raise CliError("The first build failed (see above)", "Fix the error and start edge-connector mcp again")
            error = await self._load(result)
            if error:
                raise CliError(f"The tools did not load: {error}", "Fix the tool and start edge-connector mcp again")
            await self._serve()
        finally:
            await self.executor.close(drain_timeout=5)

    async def _serve(self) -> None:
        assert self.executor is not None
        server, self.changes = build_server(
            "edge-connector",
            edge_connector_version(),
            LocalTools(self.executor),
            lambda _ctx: None,
            instructions=f"Tools of the local project {self.project_dir.name}, run on this machine.",
        )
        try:
            await serve_stdio(server, self._stop, [self._watch] if self.watch else [])
        finally:
            self.changes.close()

    # ------------------------------------------------------------------------ build → load
    def _build(self) -> BuildResult | None:
        try:
            return build_project(self.project_dir, announce=lambda line: log.info("%s", line))
        except BuildError as exc:
            log.error("Build failed: %s", exc)
            return None

    async def _apply_dev_vars(self) -> None:
        """`.dev.vars` (dotenv) feeds `ctx.secrets` here as in `dev` (SPEC.md §11); a bad file keeps the old values."""
        assert self.executor is not None
        path = self.project_dir / DEV_VARS
        try:
            values = read_secrets_file(path) if path.is_file() else {}
        except (DotenvError, OSError) as exc:
            log.error("%s not applied: %s; the previous values stay", DEV_VARS, exc)
            return
        if values != self.executor.secrets:
            await self.executor.set_secrets(values)
            log.info("%s applied: %s", DEV_VARS, ", ".join(values) or "(no secrets)")

    async def _load(self, result: BuildResult) -> str | None:
        """Stage the archive like a connector would and load it into the executor; the error or None."""
        assert self.executor is not None
        try:
            bundle_dir, manifest = await asyncio.to_thread(
                self.store.stage_archive, result.archive_path, result.checksum
            )
            if self.manifest is None:
                await self._apply_dev_vars()  # before the first load, so its workers start with the secrets
            await self.executor.load(bundle_dir, manifest)
        except (BundleLoadError, OSError, ValueError) as exc:
            log.error("The new build did not load: %s; the last good build keeps serving", exc)
            return str(exc)
        await asyncio.to_thread(self.store.activate, bundle_dir, manifest)
        log.info("Serving %s: %s", manifest.bundle, tools_changed(self.manifest, manifest))
        self.manifest = manifest
        return None

    async def _rebuild(self) -> None:
        started = time.perf_counter()
        result = await asyncio.to_thread(self._build)
        if result is None:
            log.warning("The last good build keeps serving")
            return
        if self.manifest is not None and result.checksum == self.manifest.checksum:
            log.info("No change in the bundle (%.0f ms)", (time.perf_counter() - started) * 1000)
            return
        if await self._load(result) is None and self.changes is not None:
            await self.changes.changed(None)
            log.info(
                "Reloaded in %.0f ms; told the client its tool list changed", (time.perf_counter() - started) * 1000
            )

    async def _watch(self) -> None:
        async def needs_build(changes: Changes) -> Changes:
            if any(Path(path).name == DEV_VARS for _, path in changes):
                await self._apply_dev_vars()  # secrets only: the workers are replaced, no rebuild
                if all(Path(path).name == DEV_VARS for _, path in changes):
                    return set()
            return changes

        await watch_and_rebuild(self.project_dir, self._stop, self.scheduler, self._rebuild, needs_build=needs_build)


def edge_connector_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edge-connector")
    except PackageNotFoundError:
        return "0.0.0+unknown"
