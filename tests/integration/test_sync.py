"""BundleSync with a real store, real Node.js workers and a real platform (or a tiny real HTTP server).

The platform serves what a platform can serve (uploads, assignments, archives); the hand-rolled
loopback server serves what no honest platform would (oversized and unsafe archives) and can hold a
download open, so the tests can trigger a sync while another one runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bundler.node import node_binary
from edge_protocol.errors import ToolCallError
from edge_protocol.limits import MAX_ARCHIVE_BYTES
from edge_protocol.manifest import FileEntry, Manifest, ToolDescriptor, content_checksum
from edge_runtime.bundle_store import BundleStore
from edge_runtime.executor import Executor
from edge_runtime.sync import BundleRef, BundleSync, Decision
from tests.support.bundles import JsTool, echo_tool, make_archive
from tests.support.waiting import async_wait_until

LOGGER = "tests.sync"


# ------------------------------------------------------------------------------------ helpers
@dataclass
class Harness:
    sync: BundleSync
    executor: Executor
    store: BundleStore
    install: Path
    swapped: list[Manifest] = field(default_factory=list)

    async def echo(self, **arguments: Any) -> Any:
        return await self.executor.call("echo", arguments, call_id="t")


@pytest.fixture
async def harness_factory(tmp_path):
    made: list[tuple[Harness, httpx.AsyncClient]] = []

    async def make(
        base_url: str, token: str = "test-token", interval: float = 600.0, *, max_concurrency: int = 64
    ) -> Harness:
        install = tmp_path / "install"
        store = BundleStore(install)
        executor = Executor(1, max_concurrency, 30, node_binary(), logging.getLogger(LOGGER))
        http = httpx.AsyncClient(base_url=base_url, timeout=10)
        swapped: list[Manifest] = []

        async def on_swapped(manifest: Manifest) -> None:
            swapped.append(manifest)

        async def token_provider() -> str:
            return token

        sync = BundleSync(
            store, executor, http, token_provider, interval, on_swapped, logging.getLogger(LOGGER), retry_initial=0.05
        )
        harness = Harness(sync, executor, store, install, swapped)
        made.append((harness, http))
        return harness

    yield make
    for harness, http in made:
        await harness.executor.close(drain_timeout=2)
        await http.aclose()


def upload(
    platform,
    token: str,
    work: Path,
    tools: list[JsTool],
    name: str = "test-tools",
    sandbox: dict[str, Any] | None = None,
) -> dict[str, Any]:
    path, manifest = make_archive(work, tools, name=name, sandbox=sandbox)
    response = httpx.post(
        f"{platform.url}/api/bundles/{name}/versions",
        content=path.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "X-Bundle-Checksum": manifest.checksum},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def set_default(platform, token: str, name: str = "test-tools", version: int | None = None) -> None:
    body = {"name": name, **({"version": version} if version else {})}
    response = httpx.put(
        f"{platform.url}/api/bundles/default", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text


def ref_of(info: dict[str, Any]) -> dict[str, Any]:
    return {"name": info["name"], "version": info["version"], "checksum": info["checksum"]}


def sync_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Bundle sync error: ")]


def huge_valid_archive():
    """A well-formed gzip'd tar past 50 MB (stored, not compressed), produced as it is sent: its
    manifest comes first (as every reader demands) and lists the big file, so only the size stops it."""
    packer = zlib.compressobj(0, zlib.DEFLATED, 31)  # level 0, gzip framing
    big = FileEntry("dist/big.bin", hashlib.sha256(b"\0" * (51 << 20)).hexdigest(), 51 << 20)
    manifest = Manifest(
        bundle="x",
        checksum=content_checksum([big]),
        files=[big],
        createdAt="2026-11-30T00:00:00Z",
        tools=[ToolDescriptor("big", "big", {"type": "object"}, "dist/big.bin")],
    )
    manifest_bytes = manifest.to_json().encode("utf-8")
    manifest_header = tarfile.TarInfo("manifest.json")
    manifest_header.size = len(manifest_bytes)
    yield packer.compress(manifest_header.tobuf(format=tarfile.PAX_FORMAT))
    yield packer.compress(manifest_bytes + b"\0" * (-len(manifest_bytes) % tarfile.BLOCKSIZE))
    header = tarfile.TarInfo("dist/big.bin")
    header.size = 51 << 20
    yield packer.compress(header.tobuf(format=tarfile.PAX_FORMAT))
    block = b"\0" * (1 << 20)
    for _ in range(51):
        yield packer.compress(block)
    yield packer.flush()


class LoopbackServer:
    """A real HTTP/1.1 server on 127.0.0.1 answering fixed routes; a route may wait for a gate."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any]] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.hits: dict[str, int] = {}
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self.server:
            self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            self.hits[path] = self.hits.get(path, 0) + 1
            if path in self.gates:
                await self.gates[path].wait()
            status, body = self.routes.get(path, (404, b'{"error": {"code": "not_found", "message": "no route"}}'))
            writer.write(f"HTTP/1.1 {status} X\r\nConnection: close\r\n\r\n".encode())
            chunks = body() if callable(body) else [body]
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def loopback():
    server = LoopbackServer()
    url = await server.start()
    yield server, url
    await server.stop()


# -------------------------------------------------------------------------------------- tests
async def test_no_assignment_warns_with_the_fix_and_shows_in_status(platform, harness_factory, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    h = await harness_factory(platform.url, platform.user_token())
    assert await h.sync.sync_now() is Decision.NOTHING_ASSIGNED
    warning = next(r.getMessage() for r in caplog.records if "No bundle assigned" in r.getMessage())
    assert "edge-connector bundle set-default" in warning
    status = h.sync.status()
    assert status["noBundleAssigned"] is True and status["lastSyncError"] is None and status["bundle"] is None
    assert status["lastSyncAt"] and status["nextSyncAt"]


async def test_poll_downloads_the_default_then_the_same_checksum_downloads_nothing(platform, harness_factory, tmp_path):
    token = platform.user_token()
    info = upload(platform, token, tmp_path / "v1", [echo_tool(tag="v1")])
    set_default(platform, token)
    h = await harness_factory(platform.url, token)
    assert await h.sync.sync_now() is Decision.DOWNLOAD
    assert await h.echo(n=1) == {"tag": "v1", "input": {"n": 1}}
    assert [m.version for m in h.swapped] == [info["version"]]
    active_dir, active = h.store.active()
    assert (active.checksum, active.version) == (info["checksum"], info["version"])
    assert (h.install / "dist" / "echo.js").is_file()
    status = h.sync.status()
    assert status["bundle"] == ref_of(info) and status["downloads"] == 1 and status["lastSwapMs"] > 0

    assert await h.sync.sync_now() is Decision.UP_TO_DATE
    h.sync.assigned(ref_of(info))
    assert await h.sync.sync_now() is Decision.UP_TO_DATE
    assert h.sync.status()["downloads"] == 1 and len(h.swapped) == 1


async def test_a_push_swaps_without_polling_and_a_restart_finds_it(platform, harness_factory, tmp_path):
    token = platform.user_token()
    upload(platform, token, tmp_path / "v1", [echo_tool(tag="v1")])
    v2 = upload(platform, token, tmp_path / "v2", [echo_tool(tag="v2")])
    h = await harness_factory(platform.url, token)
    runner = asyncio.create_task(h.sync.run())
    try:
        h.sync.assigned(ref_of(v2))  # bundle.updated params: no archiveUrl, derived from name + version
        await async_wait_until(lambda: len(h.swapped) == 1, timeout=10, message="the push to swap")
        assert await h.echo() == {"tag": "v2", "input": {}}
    finally:
        runner.cancel()
    restarted = BundleStore(h.install).recover()
    assert restarted is not None and restarted[1].checksum == v2["checksum"] and restarted[1].version == v2["version"]


async def test_refused_bundles_keep_the_old_one_serving_and_report_the_cause(
    platform, harness_factory, tmp_path, caplog, loopback
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    token = platform.user_token()
    v1 = upload(platform, token, tmp_path / "v1", [echo_tool(tag="v1")])
    broken = upload(
        platform,
        token,
        tmp_path / "v2",
        [echo_tool(tag="v2"), JsTool("broken", "return 1;", prelude="throw new Error('needs a missing module');")],
    )
    h = await harness_factory(platform.url, token)
    h.sync.assigned(ref_of(v1))
    await h.sync.sync_now()

    # 1. A tool that does not load.
    h.sync.assigned(ref_of(broken))
    assert await h.sync.sync_now() is None
    assert "tool 'broken' failed to load: needs a missing module" in sync_errors(caplog)[-1]
    # 2. The archive does not hold the checksum the platform announced.
    h.sync.assigned({**ref_of(v1), "checksum": "sha256:" + "e" * 64})
    assert await h.sync.sync_now() is None
    assert "checksum mismatch" in sync_errors(caplog)[-1]
    # 3. Network: the platform's archive route answers 404 for an unknown version.
    h.sync.assigned({**ref_of(v1), "version": 99, "checksum": "sha256:" + "d" * 64})
    assert await h.sync.sync_now() is None
    assert "HTTP 404" in sync_errors(caplog)[-1]

    # 4 + 5. What no platform would serve: an unsafe archive and one past 50 MB.
    server, url = loopback
    unsafe = io.BytesIO()
    with tarfile.open(fileobj=unsafe, mode="w:gz") as tar:
        entry = tarfile.TarInfo("../../outside.js")
        entry.size = 2
        tar.addfile(entry, io.BytesIO(b"//"))
    server.routes["/unsafe"] = (200, unsafe.getvalue())
    server.routes["/huge"] = (200, huge_valid_archive)
    h.sync.http = httpx.AsyncClient(base_url=url, timeout=10)
    try:
        h.sync.assigned(BundleRef("x", 4, "sha256:" + "c" * 64, archive_url="/unsafe"))
        assert await h.sync.sync_now() is None
        assert "unsafe path" in sync_errors(caplog)[-1]
        h.sync.assigned(BundleRef("x", 5, "sha256:" + "c" * 64, archive_url="/huge"))
        assert await h.sync.sync_now() is None
        assert f"over the limit of {MAX_ARCHIVE_BYTES:,} bytes" in sync_errors(caplog)[-1]
        h.sync.assigned(BundleRef("x", 6, "sha256:" + "c" * 64, size=MAX_ARCHIVE_BYTES + 1, archive_url="/huge"))
        assert await h.sync.sync_now() is None
        assert server.hits["/huge"] == 1  # the announced size alone refuses it
    finally:
        await h.sync.http.aclose()

    assert await h.echo() == {"tag": "v1", "input": {}}
    assert h.store.active()[1].checksum == v1["checksum"]
    assert BundleStore(h.install).recover()[1].checksum == v1["checksum"]
    assert not (tmp_path / "outside.js").exists() and not (h.install.parent / "outside.js").exists()
    assert sorted(p.name for p in (h.install / ".bundles").iterdir()) == [v1["checksum"][7:]]
    status = h.sync.status()
    assert status["lastSyncError"] and status["syncErrors"] == 6 and len(h.swapped) == 1


async def test_failures_retry_with_backoff_capped_at_the_interval(harness_factory, loopback, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    server, url = loopback
    h = await harness_factory(url, interval=0.4)
    runner = asyncio.create_task(h.sync.run())
    try:
        h.sync.request("test")  # the assignment route is missing: every poll fails
        await async_wait_until(lambda: len(sync_errors(caplog)) >= 4, timeout=10, message="retries")
    finally:
        runner.cancel()
    assert "the platform refused the assignment poll: HTTP 404 not_found: no route" in sync_errors(caplog)[0]
    assert h.sync._backoff.attempts >= 4


async def test_triggers_during_a_sync_coalesce_into_one_more(harness_factory, loopback, tmp_path):
    server, url = loopback
    path, manifest = make_archive(tmp_path / "v1", [echo_tool(tag="v1")])
    server.routes["/api/connectors/assignment"] = (
        200,
        json.dumps(
            {
                "assignedBundle": {
                    "name": "test-tools",
                    "version": 1,
                    "checksum": manifest.checksum,
                    "archiveUrl": "/archive",
                }
            }
        ).encode(),
    )
    server.routes["/archive"] = (200, path.read_bytes())
    server.gates["/archive"] = gate = asyncio.Event()
    h = await harness_factory(url)
    runner = asyncio.create_task(h.sync.run())
    try:
        h.sync.request("connected")
        await async_wait_until(lambda: server.hits.get("/archive") == 1, timeout=5)
        assert h.sync.status()["syncing"] is True
        for i in range(10):
            h.sync.request(f"poke {i}")
        gate.set()
        await async_wait_until(
            lambda: h.sync.status()["syncs"] == 2 and not h.sync.status()["syncing"],
            timeout=10,
            message="the coalesced second sync",
        )
        assert h.sync.status()["syncs"] == 2
    finally:
        runner.cancel()
    assert server.hits == {"/api/connectors/assignment": 2, "/archive": 1}
    assert await h.echo() == {"tag": "v1", "input": {}}


async def test_calls_running_across_a_swap_all_succeed_exactly_once(platform, harness_factory, tmp_path):
    token = platform.user_token()
    (tmp_path / "journal").mkdir()
    journal = tmp_path / "journal" / "journal.txt"
    writes_journal = {"permissions": {"fsWrite": [str(journal.parent)]}}  # outside the sandbox's scratch dir

    def tool(tag: str) -> JsTool:
        return JsTool(
            "work",
            f"""
            require('fs').appendFileSync(input.journal, ctx.callId + '\\n');
            await new Promise((r) => setTimeout(r, 5));
            return {{ tag: {json.dumps(tag)}, n: input.n }};
        """,
        )

    v1 = upload(platform, token, tmp_path / "v1", [tool("v1")], sandbox=writes_journal)
    v2 = upload(platform, token, tmp_path / "v2", [tool("v2")], sandbox=writes_journal)
    h = await harness_factory(platform.url, token, max_concurrency=64)
    h.sync.assigned(ref_of(v1))
    await h.sync.sync_now()

    # 16 callers keep calls flowing before, during and after the swap; the last 50 wait for it to end.
    results: dict[int, Any] = {}
    numbers = iter(range(200))
    swap_done = asyncio.Event()

    async def caller() -> None:
        for n in numbers:
            if n >= 150:
                await swap_done.wait()
            results[n] = await h.executor.call("work", {"journal": str(journal), "n": n}, call_id=f"call-{n}")

    calls = [asyncio.create_task(caller()) for _ in range(16)]
    await async_wait_until(lambda: len(results) >= 20, timeout=10)
    h.sync.assigned(ref_of(v2))
    assert await h.sync.sync_now() is Decision.DOWNLOAD
    swap_done.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert not [o for o in outcomes if isinstance(o, (ToolCallError, Exception))]
    assert sorted(results) == list(range(200)) and all(results[n]["n"] == n for n in results)
    tags = [results[n]["tag"] for n in range(200)]
    assert "v1" in tags and "v2" in tags, "the calls did not straddle the swap"
    lines = journal.read_text().split()
    assert sorted(lines) == sorted(f"call-{n}" for n in range(200))  # each ran exactly once
