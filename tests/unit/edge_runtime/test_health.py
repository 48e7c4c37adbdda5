"""The health server on a real socket: routes, readiness, port-in-use refusal naming HEALTH_PORT."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from edge_runtime.health import HealthPortInUse, HealthRoutes, HealthServer
from edge_runtime.metrics import METRICS_CONTENT_TYPE, RuntimeMetrics


def routes(ready: dict, metrics: RuntimeMetrics) -> HealthRoutes:
    return HealthRoutes(
        is_ready=lambda: ready["value"],
        status=lambda: {"state": "registered", "tools": []},
        metrics=metrics.render,
        metrics_content_type=METRICS_CONTENT_TYPE,
    )


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


# ------------------------------------------------------------------------------------ issue 12, hole 10
def _status_with_secrets() -> dict:
    return {
        "platformUrl": "wss://user:hunter2pass@platform.example.com/tool-rpc",
        "lastError": "GET https://platform.example.com/x?token=abcdef123456&v=1 failed",
        "settings": {"httpsProxy": "http://proxyuser:proxypass@proxy:3128", "deploymentSecret": "ecs_abcdef"},
    }


async def test_statusz_is_redacted():
    server = HealthServer(
        "127.0.0.1",
        0,
        HealthRoutes(
            is_ready=lambda: True,
            status=_status_with_secrets,
            metrics=RuntimeMetrics().render,
            metrics_content_type=METRICS_CONTENT_TYPE,
        ),
    )
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as client:
            text = (await client.get("/statusz")).text
    finally:
        await server.stop()
    for secret in ("hunter2pass", "abcdef123456", "proxypass", "ecs_abcdef"):
        assert secret not in text
    assert "platform.example.com" in text and "proxy:3128" in text


@pytest.mark.parametrize(
    "peer,public,served",
    [
        (("127.0.0.1", 5000), False, True),
        (("::1", 5000, 0, 0), False, True),
        (("10.1.2.3", 5000), False, False),
        (("fe80::1%eth0", 5000, 0, 2), False, False),
        (None, False, False),
        (("10.1.2.3", 5000), True, True),
    ],
)
def test_statusz_only_for_loopback_clients_unless_made_public(peer, public, served):
    server = HealthServer("0.0.0.0", 0, routes({"value": True}, RuntimeMetrics()), statusz_public=public)
    status, _, body = server.answer("GET", "/statusz", peer)
    assert (status == 200) is served
    if not served:
        assert status == 404 and b"EC_STATUSZ_PUBLIC=1" in body
    # Probes and metrics stay reachable for the orchestrator.
    for path in ("/livez", "/healthz", "/metrics"):
        assert server.answer("GET", path, peer)[0] == 200


def test_unknown_tool_names_share_one_series():
    from edge_runtime.metrics import UNKNOWN_TOOL

    metrics = RuntimeMetrics(is_known_tool=lambda name: name == "echo")
    metrics.call_finished("echo", "ok", 0.001)
    for n in range(500):
        metrics.call_finished(f"probe{n}", "tool_not_found", 0.001)
    assert set(metrics.per_tool) == {"echo", UNKNOWN_TOOL}
    assert metrics.per_tool[UNKNOWN_TOOL].calls == 500
    text = metrics.render().decode()
    assert "probe1" not in text and text.count('tool="(unknown)"') < 30
