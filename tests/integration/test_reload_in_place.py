"""Reload in place (`reloadInPlace`, on in `edge-connector dev`): a new version loads into the serving
Node.js workers, shared chunks already loaded stay loaded, and anything that cannot load that way
either keeps the serving version (a broken tool) or falls back to new workers (another sandbox)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bundler.build import build_project
from bundler.node import node_binary
from edge_runtime.executor import BundleLoadError, Executor
from edge_runtime.workers import Worker
from tests.fixtures.projects.support import installed_npm_deps, make_project
from tests.support.bundles import JsTool, write_bundle

#: Imported by both tools, so esbuild puts it in a shared chunk; counts how often a worker evaluates it.
SHARED = "(globalThis as any).sharedLoads = ((globalThis as any).sharedLoads ?? 0) + 1;\nexport const tag = 'lib';\n"


def _tool(name: str, marker: str) -> str:
    return (
        'import { tag } from "../lib/shared";\n'
        f'export default {{ name: "{name}", description: "{name}", inputSchema: {{ type: "object" }},\n'
        f'  async run() {{ return {{ marker: "{marker}", tag, loads: (globalThis as any).sharedLoads, pid: process.pid }}; }} }};\n'
    )


def _pid_tool(marker: str, prelude: str = "") -> JsTool:
    return JsTool("who", f"return {{ marker: {marker!r}, pid: process.pid }};", prelude=prelude)


@pytest.fixture
async def executor(tmp_path) -> AsyncIterator[Executor]:
    made = Executor(2, 64, 30.0, node_binary(), logging.getLogger("tests.reload"), versions_dir=tmp_path / ".bundles")
    yield made
    await made.close(drain_timeout=2)


async def _answers(executor: Executor, tool: str, calls: int = 6) -> list[dict[str, Any]]:
    return [await executor.call(tool, {}, call_id=f"c{i}") for i in range(calls)]


async def test_a_new_version_loads_into_the_serving_workers_and_keeps_shared_chunks(tmp_path, executor):
    project = make_project(
        tmp_path / "project",
        node_modules=installed_npm_deps(),
        files={"src/lib/shared.ts": SHARED, "src/tools/a.ts": _tool("a", "v1"), "src/tools/b.ts": _tool("b", "v1")},
    )
    bundles = tmp_path / ".bundles"  # versions land side by side, as in the runtime's store
    first = build_project(project, bundles / "v1")
    await executor.load(first.out_dir, first.manifest)
    before = await _answers(executor, "a")
    assert {a["marker"] for a in before} == {"v1"} and {a["loads"] for a in before} == {1}

    (project / "src/tools/a.ts").write_text(_tool("a", "v2"))
    second = build_project(project, bundles / "v2")
    await executor.load(second.out_dir, second.manifest)
    after = await _answers(executor, "a")
    assert {a["marker"] for a in after} == {"v2"}
    assert {a["pid"] for a in after} <= {a["pid"] for a in before}  # the same Node.js processes
    assert {a["loads"] for a in after} == {1}  # the shared chunk was not evaluated again
    assert executor.manifest == second.manifest and executor.stats()["reloadsInPlace"] == 1


async def _load(executor: Executor, root: Path, tool: JsTool, **kwargs: Any) -> None:
    await executor.load(root, write_bundle(root, [tool], **kwargs))


async def test_a_version_that_fails_to_load_leaves_the_serving_one(tmp_path, executor):
    await _load(executor, tmp_path / ".bundles/v1", _pid_tool("v1"))
    before = await _answers(executor, "who")
    with pytest.raises(BundleLoadError, match="tool 'who' failed to load: broken at load"):
        await _load(executor, tmp_path / ".bundles/v2", _pid_tool("v2", prelude="throw new Error('broken at load');"))
    after = await _answers(executor, "who")
    assert {a["marker"] for a in after} == {"v1"}
    assert {a["pid"] for a in after} <= {a["pid"] for a in before}
    assert executor.stats()["reloadsInPlace"] == 0

    await _load(executor, tmp_path / ".bundles/v3", _pid_tool("v3"))  # fixed: in place again
    assert {a["marker"] for a in await _answers(executor, "who")} == {"v3"}
    assert executor.stats()["reloadsInPlace"] == 1


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda root: {"sandbox": {"env": ["EDGE_RELOAD_TEST"]}}, id="another sandbox request"),
        pytest.param(lambda root: {"name": "other-tools"}, id="another bundle"),
    ],
)
async def test_what_changes_how_workers_start_swaps_to_new_workers(
    tmp_path, executor, change: Callable[[Path], dict[str, Any]]
):
    await _load(executor, tmp_path / ".bundles/v1", _pid_tool("v1"))
    before = {a["pid"] for a in await _answers(executor, "who")}
    root = tmp_path / ".bundles/v2"
    await _load(executor, root, _pid_tool("v2"), **change(root))
    after = await _answers(executor, "who")
    assert {a["marker"] for a in after} == {"v2"}
    assert not before & {a["pid"] for a in after}
    assert executor.stats()["reloadsInPlace"] == 0


async def test_a_version_outside_the_versions_folder_gets_new_workers(tmp_path, executor):
    await _load(executor, tmp_path / ".bundles/v1", _pid_tool("v1"))
    before = {a["pid"] for a in await _answers(executor, "who")}
    await _load(executor, tmp_path / "elsewhere/v2", _pid_tool("v2"))  # the workers could not read it
    after = await _answers(executor, "who")
    assert {a["marker"] for a in after} == {"v2"} and not before & {a["pid"] for a in after}


async def test_without_the_setting_every_version_gets_new_workers(tmp_path):
    executor = Executor(1, 64, 30.0, node_binary(), logging.getLogger("tests.reload"))
    try:
        await _load(executor, tmp_path / ".bundles/v1", _pid_tool("v1"))
        before = {a["pid"] for a in await _answers(executor, "who", calls=1)}
        await _load(executor, tmp_path / ".bundles/v2", _pid_tool("v2"))
        after = await _answers(executor, "who", calls=1)
        assert after[0]["marker"] == "v2" and after[0]["pid"] not in before
    finally:
        await executor.close(drain_timeout=2)


async def test_a_late_answer_to_an_abandoned_prepare_is_not_taken_for_the_next(tmp_path):
    """A reload in place that another worker failed leaves this worker's prepare unanswered; its late
    answer (here: a load error) must not be read as the answer to the next prepare."""
    write_bundle(tmp_path / "broken", [_pid_tool("x", prelude="throw new Error('broken at load');")])
    write_bundle(tmp_path / "good", [_pid_tool("y")])
    broken, good = [("who", tmp_path / name / "dist" / "who.js") for name in ("broken", "good")]
    worker = await Worker.start(1, node_binary(), logging.getLogger("tests.reload"), lambda worker, message: None)
    try:
        await worker.load_tools([good], 30)
        for _ in range(5):
            abandoned = asyncio.create_task(worker.prepare_tools([broken], 30))
            await asyncio.sleep(0)  # let it send its request; then nobody waits for the answer
            abandoned.cancel()
            await worker.prepare_tools([good], 30)  # answered by its own reply, whatever arrives first
    finally:
        await worker.stop()
