"""HTTPS_PROXY / HTTP_PROXY / NO_PROXY: a real runtime reaches a real platform through a loopback proxy.

The platform listens on 127.0.0.1 and the runtime is pointed at `localhost`, deliberately: proxy
bypass rules match host names as written, so `NO_PROXY=127.0.0.1` does not cover `localhost` (the
traffic must cross the proxy) while `NO_PROXY=localhost` does (the proxy must see nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.bundles import echo_tool, make_archive
from tests.support.connect_proxy import ConnectProxy
from tests.support.runtime import RuntimeProcess, write_token_file
from tests.support.waiting import wait_until

BUNDLE = "proxied-tools"
PROXY_VARS = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "all_proxy",
)


@pytest.fixture
def proxy():
    running = ConnectProxy().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def no_inherited_proxy(monkeypatch):
    # The runtime inherits this process's environment: only the variables a test sets may apply.
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


def _localhost(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def _publish_default_bundle(platform, token: str, work: Path) -> dict[str, Any]:
    archive, manifest = make_archive(work, [echo_tool(tag="via-proxy")], name=BUNDLE)
    auth = {"Authorization": f"Bearer {token}"}
    uploaded = httpx.post(
        f"{platform.url}/api/bundles/{BUNDLE}/versions",
        content=archive.read_bytes(),
        headers={**auth, "X-Bundle-Checksum": manifest.checksum},
        timeout=30,
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    assert (
        httpx.put(f"{platform.url}/api/bundles/default", json={"name": BUNDLE}, headers=auth, timeout=10).status_code
        == 200
    )
    return uploaded.json()


def _deployment(platform, token: str) -> dict[str, str]:
    created = httpx.post(
        f"{platform.url}/api/deployments",
        json={"name": "behind-a-proxy"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return {"DEPLOYMENT_ID": body["deploymentId"], "DEPLOYMENT_SECRET": body["secret"]}


def _call_echo(platform, token: str) -> Any:
    response = httpx.post(
        f"{platform.url}/api/tools/echo/call",
        json={"arguments": {"n": 1}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.json().get("output") if response.status_code == 200 else None


def test_websocket_token_exchange_and_download_all_cross_the_proxy(platform, proxy, tmp_path):
    token = platform.user_token()
    published = _publish_default_bundle(platform, token, tmp_path / "bundle")
    origin = _localhost(platform.url)
    runtime = RuntimeProcess(
        tmp_path / "install",
        env={
            "TOOL_RPC_URL": _localhost(platform.ws_url),
            **_deployment(platform, token),
            "HTTPS_PROXY": proxy.url,
            "HTTP_PROXY": proxy.url,
            "NO_PROXY": "127.0.0.1,example.internal",  # names 127.0.0.1, not localhost: no bypass
        },
    ).start()
    try:
        runtime.wait_healthy()
        wait_until(
            lambda: _call_echo(platform, token) == {"tag": "via-proxy", "input": {"n": 1}},
            20,
            message="a call through the proxied link",
        )
        port = origin.rsplit(":", 1)[1]
        # The WebSocket: one CONNECT tunnel to the platform, as written in TOOL_RPC_URL.
        assert proxy.tunnels == [f"localhost:{port}"]
        # HTTP: the client-credentials exchange and the bundle download were forwarded by the proxy.
        assert f"POST {origin}/oauth/token" in proxy.forwarded
        assert any(
            r.startswith(f"GET {origin}/api/bundles/{BUNDLE}/versions/{published['version']}/archive")
            for r in proxy.forwarded
        ), proxy.forwarded
    finally:
        runtime.stop()


def test_no_proxy_sends_everything_direct(platform, proxy, tmp_path):
    token = platform.user_token()
    _publish_default_bundle(platform, token, tmp_path / "bundle")
    runtime = RuntimeProcess(
        tmp_path / "install",
        env={
            "TOOL_RPC_URL": _localhost(platform.ws_url),
            **_deployment(platform, token),
            "HTTPS_PROXY": proxy.url,
            "HTTP_PROXY": proxy.url,
            "NO_PROXY": "example.internal, localhost",
        },
    ).start()
    try:
        runtime.wait_healthy()
        wait_until(lambda: _call_echo(platform, token) is not None, 20, message="the bundle to answer")
        assert proxy.tunnels == [] and proxy.forwarded == []
    finally:
        runtime.stop()


def test_a_proxy_refusing_the_tunnel_is_reported_clearly(platform, tmp_path):
    proxy = ConnectProxy(refuse_with=407).start()
    try:
        install = tmp_path / "install"
        write_token_file(install, platform.user_token(), platform.url)
        runtime = RuntimeProcess(
            install,
            env={
                "TOOL_RPC_URL": _localhost(platform.ws_url),
                "HTTPS_PROXY": f"http://user:pa55word@127.0.0.1:{proxy.port}",
            },
        ).start()
        try:
            text = runtime.wait_for_log("refused the tunnel")
            assert (
                f"the proxy http://127.0.0.1:{proxy.port} refused the tunnel to {_localhost(platform.ws_url)} (HTTP 407)"
                in text
            )
            assert "pa55word" not in text  # proxy credentials never reach the log
            assert runtime.healthz() == 503
        finally:
            runtime.stop()
    finally:
        proxy.stop()
