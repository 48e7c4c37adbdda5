"""`edge_cli.stdlib_transport`: httpx's client over `http.client`, against a real loopback HTTP/1.1 server."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from edge_cli.stdlib_transport import StdlibTransport, environment_proxy
from edge_runtime.tls import certificate_problem


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless a handler says otherwise
    seen: list[tuple[str, str, dict[str, str], bytes, int]] = []  # method, path, headers, body, client port

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            data = b""
            while size := int(self.rfile.readline().strip(), 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self) -> None:
        body = self._body()
        self.seen.append((self.command, self.path, dict(self.headers), body, self.client_address[1]))
        if self.path == "/gzip":
            payload, extra = gzip.compress(b'{"zipped": true}'), [("Content-Encoding", "gzip")]
        elif self.path == "/close":
            payload, extra = b'{"closing": true}', [("Connection", "close")]
        else:
            payload, extra = json.dumps({"echo": body.decode()}).encode(), []
        self.send_response(201 if self.command == "POST" else 200)
        for name, value in [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *extra]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        if self.path == "/close":
            self.close_connection = True

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.seen = []
    with ThreadingHTTPServer(("127.0.0.1", 0), Recorder) as httpd:
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{httpd.server_port}"
        finally:
            httpd.shutdown()


def client(url: str, **options: object) -> httpx.Client:
    return httpx.Client(base_url=url, transport=StdlibTransport(), **options)  # type: ignore[arg-type]


def test_json_in_and_out_on_one_kept_connection(server):
    with client(server, headers={"Authorization": "Bearer t"}) as http:
        first = http.post("/api/x?y=1", json={"a": 1})
        second = http.get("/api/y")
    assert (first.status_code, first.json()) == (201, {"echo": '{"a":1}'})
    assert first.http_version == "HTTP/1.1" and first.reason_phrase == "Created"
    assert second.json() == {"echo": ""}
    (m1, p1, h1, _, port1), (m2, p2, _, _, port2) = Recorder.seen
    assert (m1, p1, m2, p2) == ("POST", "/api/x?y=1", "GET", "/api/y")
    assert h1["Authorization"] == "Bearer t" and h1["Content-Type"] == "application/json"
    assert port1 == port2  # keep-alive: the second request reused the connection


def test_a_connection_the_server_closed_is_replaced(server):
    with client(server) as http:
        assert http.get("/close").json() == {"closing": True}
        assert http.get("/after").status_code == 200
    assert Recorder.seen[0][4] != Recorder.seen[1][4]


def test_a_streamed_body_without_a_length_goes_chunked(server):
    def parts() -> Iterator[bytes]:
        yield b"hello "
        yield b""
        yield b"world"

    with client(server) as http:
        assert http.post("/upload", content=parts()).json() == {"echo": "hello world"}
    assert Recorder.seen[0][2]["Transfer-Encoding"] == "chunked"


def test_a_compressed_answer_is_decoded(server):
    with client(server) as http:
        assert http.get("/gzip").json() == {"zipped": True}


def test_a_refused_connection_is_a_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    with client(f"http://127.0.0.1:{port}") as http, pytest.raises(httpx.ConnectError):
        http.get("/")


def test_a_silent_server_is_a_read_timeout():
    with (
        socket.create_server(("127.0.0.1", 0)) as silent,
        client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.2) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.get("/")


def test_an_untrusted_certificate_is_a_connect_error_that_names_it(tmp_path):
    import ssl

    from tests.support.tls_certs import make_loopback_certificates

    certs = make_loopback_certificates(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(certs.cert_file, certs.key_file)
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def handshake() -> None:
            connection, _ = listener.accept()
            with connection, pytest.raises(ssl.SSLError):
                server_context.wrap_socket(connection, server_side=True)

        threading.Thread(target=handshake, daemon=True).start()
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        transport = StdlibTransport(ssl.create_default_context())  # the system store: our CA is not in it
        with httpx.Client(base_url=url, transport=transport) as http, pytest.raises(httpx.ConnectError) as caught:
            http.get("/")
    assert certificate_problem(caught.value) is not None


def test_a_proxy_set_in_the_environment_is_still_used(server, monkeypatch):
    """httpx mounts its own transport for an environment proxy: the platform client keeps honouring it."""
    from edge_cli.client import PlatformClient

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server)
    with PlatformClient("http://platform.invalid", sleep=lambda s: None) as api:
        assert api.get("/api/x") == {"echo": ""}
    assert Recorder.seen[0][1] == "http://platform.invalid/api/x"  # absolute form: sent to the proxy


def test_which_environment_sets_a_proxy():
    assert environment_proxy({"HTTPS_PROXY": "http://proxy:3128"})
    assert environment_proxy({"all_proxy": "socks5://proxy:1080"})
    assert environment_proxy({"Http_Proxy": "http://proxy:3128"})
    assert not environment_proxy({"NO_PROXY": "localhost", "HTTP_PROXY": " ", "PATH": "/usr/bin"})
