"""Executor policy without processes: which worker takes a call, how log floods are cut, schemas at load."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.manifest import ToolDescriptor
from edge_runtime.executor import BundleLoadError, Executor
from edge_runtime.worker_pool import WorkerPool, compile_schema
from edge_runtime.workers import _LogBudget


def fake_worker(load: int, *, ready: bool = True, alive: bool = True, overdue: bool = False):
    calls = {i: SimpleNamespace(overdue=overdue and i == 0) for i in range(load)}
    return SimpleNamespace(
        ready=ready, alive=alive, in_flight=calls, load=load, has_overdue=any(c.overdue for c in calls.values())
    )


def pool_of(*workers) -> WorkerPool:
    pool = WorkerPool(Path("."), manifest=None, validators={})  # type: ignore[arg-type]
    pool.workers.extend(workers)
    return pool


def test_pick_takes_the_least_busy_ready_worker_and_the_first_on_ties():
    a, b, c = fake_worker(2), fake_worker(1), fake_worker(1)
    assert pool_of(a, b, c).pick() is b


def test_pick_skips_workers_that_are_starting_dead_or_stuck_past_a_deadline():
    idle_but_starting = fake_worker(0, ready=False)
    idle_but_dead = fake_worker(0, alive=False)
    stuck = fake_worker(1, overdue=True)
    busy = fake_worker(5)
    assert pool_of(idle_but_starting, idle_but_dead, stuck, busy).pick() is busy
    assert pool_of(idle_but_starting, stuck).pick() is None


def test_log_budget_passes_a_burst_then_drops_and_counts():
    budget = _LogBudget(rate=0.0001, burst=10)
    taken = sum(budget.take() for _ in range(25))
    assert taken == 10 and budget.dropped == 15


def test_an_invalid_input_schema_is_a_load_error_naming_the_tool():
    tool = ToolDescriptor(name="bad", description="", inputSchema={"type": "no-such-type"}, entry="dist/bad.js")
    with pytest.raises(BundleLoadError, match=r"tool 'bad' failed to load: its inputSchema is not valid JSON Schema"):
        compile_schema(tool)


def test_a_schema_seen_before_is_not_checked_and_compiled_again():
    def tool(name: str, schema: dict) -> ToolDescriptor:
        return ToolDescriptor(name=name, description="", inputSchema=schema, entry=f"dist/{name}.js")

    first = compile_schema(tool("a", {"type": "object", "required": ["x"]}))
    assert compile_schema(tool("b", {"required": ["x"], "type": "object"})) is first  # same schema, any key order
    assert compile_schema(tool("c", {"type": "object"})) is not first
    assert not first.is_valid({}) and first.is_valid({"x": 1})
    with pytest.raises(BundleLoadError, match="tool 'd' failed to load"):  # a refusal is never remembered as valid
        compile_schema(tool("d", {"type": "no-such-type"}))
    with pytest.raises(BundleLoadError, match="tool 'd' failed to load"):
        compile_schema(tool("d", {"type": "no-such-type"}))


async def test_calls_before_any_bundle_is_loaded_are_tool_not_found():
    executor = Executor(1, 4, 30, "node", logging.getLogger("test"))
    with pytest.raises(ToolCallError) as caught:
        await executor.call("echo", {}, call_id="c")
    assert caught.value.kind is ToolErrorKind.TOOL_NOT_FOUND and "no bundle is loaded yet" in caught.value.message
    assert executor.stats()["errorsPerKind"] == {"tool_not_found": 1} and executor.tools == []
    await executor.close()


def test_worker_restart_pauses_grow_in_a_crash_loop_and_start_over_after_a_long_life():
    from edge_runtime.worker_pool import FAST_CRASH_SECONDS, restart_backoff

    backoff = restart_backoff()
    backoff.jitter = 0.0
    pauses = []
    for _ in range(6):  # six workers in a row dying at once
        backoff.connection_lost(0.05)
        pauses.append(backoff.next_delay())
    assert pauses == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    backoff.connection_lost(FAST_CRASH_SECONDS)  # this one ran a while: the next crash is a new story
    assert backoff.next_delay() == 0.5
