"""wss:// and https:// against a platform whose certificate comes from a private CA.

Without that CA the runtime refuses the platform and says how to fix it (SSL_CERT_FILE or the system
trust store); with `SSL_CERT_FILE` pointing at it, the WebSocket, the client-credentials exchange and the
bundle download all succeed — also through an HTTPS proxy tunnel. The CLI trusts exactly the same.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.bundles import echo_tool, make_archive
from tests.support.cli import Cli
from tests.support.connect_proxy import ConnectProxy
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess, write_token_file
from tests.support.tls_certs import LoopbackCertificates, make_loopback_certificates
from tests.support.waiting import wait_until

BUNDLE = "tls-tools"
_HTTPS_LISTENING = re.compile(r"mock-platform listening on (https://\S+)")
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


class TlsPlatform(PlatformProcess):
    """The mock platform serving https:// and wss:// with the given certificate."""

    def _url_from_output(self) -> str | None:
        for line in list(self.output):
            match = _HTTPS_LISTENING.search(line)
            if match:
                return match.group(1).replace("127.0.0.1", "localhost")  # the name on the certificate
        return None

    @property
    def ws_url(self) -> str:
        return self.url.replace("https://", "wss://") + "/tool-rpc"


@pytest.fixture(autouse=True)
def clean_network_env(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def certs(tmp_path) -> LoopbackCertificates:
    return make_loopback_certificates(tmp_path / "certs")


@pytest.fixture
def tls_platform(tmp_path, certs):
    platform = TlsPlatform(
        tmp_path / "platform-data",
        extra_args=["--ssl-certfile", str(certs.cert_file), "--ssl-keyfile", str(certs.key_file)],
    ).start()
    try:
        yield platform
    finally:
        platform.stop()


def _client(certs: LoopbackCertificates) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(certs.ca_file)), timeout=30, trust_env=False)


def _user_token(platform: TlsPlatform, certs: LoopbackCertificates) -> str:
    with _client(certs) as client:
        response = client.post(
            f"{platform.url}/api/auth/dev-login", json={"email": "tls@example.com", "orgId": "org-tls"}
        )
        response.raise_for_status()
        return response.json()["token"]


def _publish_default_bundle_and_deployment(
    platform: TlsPlatform, certs: LoopbackCertificates, token: str, work: Path
) -> dict[str, str]:
    archive, manifest = make_archive(work, [echo_tool(tag="over-tls")], name=BUNDLE)
    auth = {"Authorization": f"Bearer {token}"}
    with _client(certs) as client:
        uploaded = client.post(
            f"{platform.url}/api/bundles/{BUNDLE}/versions",
            content=archive.read_bytes(),
            headers={**auth, "X-Bundle-Checksum": manifest.checksum},
        )
        assert uploaded.status_code in (200, 201), uploaded.text
        assert client.put(f"{platform.url}/api/bundles/default", json={"name": BUNDLE}, headers=auth).status_code == 200
        created = client.post(f"{platform.url}/api/deployments", json={"name": "tls"}, headers=auth)
        assert created.status_code == 201, created.text
    return {"DEPLOYMENT_ID": created.json()["deploymentId"], "DEPLOYMENT_SECRET": created.json()["secret"]}


def _echo(platform: TlsPlatform, certs: LoopbackCertificates, token: str) -> Any:
    with _client(certs) as client:
        response = client.post(
            f"{platform.url}/api/tools/echo/call",
            json={"arguments": {"ok": True}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    return response.json().get("output") if response.status_code == 200 else None


def test_an_untrusted_certificate_is_refused_with_the_fix(tls_platform, certs, tmp_path):
    install = tmp_path / "install"
    write_token_file(install, _user_token(tls_platform, certs), tls_platform.url)
    # The machine's own trust (SSL_CERT_FILE/SSL_CERT_DIR as inherited) does not know the private CA.
    runtime = RuntimeProcess(install, env={"TOOL_RPC_URL": tls_platform.ws_url}).start()
    try:
        text = runtime.wait_for_log("TLS certificate verify failed")
        assert f"TLS certificate verify failed for {tls_platform.ws_url}" in text
        assert (
            "Set SSL_CERT_FILE to a PEM file holding its CA certificate, or add that CA to the system trust store"
            in text
        )
        assert runtime.healthz() == 503
        assert runtime.status()["lastError"] and "TLS certificate verify failed" in runtime.status()["lastError"]
    finally:
        runtime.stop()


def test_trusted_through_ssl_cert_file_websocket_token_and_download_succeed(tls_platform, certs, tmp_path):
    token = _user_token(tls_platform, certs)
    credentials = _publish_default_bundle_and_deployment(tls_platform, certs, token, tmp_path / "bundle")
    runtime = RuntimeProcess(
        tmp_path / "install",
        env={
            "TOOL_RPC_URL": tls_platform.ws_url,
            "SSL_CERT_FILE": str(certs.ca_file),
            **credentials,
        },
    ).start()
    try:
        runtime.wait_healthy()
        # The call proves the whole path: https token exchange, wss link, https download, node worker.
        wait_until(
            lambda: _echo(tls_platform, certs, token) == {"tag": "over-tls", "input": {"ok": True}},
            20,
            message="the bundle to answer over TLS",
        )
        assert "verify failed" not in runtime.text
    finally:
        runtime.stop()


def test_wss_and_https_through_a_proxy_tunnel(tls_platform, certs, tmp_path):
    token = _user_token(tls_platform, certs)
    credentials = _publish_default_bundle_and_deployment(tls_platform, certs, token, tmp_path / "bundle")
    proxy = ConnectProxy().start()
    try:
        runtime = RuntimeProcess(
            tmp_path / "install",
            env={
                "TOOL_RPC_URL": tls_platform.ws_url,
                "SSL_CERT_FILE": str(certs.ca_file),
                **credentials,
                "HTTPS_PROXY": proxy.url,
            },
        ).start()
        try:
            runtime.wait_healthy()
            wait_until(lambda: _echo(tls_platform, certs, token) is not None, 20, message="the bundle to answer")
            target = tls_platform.url.removeprefix("https://")
            # TLS end to end inside CONNECT tunnels: the WebSocket's, and httpx's for token and download.
            assert proxy.tunnels.count(target) >= 2, proxy.tunnels
            assert set(proxy.tunnels) == {target} and proxy.forwarded == []
        finally:
            runtime.stop()
    finally:
        proxy.stop()


def test_an_unusable_ssl_cert_file_stops_the_start_with_one_line(tmp_path):
    missing = tmp_path / "nowhere" / "ca.pem"
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env.update(
        {
            "SSL_CERT_FILE": str(missing),
            "TOOL_RPC_URL": "wss://localhost:9/tool-rpc",
            "HEALTH_PORT": "0",
            "EC_DISABLE_TRAY": "1",
        }
    )
    completed = subprocess.run(
        [sys.executable, "-m", "edge_cli", "start", "--dir", str(tmp_path / "install")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert completed.returncode == 1
    assert (
        f"Error: SSL_CERT_FILE={missing} does not exist; point it at a PEM file of CA certificates or unset it"
        in completed.stderr
    )
    assert "Traceback" not in completed.stderr + completed.stdout


def test_the_cli_trusts_what_the_runtime_trusts(tls_platform, certs, tmp_path):
    token = _user_token(tls_platform, certs)
    archive, manifest = make_archive(tmp_path / "bundle", [echo_tool()], name=BUNDLE)
    (tmp_path / "home").mkdir()
    cli = Cli(tmp_path / "home", tls_platform.url)
    with_token = {"EDGE_CONNECTOR_TOKEN": token}

    refused = cli("upload", "--archive", str(archive), env=with_token, ok=False)
    assert refused.returncode == 1, refused.stderr
    assert f"TLS certificate verify failed for {tls_platform.url}" in refused.stderr
    assert (
        "Set SSL_CERT_FILE to a PEM file holding its CA certificate, or add that CA to the system trust store"
        in refused.stderr
    )
    assert "Connection refused" not in refused.stderr and "Traceback" not in refused.stderr

    uploaded = cli(
        "upload", "--archive", str(archive), "--json", env={**with_token, "SSL_CERT_FILE": str(certs.ca_file)}
    )
    assert json.loads(uploaded.stdout)["checksum"] == manifest.checksum
