"""Watching a project and rebuilding on save, shared by `dev` and the local MCP server: which paths
count, how saves coalesce into builds (never two at once, changes during a build give one more),
and a one-line summary of what a reload changed."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from edge_protocol.manifest import Manifest

#: Paths under the project whose changes never trigger a build.
_IGNORED_PARTS = {".edge", "node_modules", ".git", "dist", ".mock-platform"}

#: What the watcher reports: `{(change, path)}` (watchfiles' `Change` and an absolute path).
Changes = set[tuple[object, str]]


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


def latest_mtime(paths: Iterable[str]) -> float | None:
    """When the newest of `paths` was saved (None when none can be read any more)."""
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            pass
    return max(times) if times else None


async def watch_and_rebuild(
    project_dir: Path,
    stop: asyncio.Event,
    scheduler: RebuildScheduler,
    rebuild: Callable[[], Awaitable[None]],
    *,
    needs_build: Callable[[Changes], Awaitable[Changes]] | None = None,
) -> None:
    """Run `rebuild` after saves in `project_dir`, one build at a time, until `stop` is set.

    `needs_build` sees each batch of changes first, handles what needs no build (`.dev.vars`) and
    returns the rest; an empty rest starts nothing. A build still running at stop is cancelled.
    """
    from watchfiles import awatch

    building: asyncio.Task[None] | None = None

    async def build_loop() -> None:
        while True:
            await rebuild()
            if not scheduler.finished():
                return

    async with asyncio.TaskGroup() as builds:
        async for batch in awatch(
            project_dir,
            watch_filter=lambda _change, path: is_watched(path, project_dir),
            debounce=40,
            step=10,
            stop_event=stop,
            rust_timeout=200,
            yield_on_timeout=False,
        ):
            changes: Changes = set(batch)
            if needs_build is not None:
                changes = await needs_build(changes)
                if not changes:
                    continue
            if scheduler.changed():
                building = builds.create_task(build_loop())
        if building is not None:
            building.cancel()  # stopping: the TaskGroup awaits the cancelled build
