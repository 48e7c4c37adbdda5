"""The health server on a real socket: routes, readiness, port-in-use refusal naming HEALTH_PORT."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from edge_runtime.health import HealthPortInUse, HealthRoutes, HealthServer
from edge_runtime.metrics import METRICS_CONTENT_TYPE, RuntimeMetrics


def routes(ready: dict, metrics: RuntimeMetrics) -> HealthRoutes:
    return HealthRoutes(is_ready=lambda: ready["value"], status=lambda: {"state": "registered", "tools": []},
                        metrics=metrics.render, metrics_content_type=METRICS_CONTENT_TYPE)


async def test_routes_and_readiness():
    ready = {"value": False}
    metrics = RuntimeMetrics()
    metrics.call_finished("echo", "ok", 0.002)
    metrics.call_finished("echo", "tool_error", 0.001)
    server = HealthServer("127.0.0.1", 0, routes(ready, metrics))
    await server.start()
    try:
        assert server.port and server.port > 0
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/livez")).status_code == 200
            response = await client.get("/healthz")
            assert response.status_code == 503 and "/statusz" in response.text
            ready["value"] = True
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/statusz")).json() == {"state": "registered", "tools": []}
            text = (await client.get("/metrics")).text
            assert 'edge_tool_calls_total{outcome="ok",tool="echo"} 1.0' in text
            assert 'edge_tool_calls_total{outcome="tool_error",tool="echo"} 1.0' in text
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/healthz")).status_code == 405
            assert (await client.head("/livez")).status_code == 200
        assert metrics.per_tool["echo"].as_dict() == {"calls": 2, "errors": 1, "avgDurationMs": 1.5}
    finally:
        await server.stop()


async def test_garbage_and_silent_clients_do_not_break_the_server():
    ready = {"value": True}
    server = HealthServer("127.0.0.1", 0, routes(ready, RuntimeMetrics()))
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"\x00\xff garbage without an end")
        writer.close()
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await server.stop()


async def test_port_in_use_names_health_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = HealthServer("127.0.0.1", port, routes({"value": True}, RuntimeMetrics()))
        with pytest.raises(HealthPortInUse) as caught:
            await server.start()
    assert f"Health port {port} on 127.0.0.1 is already in use" in str(caught.value)
    assert "HEALTH_PORT" in str(caught.value)
