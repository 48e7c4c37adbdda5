"""Workers for a bundle still downloading: started from the unpacker's thread as soon as the archive's
manifest (its first entry) is read, so node boots while the rest of the archive lands (docs/sync.md)."""

from __future__ import annotations

import asyncio

from edge_protocol.manifest import Manifest

from .bundle_store import BundleStore
from .executor import Executor
from .worker_pool import WarmPool


class WarmStart:
    """One sync's early workers (`Executor.warm_up`). Whoever creates one awaits `result()` or
    `discard()`, so the task that starts them is never left unread."""

    def __init__(self, executor: Executor, store: BundleStore, loop: asyncio.AbstractEventLoop) -> None:
        self._executor = executor
        self._store = store
        self._loop = loop
        self._task: asyncio.Task[WarmPool | None] | None = None
        self._closed = False

    def manifest_read(self, manifest: Manifest) -> None:
        """Called in the unpacker's thread; runs on the loop before the unpacker's result arrives there
        (the loop runs thread-scheduled callbacks in order)."""
        self._loop.call_soon_threadsafe(self._start, manifest)

    def _start(self, manifest: Manifest) -> None:
        if self._task is None and not self._closed:
            bundle_dir = self._store.bundle_dir_for(manifest.checksum)
            self._task = asyncio.create_task(self._executor.warm_up(bundle_dir, manifest))

    async def result(self) -> WarmPool | None:
        """The started workers (None: none started, or they could not; `load` then starts its own)."""
        self._closed = True
        return await self._task if self._task is not None else None

    async def discard(self) -> None:
        """The bundle will not be loaded: stop what was started."""
        self._closed = True
        if self._task is None:
            return
        if not self._task.done():
            await asyncio.wait([self._task])
        if not self._task.cancelled() and self._task.exception() is None:
            await self._executor.discard(self._task.result())
