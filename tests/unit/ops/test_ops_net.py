"""Proxy choice and TLS trust of the runtime's network doors (edge_runtime.net), without sockets."""

from __future__ import annotations

import asyncio
import ssl
import sys

import pytest

from edge_runtime import net
from tests.support.tls_certs import make_loopback_certificates

PROXY_VARS = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "WS_PROXY",
    "WSS_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "all_proxy",
    "ws_proxy",
    "wss_proxy",
)


@pytest.fixture
def proxy_env(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_proxy_configured_means_direct(proxy_env):
    assert net.websocket_proxy("wss://platform.example.com/tool-rpc") is None


def test_https_proxy_is_used_for_ws_and_wss(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert net.websocket_proxy("wss://platform.example.com/tool-rpc") == "http://proxy.internal:3128"
    assert net.websocket_proxy("ws://platform.example.com/tool-rpc") == "http://proxy.internal:3128"


def test_a_bare_host_port_proxy_means_http(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "proxy.internal:3128")
    assert net.websocket_proxy("wss://platform.example.com/tool-rpc") == "http://proxy.internal:3128"


def test_no_proxy_matches_host_names_as_written(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    proxy_env.setenv("NO_PROXY", "127.0.0.1,.corp.example")
    assert net.websocket_proxy("ws://127.0.0.1:8000/tool-rpc") is None
    assert net.websocket_proxy("wss://edge.corp.example/tool-rpc") is None
    # Loopback is not exempt by default: `localhost` is a different name from 127.0.0.1.
    assert net.websocket_proxy("ws://localhost:8000/tool-rpc") == "http://proxy.internal:3128"


def test_proxy_credentials_are_dropped_from_messages():
    assert net._without_credentials("http://user:secret@proxy:3128") == "http://proxy:3128"
    assert net._without_credentials("http://proxy:3128") == "http://proxy:3128"


def test_missing_ssl_cert_file_is_refused_naming_the_variable(tmp_path):
    with pytest.raises(net.TlsSetupError, match=r"SSL_CERT_FILE=.*nope\.pem does not exist; point it at a PEM file"):
        net.tls_context({"SSL_CERT_FILE": str(tmp_path / "nope.pem")})


def test_a_file_without_certificates_is_refused(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(net.TlsSetupError, match="holds no usable PEM certificate"):
        net.tls_context({"SSL_CERT_FILE": str(junk)})


async def _handshake(certs, context: ssl.SSLContext) -> None:
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certs.cert_file, certs.key_file)

    async def answer(reader, writer):
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_side)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
        writer.close()
    finally:
        server.close()


def test_ssl_cert_file_is_trusted_in_addition_to_the_system_store(tmp_path):
    certs = make_loopback_certificates(tmp_path)
    context = net.tls_context({"SSL_CERT_FILE": str(certs.ca_file)})
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    asyncio.run(_handshake(certs, context))  # a real handshake: the private CA is trusted
    assert net.tls_context({"SSL_CERT_FILE": str(certs.ca_file)}) is context  # built once, shared
    if sys.platform.startswith("linux"):
        # Setting SSL_CERT_FILE must not drop the public CAs (plain OpenSSL defaults would).
        # truststore hides get_ca_certs(); its wrapped stdlib context holds what was loaded.
        assert len(context._ctx.get_ca_certs()) > 1


def test_without_the_ca_the_handshake_fails_verification(tmp_path):
    certs = make_loopback_certificates(tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(_handshake(certs, net.tls_context({})))


def test_http_client_shares_the_websocket_trust(proxy_env):
    client = net.http_client("https://platform.example.com")
    try:
        assert client._transport._pool._ssl_context is net.tls_context()
    finally:
        asyncio.run(client.aclose())


def test_http_client_reads_the_socket_a_mebibyte_at_a_time(proxy_env):
    """Bundle downloads: 1 MiB reads instead of httpcore's 64 KiB (a quarter of the trips through h11).
    Fails if httpcore renames its read-size constant: then the runtime silently keeps 64 KiB."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    client = net.http_client("http://127.0.0.1:9")
    try:
        assert AsyncHTTP11Connection.READ_NUM_BYTES == net.HTTP_READ_BYTES == 1 << 20
    finally:
        asyncio.run(client.aclose())
