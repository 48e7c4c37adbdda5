"""Smoke tests of benchmarks.mcp_call_path: arguments, the raw stdio JSON-RPC client, the table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import mcp_call_path
from benchmarks.loadgen import ThroughputResult
from benchmarks.stats import summarize_latencies
from benchmarks.stdio_rpc import RpcError, StdioRpcClient


def test_quick_mode_is_smaller_and_levels_default_to_16_and_64() -> None:
    quick, full = mcp_call_path.parse_args(["--quick"]), mcp_call_path.parse_args([])
    assert quick.calls < full.calls == 2000 and quick.throughput_calls < full.throughput_calls
    assert full.concurrency == [16, 64]
    with pytest.raises(SystemExit):
        mcp_call_path.parse_args(["--concurrency", "0"])


async def test_raw_stdio_client_drives_the_sdk_reference_server_with_requests_in_flight() -> None:
    server = Path(mcp_call_path.__file__).with_name("mcp_echo_server.py")
    client = StdioRpcClient([sys.executable, str(server)])
    initialized = await client.start()
    try:
        assert initialized["protocolVersion"] == "2025-11-25"
        tail = client.encoder("tools/call", {"name": "echo", "arguments": {"message": "hi"}})
        import asyncio

        results = await asyncio.gather(*(client.send(tail) for _ in range(20)))
        assert all(r["structuredContent"] == {"message": "hi"} for r in results)
        with pytest.raises(RpcError):
            await client.request("no/such/method")
    finally:
        await client.close()
    assert client.process is not None and client.process.returncode is not None


def _side(name: str, p50_s: float, rate: float, cpu: float) -> mcp_call_path.Side:
    return mcp_call_path.Side(
        name,
        summarize_latencies([p50_s] * 10),
        {16: ThroughputResult(16, int(rate), 1.0, 0.1)},
        {16: cpu},
        cpu_parts_us={16: {"server": cpu * 0.75, "node workers": cpu * 0.25}},
    )


def test_table_judges_a_and_c_against_the_sdk_reference() -> None:
    a, b, c = _side("(a)", 0.004, 300, 2000), _side("(b)", 0.002, 200, 1000), _side("(c)", 0.0025, 250, 900)
    rendered = mcp_call_path.render(
        [a, b, c], b, {"call_api_p50_ms": 1.0, "runtime_p50_ms": 0.3, "hub_p50_ms": 0.8}, 100, [16]
    ).render()
    assert "2.00× ref (NO)" in rendered  # (a) p50 is twice the reference: over the 1.5× target
    assert "1.25× ref (yes)" in rendered  # (c) p50 and throughput both fine
    assert "1.50× ref (yes)" in rendered  # (a) throughput 300 vs 200
    assert "the MCP layer of /mcp adds 3.000 ms" in rendered  # (a) p50 4 ms − the plain call API's 1 ms
    assert "where the CPU goes, (a), per call at 16 callers: server 1,500 µs, node workers 500 µs" in rendered
