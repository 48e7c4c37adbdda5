"""Bundle sync (SPEC.md §8 Sync): find what to run, download it, load it, swap it in.

Triggers: `assigned(ref)` (hello's `assignedBundle`, each `bundle.updated`), `request(reason)`, and a
poll of `GET /api/connectors/assignment` every `interval`. Triggers arriving while a sync runs
coalesce into one more sync afterwards. The decision is a pure function (`decide`); the I/O around
it is: stream the archive into the installation directory (capped at 50 MB), unpack and verify it
in a thread (`BundleStore.stage_archive`), require every tool to load in fresh workers
(`Executor.load`, calls keep flowing to the old workers meanwhile), then commit it on disk
(`BundleStore.activate`) and tell the platform (`on_swapped`). Any failure keeps the old bundle,
logs `Bundle sync error: <cause>`, and retries with backoff capped at the interval.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from edge_protocol.archive import ArchiveError, too_large_message
from edge_protocol.backoff import Backoff
from edge_protocol.limits import MAX_ARCHIVE_BYTES
from edge_protocol.manifest import Manifest
from edge_protocol.messages import BundleRef, InvalidMessage
from edge_protocol.origins import same_origin
from edge_protocol.routes import ASSIGNMENT_PATH

from .bundle_store import BundleStore
from .chunk_pipe import ChunkPipe, ReaderGone
from .executor import BundleLoadError, Executor
from .platform_errors import describe_http_error, describe_refusal, read_capped
from .warm_start import WarmStart

ASSIGNMENT_ROUTE = ASSIGNMENT_PATH
NO_BUNDLE_ASSIGNED = (
    "No bundle assigned to this deployment; assign one with `edge-connector bundle set-default NAME` "
    "(or `edge-connector bundle assign DEPLOYMENT_ID NAME`)"
)
#: First retry delay after a failed sync (doubling, capped at the sync interval).
RETRY_INITIAL_SECONDS = 5.0


class SyncError(Exception):
    """Why a sync failed, in words fit for `Bundle sync error: <cause>`."""


def bundle_ref_from_wire(data: Any) -> BundleRef | None:
    """`assignedBundle` / `bundle.updated` params as a `BundleRef` (None: nothing assigned)."""
    try:
        return BundleRef.optional_from_wire(data)
    except InvalidMessage as exc:
        raise SyncError(f"the platform sent a malformed bundle reference ({exc.message}): {data!r:.200}") from None


def archive_url_allowed(url: str, platform_base: str) -> bool:
    """A path on the platform, or an absolute URL on its origin (SPEC.md §9): the download carries the token."""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return url.startswith("/")
    return same_origin(url, platform_base)


class Decision(enum.Enum):
    NOTHING_ASSIGNED = "nothing_assigned"
    UP_TO_DATE = "up_to_date"
    DOWNLOAD = "download"


def decide(target: BundleRef | None, active: Manifest | None) -> Decision:
    """What a sync does, from what is assigned and what runs (no I/O)."""
    if target is None:
        return Decision.NOTHING_ASSIGNED
    if active is not None and active.checksum == target.checksum:
        return Decision.UP_TO_DATE
    return Decision.DOWNLOAD


_UNSET: Any = object()


class BundleSync:
    def __init__(
        self,
        store: BundleStore,
        executor: Executor,
        http: httpx.AsyncClient,
        token_provider: Callable[[], Awaitable[str]],
        interval: float,
        on_swapped: Callable[[Manifest], Awaitable[None]],
        logger: logging.Logger,
        *,
        deployment_id: str | None = None,
        retry_initial: float = RETRY_INITIAL_SECONDS,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.http = http
        self.token_provider = token_provider
        self.interval = interval
        self.on_swapped = on_swapped
        self.logger = logger
        self.deployment_id = deployment_id
        self.on_error = on_error  # told of every "Bundle sync error" (the /metrics counter)
        self._backoff = Backoff(initial=min(retry_initial, interval), maximum=interval)
        self._trigger = asyncio.Event()
        self._pushed: Any = _UNSET  # the latest ref handed to assigned(), not yet acted on
        self._reasons: list[str] = []
        self._syncing = False
        self._lock = asyncio.Lock()
        self._next_sync_at = time.time() + interval
        # What /statusz shows
        self.last_sync_at: float | None = None
        self.last_sync_error: str | None = None
        self.assigned_ref: BundleRef | None = None
        self.nothing_assigned = False
        self.syncs = 0
        self.sync_errors = 0
        self.downloads = 0
        self.last_swap_ms: float | None = None
        self.last_download_bytes: int | None = None

    # ---------------------------------------------------------------------------- triggers
    def assigned(self, ref: dict[str, Any] | BundleRef | None) -> None:
        """The platform said what to run (hello's `assignedBundle`, `bundle.updated` params): sync now."""
        self._pushed = ref
        self._reasons.append("assigned")
        self._trigger.set()

    def request(self, reason: str) -> None:
        """Sync as soon as possible, asking the platform what is assigned."""
        self._reasons.append(reason)
        self._trigger.set()

    # -------------------------------------------------------------------------------- loop
    async def start_installed(self) -> Manifest | None:
        """At start: repair the installation directory and load the bundle found there, if any."""
        found = await asyncio.to_thread(self.store.recover)
        if found is None:
            return None
        bundle_dir, manifest = found
        try:
            await self.executor.load(bundle_dir, manifest)
        except BundleLoadError as exc:
            self._failed(f"the installed bundle does not load: {exc}")
            return None
        return manifest

    async def run(self) -> None:
        """Sync on every trigger and every `interval` until cancelled."""
        while True:
            delay = max(0.0, self._next_sync_at - time.time())
            try:
                await asyncio.wait_for(self._trigger.wait(), delay)
            except TimeoutError:
                self._reasons.append("interval")
            await self.sync_now()

    async def sync_now(self) -> Decision | None:
        """One sync with every trigger gathered so far; returns what it decided (None on failure)."""
        async with self._lock:
            return await self._sync_gathered()

    async def _sync_gathered(self) -> Decision | None:
        self._trigger.clear()
        pushed, self._pushed = self._pushed, _UNSET
        reasons, self._reasons = self._reasons, []
        self._syncing = True
        try:
            decision = await self._sync(pushed, reasons)
        except Exception as exc:  # noqa: BLE001 - the sync loop must outlive any one failure
            if isinstance(exc, SyncError):
                self._failed(str(exc))
            else:
                self.logger.debug("Unexpected failure during bundle sync", exc_info=True)
                self._failed(f"{exc.__class__.__name__}: {exc}")
            self._next_sync_at = time.time() + min(self.interval, self._backoff.next_delay())
            return None
        finally:
            self._syncing = False
        self.last_sync_error = None
        self._backoff.reset()
        self._next_sync_at = time.time() + self.interval
        return decision

    def _failed(self, cause: str) -> None:
        self.sync_errors += 1
        if self.on_error is not None:
            self.on_error()
        self.last_sync_at = time.time()
        self.last_sync_error = cause
        self.logger.error("Bundle sync error: %s", cause)

    async def _sync(self, pushed: Any, reasons: list[str]) -> Decision:
        if pushed is _UNSET:
            target = await self._poll_assignment()
        elif pushed is None or isinstance(pushed, BundleRef):
            target = pushed
        else:
            target = bundle_ref_from_wire(pushed)
        self.assigned_ref = target
        active = self.executor.manifest
        decision = decide(target, active)
        self.syncs += 1
        self.last_sync_at = time.time()
        if decision is Decision.NOTHING_ASSIGNED:
            self.nothing_assigned = True
            self.logger.warning(NO_BUNDLE_ASSIGNED)
            return decision
        self.nothing_assigned = False
        assert target is not None
        if decision is Decision.UP_TO_DATE:
            self.logger.debug("Bundle %s is up to date (%s); nothing to download", target.label(), target.checksum)
            return decision
        await self._install(target, reasons)
        return decision

    # --------------------------------------------------------------------------------- I/O
    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token_provider()}"}

    async def _poll_assignment(self) -> BundleRef | None:
        params = {"deploymentId": self.deployment_id} if self.deployment_id else None
        try:
            response = await self.http.get(ASSIGNMENT_ROUTE, params=params, headers=await self._headers())
        except httpx.HTTPError as exc:
            raise SyncError(
                f"could not ask the platform for the assigned bundle ({describe_http_error(exc)})"
            ) from None
        if response.status_code != 200:
            raise SyncError(
                f"the platform refused the assignment poll: {describe_refusal(response.status_code, response.content)}"
            )
        try:
            return bundle_ref_from_wire(response.json().get("assignedBundle"))
        except (ValueError, AttributeError):
            raise SyncError("the platform answered the assignment poll with something that is not JSON") from None

    async def _install(self, target: BundleRef, reasons: list[str]) -> None:
        started = time.monotonic()
        self.logger.info(
            "Downloading bundle %s (%s)",
            target.label(),
            target.checksum,
            extra={"bundle": target.name, "reasons": ",".join(sorted(set(reasons)))},
        )
        warming = WarmStart(self.executor, self.store, asyncio.get_running_loop())
        try:
            size, downloaded, (bundle_dir, manifest) = await self._download_and_stage(target, warming)
            warm = await warming.result()
        except BaseException:
            await asyncio.shield(warming.discard())
            raise
        self.downloads += 1
        mismatch = target.tools_mismatch(tool.name for tool in manifest.tools)
        if mismatch is not None:
            await self.executor.discard(warm)
            await asyncio.to_thread(self.store.discard, bundle_dir)
            raise SyncError(f"bundle {target.label()} refused: {mismatch}; the previous bundle keeps serving")
        self.last_download_bytes = size
        verified = time.monotonic()
        manifest = manifest.with_version(target.version)
        try:
            await self.executor.load(bundle_dir, manifest, warm)
        except BundleLoadError as exc:
            await asyncio.to_thread(self.store.discard, bundle_dir)
            raise SyncError(f"bundle {target.label()} refused: {exc}") from None
        serving = time.monotonic()
        self.last_swap_ms = (serving - started) * 1000
        try:
            # After the swap (the files' fsync is in here): serving needs them in the page cache, not on disk.
            await asyncio.to_thread(self.store.activate, bundle_dir, manifest)
        except OSError as exc:
            # The new workers serve already; only the on-disk commit failed, so a restart runs the old one.
            raise SyncError(f"bundle {target.label()} is serving but could not be saved: {exc}") from None
        self.logger.info(
            "Bundle %s is now serving (%d tools; %.0f ms: download %.0f, verify %.0f, load + swap %.0f; "
            "then saved in %.0f)",
            target.label(),
            len(manifest.tools),
            self.last_swap_ms,
            (downloaded - started) * 1000,
            (verified - downloaded) * 1000,
            (serving - verified) * 1000,
            (time.monotonic() - serving) * 1000,
            extra={"bundle": target.name, "checksum": target.checksum, "bytes": size},
        )
        try:
            # Announced once committed: what the platform hears of survives a restart.
            await self.on_swapped(manifest)
        except Exception as exc:  # telling the platform is best effort; the next hello re-registers
            self.logger.warning("Could not announce the new tools to the platform: %s", exc)

    async def _download_and_stage(
        self, target: BundleRef, warming: WarmStart
    ) -> tuple[int, float, tuple[Path, Manifest]]:
        """Stream the archive straight into the verifying unpacker (a thread), so both run at once; the
        new workers start as soon as the manifest (the archive's first entry) is read.

        Returns the bytes received, when the download ended, and the staged bundle. Memory stays
        bounded: at most `ChunkPipe.MAX_BUFFERED` bytes wait between the two.
        """
        loop = asyncio.get_running_loop()
        pipe = ChunkPipe(loop)

        def stage() -> tuple[Path, Manifest]:
            try:
                return self.store.stage_archive(pipe, target.checksum, on_manifest=warming.manifest_read)
            finally:
                pipe.reader_done()

        staging = loop.run_in_executor(None, stage)
        try:
            await self._download(target, pipe)
            pipe.finish()
        except ReaderGone:
            pipe.finish()  # the unpacker stopped first: its result or its error says why
        except BaseException:
            pipe.finish(SyncError("the download stopped"))  # the unpacker removes what it wrote
            await asyncio.wait([staging])
            if not staging.cancelled():
                staging.exception()  # retrieved: the download's own error is the one to report
            raise
        downloaded = time.monotonic()
        try:
            staged = await staging
        except ArchiveError as exc:
            raise SyncError(f"bundle {target.label()} refused: {exc}") from None
        except OSError as exc:
            raise SyncError(f"could not unpack bundle {target.label()} into {self.store.install_dir}: {exc}") from None
        return pipe.written, downloaded, staged

    async def _download(self, target: BundleRef, pipe: ChunkPipe) -> None:
        if target.size is not None and target.size > MAX_ARCHIVE_BYTES:
            raise SyncError(f"bundle {target.label()} refused: {too_large_message(target.size)}")
        if not archive_url_allowed(target.url, str(self.http.base_url)):
            raise SyncError(
                f"bundle {target.label()} refused: its archive URL {target.url!r:.200} is not on the "
                "platform's origin (the runtime's token goes only to its platform)"
            )
        received = 0
        try:
            async with self.http.stream("GET", target.url, headers=await self._headers()) as response:
                if response.status_code != 200:
                    body = await read_capped(response, 65536)
                    raise SyncError(
                        f"download of bundle {target.label()} failed: {describe_refusal(response.status_code, body)}"
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
                    raise SyncError(f"bundle {target.label()} refused: {too_large_message(int(declared))}")
                async for chunk in response.aiter_bytes():  # as received: re-chunking would copy
                    received += len(chunk)
                    if received > MAX_ARCHIVE_BYTES:
                        raise SyncError(f"bundle {target.label()} refused: {too_large_message(received)}")
                    await pipe.write(chunk)
        except httpx.HTTPError as exc:
            raise SyncError(f"download of bundle {target.label()} failed ({describe_http_error(exc)})") from None

    # ------------------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        manifest = self.executor.manifest
        return {
            "bundle": manifest.ref() if manifest else None,
            "assignedBundle": self.assigned_ref.to_wire() if self.assigned_ref else None,
            "noBundleAssigned": self.nothing_assigned,
            "syncing": self._syncing,
            "lastSyncAt": _iso(self.last_sync_at),
            "lastSyncError": self.last_sync_error,
            "nextSyncAt": _iso(self._next_sync_at),
            "syncs": self.syncs,
            "syncErrors": self.sync_errors,
            "downloads": self.downloads,
            "lastSwapMs": round(self.last_swap_ms, 1) if self.last_swap_ms is not None else None,
            "lastDownloadBytes": self.last_download_bytes,
        }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
