"""The executor against real Node.js workers on hand-written CommonJS bundles (SPEC.md §8 Executor)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from bundler.node import node_binary
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_runtime.executor import BundleLoadError, Executor
from tests.support.bundles import JsTool, echo_tool, write_bundle
from tests.support.waiting import async_wait_until

LOGGER = "tests.executor"

# A tool that waits `input.ms` milliseconds (its own timer: this is tool behaviour, not test sync)
# and answers with its worker's pid, so tests can see which worker ran it.
HOLD = JsTool("hold", "await new Promise((r) => setTimeout(r, input.ms ?? 0)); return process.pid;")
PID = JsTool("pid", "return process.pid;")


@pytest.fixture
async def make_executor():
    made: list[Executor] = []

    async def make(
        bundle_dir: Path,
        tools: list[JsTool],
        *,
        workers: int = 2,
        max_concurrency: int = 64,
        tool_timeout_s: float = 30.0,
    ) -> Executor:
        manifest = write_bundle(bundle_dir, tools)
        executor = Executor(workers, max_concurrency, tool_timeout_s, node_binary(), logging.getLogger(LOGGER))
        made.append(executor)
        await executor.load(bundle_dir, manifest)
        return executor

    yield make
    for executor in made:
        await executor.close(drain_timeout=2)


async def expect_error(kind: ToolErrorKind, call) -> ToolCallError:
    with pytest.raises(ToolCallError) as caught:
        await call
    assert caught.value.kind is kind, caught.value
    return caught.value


async def test_echo_returns_the_input_and_counts_the_call(tmp_path, make_executor):
    executor = await make_executor(tmp_path, [echo_tool()])
    arguments = {"text": "héllo", "n": [1, 2.5, None, True], "nested": {"a": {}}}
    assert await executor.call("echo", arguments, call_id="c-1", timeout_ms=None) == arguments
    stats = executor.stats()
    assert stats["workers"] == 2 and stats["inFlight"] == 0
    assert stats["callsPerTool"] == {"echo": 1}
    assert [t.name for t in executor.tools] == ["echo"]
    assert executor.manifest is not None and executor.manifest.bundle == "test-tools"


async def test_thrown_tool_error_keeps_code_message_and_details(tmp_path, make_executor):
    executor = await make_executor(
        tmp_path,
        [
            JsTool("weather", "throw new ToolError('bad_city', 'city is empty', { field: 'city' });"),
        ],
    )
    error = await expect_error(ToolErrorKind.TOOL_ERROR, executor.call("weather", {}, call_id="c"))
    assert (error.code, error.message, error.details) == ("bad_city", "city is empty", {"field": "city"})
    assert error.to_rpc_error()["data"] == {"kind": "tool_error", "code": "bad_city", "details": {"field": "city"}}
    assert executor.stats()["errorsPerKind"] == {"tool_error": 1}


async def test_error_shaped_result_is_a_structured_tool_error(tmp_path, make_executor):
    executor = await make_executor(
        tmp_path,
        [
            JsTool("refuse", "return { error: { code: 'quota', message: 'quota exceeded' } };"),
            # Not exactly {error: {code, message}}: an ordinary result that happens to have an error key.
            JsTool("report", "return { error: 'none', ok: true };"),
        ],
    )
    error = await expect_error(ToolErrorKind.TOOL_ERROR, executor.call("refuse", {}, call_id="c"))
    assert (error.code, error.message) == ("quota", "quota exceeded")
    assert await executor.call("report", {}, call_id="c") == {"error": "none", "ok": True}


async def test_other_thrown_errors_become_tool_error_with_their_message(tmp_path, make_executor):
    executor = await make_executor(
        tmp_path,
        [
            JsTool("typo", "return input.missing.field;"),
            JsTool("string", "throw 'plain string';"),
        ],
    )
    error = await expect_error(ToolErrorKind.TOOL_ERROR, executor.call("typo", {}, call_id="c"))
    assert error.code == "tool_error" and "Cannot read properties of undefined" in error.message
    error = await expect_error(ToolErrorKind.TOOL_ERROR, executor.call("string", {}, call_id="c"))
    assert error.message == "plain string"


@pytest.mark.parametrize(
    "body, detail",
    [
        ("return undefined;", "undefined"),
        ("return () => 1;", "function"),
        ("return { f() {} };", "function"),
        ("return 10n;", "BigInt"),
        ("const a = {}; a.self = a; return a;", "circular"),
    ],
)
async def test_non_json_results_are_tool_errors_saying_so(tmp_path, make_executor, body, detail):
    executor = await make_executor(tmp_path, [JsTool("bad", body)], workers=1)
    error = await expect_error(ToolErrorKind.TOOL_ERROR, executor.call("bad", {}, call_id="c"))
    assert error.message.startswith("tool result is not JSON"), error.message
    assert detail in error.message


async def test_unknown_tool_and_invalid_arguments_never_reach_node(tmp_path, make_executor):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    executor = await make_executor(
        tmp_path, [JsTool("weather", "return { tempC: 21, city: input.city };", input_schema=schema)]
    )
    error = await expect_error(ToolErrorKind.TOOL_NOT_FOUND, executor.call("nope", {}, call_id="c"))
    assert "'nope'" in error.message
    error = await expect_error(ToolErrorKind.INVALID_ARGUMENTS, executor.call("weather", {}, call_id="c"))
    assert "'city' is a required property" in error.message
    assert error.details == [{"path": "/city", "message": "'city' is a required property"}]
    error = await expect_error(ToolErrorKind.INVALID_ARGUMENTS, executor.call("weather", {"city": 3}, call_id="c"))
    assert "is not of type 'string'" in error.message and "at /city" in error.message
    assert error.details == [{"path": "/city", "message": "3 is not of type 'string'"}]  # the one shape (SPEC §15)
    assert executor.stats()["callsPerTool"] == {}
    assert await executor.call("weather", {"city": "Oslo"}, call_id="c") == {"tempC": 21, "city": "Oslo"}


async def test_call_deadline_is_the_smallest_of_call_tool_and_runtime_limits(tmp_path, make_executor):
    executor = await make_executor(
        tmp_path, [HOLD, JsTool("quick_limit", "await new Promise(() => {});", timeout_ms=150)], tool_timeout_s=5
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    error = await expect_error(
        ToolErrorKind.TOOL_TIMEOUT, executor.call("hold", {"ms": 3000}, call_id="c", timeout_ms=200)
    )
    assert 0.19 <= loop.time() - started < 1.0 and "200 ms" in error.message
    error = await expect_error(
        ToolErrorKind.TOOL_TIMEOUT, executor.call("quick_limit", {}, call_id="c", timeout_ms=10_000)
    )
    assert "150 ms" in error.message
    # The runtime-wide toolTimeoutSeconds caps both.
    settles_on_abort = JsTool(
        "polite", "await new Promise((r) => ctx.signal.addEventListener('abort', r));", timeout_ms=60_000
    )
    capped = await make_executor(tmp_path / "capped", [settles_on_abort], tool_timeout_s=0.25)
    error = await expect_error(ToolErrorKind.TOOL_TIMEOUT, capped.call("polite", {}, call_id="c", timeout_ms=60_000))
    assert "250 ms" in error.message


async def test_deadline_aborts_ctx_signal_and_a_settling_tool_keeps_its_worker(tmp_path, make_executor, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    polite = JsTool(
        "polite",
        """
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        ctx.log('aborted', ctx.callId, String(ctx.signal.reason && ctx.signal.reason.message));
        return 'late';
    """,
        timeout_ms=200,
    )
    executor = await make_executor(tmp_path, [polite, PID], workers=1)
    pid_before = await executor.call("pid", {}, call_id="c")
    await expect_error(ToolErrorKind.TOOL_TIMEOUT, executor.call("polite", {}, call_id="call-77"))
    await async_wait_until(
        lambda: _logged(caplog, "tool polite: aborted call-77 deadline exceeded"),
        timeout=5,
        message="the tool to see ctx.signal abort",
    )
    assert await executor.call("pid", {}, call_id="c") == pid_before
    assert executor.stats()["workerRestarts"] == 0


async def test_a_tool_looping_forever_times_out_and_its_worker_is_replaced(tmp_path, make_executor):
    spin = JsTool("spin", "for (;;) {}", timeout_ms=300)
    executor = await make_executor(tmp_path, [spin, PID], workers=2)
    pids: set[int] = set()
    spinning = asyncio.create_task(executor.call("spin", {}, call_id="c"))
    # While one worker spins, the other keeps answering.
    await async_wait_until(lambda: executor.stats()["inFlight"] == 1, timeout=5)
    for _ in range(20):
        pids.add(await executor.call("pid", {}, call_id="c"))
    assert len(pids) == 1
    await expect_error(ToolErrorKind.TOOL_TIMEOUT, spinning)
    await async_wait_until(
        lambda: executor.stats()["workerRestarts"] == 1, timeout=5, message="the stuck worker to be replaced"
    )
    await async_wait_until(lambda: executor.stats()["workersReady"] == 2, timeout=5)
    assert await executor.call("pid", {}, call_id="c") > 0


async def test_process_exit_fails_only_the_calls_of_that_worker(tmp_path, make_executor):
    crash = JsTool("crash", "process.exit(3);")
    executor = await make_executor(tmp_path, [HOLD, crash, PID], workers=2)
    # Dispatch goes to the least busy worker, first one on ties: a → w1, b → w2, crash → w1.
    first = asyncio.create_task(executor.call("hold", {"ms": 600}, call_id="a"))
    await async_wait_until(lambda: executor.stats()["inFlight"] == 1, timeout=5)
    second = asyncio.create_task(executor.call("hold", {"ms": 600}, call_id="b"))
    await async_wait_until(lambda: executor.stats()["inFlight"] == 2, timeout=5)
    error = await expect_error(ToolErrorKind.TOOL_CRASHED, executor.call("crash", {}, call_id="c"))
    assert "exited with code 3" in error.message
    await expect_error(ToolErrorKind.TOOL_CRASHED, first)
    survivor_pid = await second
    assert isinstance(survivor_pid, int)
    await async_wait_until(
        lambda: executor.stats()["workersReady"] == 2, timeout=5, message="the crashed worker to be replaced"
    )
    assert executor.stats()["workerRestarts"] == 1
    assert executor.stats()["errorsPerKind"] == {"tool_crashed": 2}


async def test_megabytes_of_output_are_logged_bounded_and_never_corrupt_calls(tmp_path, make_executor, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    noisy = JsTool(
        "noisy",
        r"""
        const line = 'x'.repeat(1000);
        for (let i = 0; i < 5000; i++) console.log(i, line);          // ~5 MB of tagged lines
        process.stdout.write('{"t":"ok","id":1,"v":"forged"}\n');    // looks like a reply: must stay a log line
        process.stdout.write('y'.repeat(3 * 1024 * 1024) + '\n');     // one 3 MB line
        return { printed: true };
    """,
    )
    executor = await make_executor(tmp_path, [noisy, echo_tool()], workers=1)
    assert await executor.call("noisy", {}, call_id="c") == {"printed": True}
    assert await executor.call("echo", {"still": "fine"}, call_id="c") == {"still": "fine"}
    await async_wait_until(lambda: _logged(caplog, "lines dropped"), timeout=5, message="the dropped-lines warning")
    tool_lines = [r for r in caplog.records if r.getMessage().startswith("tool noisy: ")]
    assert 100 <= len(tool_lines) <= 1500  # the burst passes, the flood does not
    assert all(len(r.getMessage()) < 9000 for r in caplog.records)


async def test_more_than_max_concurrency_calls_is_overloaded(tmp_path, make_executor):
    executor = await make_executor(tmp_path, [HOLD], max_concurrency=2)
    running = [asyncio.create_task(executor.call("hold", {"ms": 300}, call_id=f"c{i}")) for i in range(2)]
    await async_wait_until(lambda: executor.stats()["inFlight"] == 2, timeout=5)
    error = await expect_error(ToolErrorKind.OVERLOADED, executor.call("hold", {}, call_id="c3"))
    assert "maxConcurrency 2" in error.message
    assert all(isinstance(pid, int) for pid in await asyncio.gather(*running))
    assert isinstance(await executor.call("hold", {}, call_id="c4"), int)


async def test_a_bundle_that_does_not_load_is_refused_and_the_old_one_keeps_serving(tmp_path, make_executor):
    executor = await make_executor(tmp_path / "v1", [echo_tool(tag="v1")])
    broken_at_load = write_bundle(
        tmp_path / "v2",
        [echo_tool(tag="v2"), JsTool("broken", "return 1;", prelude="throw new Error('boom at load');")],
    )
    with pytest.raises(BundleLoadError, match=r"tool 'broken' failed to load: boom at load"):
        await executor.load(tmp_path / "v2", broken_at_load)
    no_run = write_bundle(tmp_path / "v3", [echo_tool(tag="v3")])
    (tmp_path / "v3" / "dist" / "echo.js").write_text("module.exports = { name: 'echo' };")
    with pytest.raises(BundleLoadError, match=r"tool 'echo' failed to load: .*run\(\) function"):
        await executor.load(tmp_path / "v3", no_run)
    assert await executor.call("echo", {"n": 1}, call_id="c") == {"tag": "v1", "input": {"n": 1}}
    assert executor.manifest.checksum != broken_at_load.checksum
    assert executor.stats()["workers"] == 2


async def test_a_refused_load_leaves_no_worker_process_behind(tmp_path, make_executor):
    import psutil

    def node_children() -> set[int]:
        return {p.pid for p in psutil.Process().children(recursive=True) if "node" in p.name()}

    executor = await make_executor(tmp_path / "v1", [echo_tool(tag="v1")])
    serving = node_children()
    executor.worker_count = 4  # the refused pool starts four workers at once; one failure stops the rest
    broken = write_bundle(
        tmp_path / "v2",
        [echo_tool(tag="v2"), JsTool("broken", "return 1;", prelude="throw new Error('boom at load');")],
    )
    with pytest.raises(BundleLoadError, match=r"tool 'broken' failed to load: boom at load"):
        await executor.load(tmp_path / "v2", broken)
    await async_wait_until(lambda: node_children() == serving, 10, message="the refused pool's node processes to exit")
    assert await executor.call("echo", {"n": 1}, call_id="c") == {"tag": "v1", "input": {"n": 1}}


async def test_a_missing_node_binary_is_a_load_error_naming_the_fix(tmp_path):
    manifest = write_bundle(tmp_path, [echo_tool()])
    executor = Executor(1, 8, 30, str(tmp_path / "no-such-node"), logging.getLogger(LOGGER))
    with pytest.raises(BundleLoadError, match=r"could not start Node.js .*set EC_NODE"):
        await executor.load(tmp_path, manifest)
    assert executor.manifest is None
    await expect_error(ToolErrorKind.TOOL_NOT_FOUND, executor.call("echo", {}, call_id="c"))
    await executor.close()


async def test_swap_moves_new_calls_to_the_new_pool_and_lets_running_ones_finish(tmp_path, make_executor):
    slow_v1 = JsTool("slow", "await new Promise((r) => setTimeout(r, 400)); return 'v1';")
    executor = await make_executor(tmp_path / "v1", [echo_tool(tag="v1"), slow_v1], max_concurrency=512)
    old_pids = {w.pid for w in executor._pool.workers}
    running = asyncio.create_task(executor.call("slow", {}, call_id="running"))
    await async_wait_until(lambda: executor.stats()["inFlight"] == 1, timeout=5)

    manifest_v2 = write_bundle(tmp_path / "v2", [echo_tool(tag="v2"), JsTool("slow", "return 'v2';")])
    calls = [asyncio.create_task(executor.call("echo", {"i": i}, call_id=f"c{i}")) for i in range(200)]
    await executor.load(tmp_path / "v2", manifest_v2)
    after = [asyncio.create_task(executor.call("echo", {"i": i}, call_id=f"d{i}")) for i in range(50)]
    results = await asyncio.gather(*calls, *after)
    assert [r["input"]["i"] for r in results] == list(range(200)) + list(range(50))
    assert {r["tag"] for r in results[200:]} == {"v2"}
    assert await running == "v1"  # finished on the old pool
    assert executor.manifest.checksum == manifest_v2.checksum
    await async_wait_until(
        lambda: not any(_alive(pid) for pid in old_pids), timeout=5, message="the old workers to stop"
    )


async def test_close_drains_calls_in_flight_then_stops_workers(tmp_path):
    manifest = write_bundle(tmp_path, [HOLD])
    executor = Executor(1, 8, 30, node_binary(), logging.getLogger(LOGGER))
    await executor.load(tmp_path, manifest)
    pids = {w.pid for w in executor._pool.workers}
    running = asyncio.create_task(executor.call("hold", {"ms": 200}, call_id="c"))
    await async_wait_until(lambda: executor.stats()["inFlight"] == 1, timeout=5)
    await executor.close(drain_timeout=5)
    assert isinstance(await running, int)
    await expect_error(ToolErrorKind.OVERLOADED, executor.call("hold", {}, call_id="late"))
    assert not any(_alive(pid) for pid in pids)


def _logged(caplog, fragment: str) -> bool:
    return any(fragment in record.getMessage() for record in caplog.records)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has stopped running all the same.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_console_lines_reach_the_tool_log_sink_with_tool_call_id_and_level(tmp_path, make_executor, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    talk = JsTool(
        "talk",
        r"""
        console.log("first", input.n);
        console.warn("careful");
        await new Promise((r) => setTimeout(r, 5));   // still this call after an await
        ctx.log("via ctx");
        console.error("two\nlines");
        return true;
    """,
    )
    executor = await make_executor(tmp_path, [talk], workers=1)
    seen: list[tuple] = []
    executor.tool_log_sink = lambda *line: seen.append(line)
    executor.order_tool_logs = lambda: True  # someone tails (else lines are not handed on at all)
    await asyncio.gather(*(executor.call("talk", {"n": n}, call_id=f"call_{n}") for n in range(3)))
    await async_wait_until(lambda: len(seen) >= 15, timeout=5, message="15 console lines")
    for n in range(3):
        mine = [(tool, level, text) for tool, call_id, level, text in seen if call_id == f"call_{n}"]
        assert mine == [
            ("talk", "info", f"first {n}"),
            ("talk", "warn", "careful"),
            ("talk", "info", "via ctx"),
            ("talk", "error", "two"),
            ("talk", "error", "lines"),
        ]


async def test_while_tailed_a_calls_lines_are_handed_on_before_its_answer(tmp_path, make_executor):
    many = JsTool("many", "for (let i = 0; i < input.n; i++) console.log('line', i); return input.n;")
    executor = await make_executor(tmp_path, [many, echo_tool()], workers=1)
    seen: list[str] = []
    executor.tool_log_sink = lambda tool, call_id, level, text: seen.append(f"{call_id} {text}")
    executor.order_tool_logs = lambda: True
    for round_ in range(5):
        assert await executor.call("many", {"n": 300}, call_id=f"call_{round_}") == 300
        # No waiting here: by the time the answer is back, every line of the call was handed on.
        assert seen[-1] == f"call_{round_} line 299" and len(seen) == 300 * (round_ + 1)
    started = asyncio.get_running_loop().time()
    for n in range(20):  # a call that logs nothing is not held back either
        await executor.call("echo", {"n": n}, call_id=f"quiet_{n}")
    assert asyncio.get_running_loop().time() - started < 20 * 0.05


async def test_workers_warmed_up_before_their_bundle_lands_load_it_and_see_only_it(tmp_path, make_executor):
    executor = await make_executor(tmp_path / "v1", [echo_tool(tag="v1")])
    # What a sync does: workers start on the final path while the files still land elsewhere.
    peek = JsTool("peek", "return [process.cwd(), require('fs').readdirSync('.')];")
    staging = tmp_path / "staging"
    manifest = write_bundle(staging, [echo_tool(tag="v2"), peek])
    final = tmp_path / "bundles" / "v2"
    final.parent.mkdir()
    (tmp_path / "bundles" / "r-sibling").mkdir()
    warm = await executor.warm_up(final, manifest)
    assert warm is not None and len(warm.pool.workers) == 2
    warm_pids = {w.pid for w in warm.pool.workers}
    assert all(_alive(pid) for pid in warm_pids) and not final.exists()
    staging.rename(final)

    await executor.load(final, manifest, warm)
    assert await executor.call("echo", {}, call_id="c") == {"tag": "v2", "input": {}}
    cwd, listed = await executor.call("peek", {}, call_id="p")
    assert cwd == str(final.resolve()) and sorted(listed) == ["dist", "manifest.json"]
    assert {w.pid for w in executor._pool.workers} == warm_pids  # the warm workers serve: none started anew
    # Their read grant (`<final>/*`) covers the bundle that landed, not a folder whose name extends it.
    reader = JsTool("reader", "return require('fs').readdirSync(input.dir);")
    manifest_r = write_bundle(staging, [reader])
    final_r = tmp_path / "bundles" / "r"
    warm = await executor.warm_up(final_r, manifest_r)
    staging.rename(final_r)
    await executor.load(final_r, manifest_r, warm)
    assert await executor.call("reader", {"dir": str(final_r / "dist")}, call_id="r1") == ["reader.js"]
    denied = await expect_error(
        ToolErrorKind.TOOL_ERROR,
        executor.call("reader", {"dir": str(tmp_path / "bundles" / "r-sibling")}, call_id="r2"),
    )
    assert denied.code == "permission_denied"


async def test_warm_workers_of_a_bundle_that_is_refused_do_not_outlive_it(tmp_path, make_executor):
    executor = await make_executor(tmp_path / "v1", [echo_tool(tag="v1")])
    manifest = write_bundle(tmp_path / "v2", [echo_tool(tag="v2")])
    warm = await executor.warm_up(tmp_path / "v2", manifest)
    assert warm is not None
    discarded = {w.pid for w in warm.pool.workers}
    await executor.discard(warm)  # e.g. the archive's files did not verify
    await async_wait_until(
        lambda: not any(_alive(pid) for pid in discarded), 10, message="the warm node processes to exit"
    )
    # Warm workers for one bundle are never used for another: load starts its own and stops them.
    warm = await executor.warm_up(tmp_path / "v2", manifest)
    assert warm is not None
    other = write_bundle(tmp_path / "v3", [echo_tool(tag="v3")])
    await executor.load(tmp_path / "v3", other, warm)
    assert await executor.call("echo", {}, call_id="c") == {"tag": "v3", "input": {}}
    unused = {w.pid for w in warm.pool.workers}
    assert unused and not unused & {w.pid for w in executor._pool.workers}
    await async_wait_until(
        lambda: not any(_alive(pid) for pid in unused), 10, message="the unused warm workers to stop"
    )
