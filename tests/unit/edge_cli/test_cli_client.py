"""edge_cli.client: URL and token resolution order, the token file, retries, refusal wording."""

from __future__ import annotations

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge_cli import client as cli_client
from edge_cli.client import (
    DEFAULT_PLATFORM_URL,
    PlatformClient,
    find_token,
    load_token,
    refusal_to_cli_error,
    resolve_platform_url,
    retry_backoff,
    save_token,
    token_file_path,
)
from edge_cli.errors import CliError
from edge_protocol.backoff import parse_retry_after
from tests.support.waiting import free_port


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    for name in ("EDGE_CONNECTOR_TOKEN", "AUTH_TOKEN_PATH", "EDGE_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path))


def test_platform_url_order(monkeypatch, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    assert resolve_platform_url(None, project) == DEFAULT_PLATFORM_URL
    save_token("t.o.k", "http://saved:1")
    assert resolve_platform_url(None, project) == "http://saved:1"
    (project / "edge.json").write_text(json.dumps({"platformUrl": "http://edge-json:2/"}))
    assert resolve_platform_url(None, project) == "http://edge-json:2"
    monkeypatch.setenv("EDGE_PLATFORM_URL", "http://env:3")
    assert resolve_platform_url(None, project) == "http://env:3"
    assert resolve_platform_url("http://flag:4", project) == "http://flag:4"
    with pytest.raises(CliError, match="must start with http"):
        resolve_platform_url("ftp://nope", project)


def test_token_order_env_then_auth_token_path_then_user_config(monkeypatch, tmp_path):
    assert find_token() is None
    default_path = token_file_path()
    assert default_path == tmp_path / "config" / "edge-connector" / "auth-token.json"
    save_token("from.user.config", None)
    assert load_token().token == "from.user.config" and load_token().source == str(default_path)
    monkeypatch.setenv("AUTH_TOKEN_PATH", str(tmp_path / "elsewhere" / "tok.json"))
    assert find_token() is None  # AUTH_TOKEN_PATH replaces the default location
    save_token("from.auth.path", "http://x:1")
    assert load_token().token == "from.auth.path" and load_token().platform_url == "http://x:1"
    monkeypatch.setenv("EDGE_CONNECTOR_TOKEN", "from.the.env")
    assert load_token().token == "from.the.env" and load_token().source == "EDGE_CONNECTOR_TOKEN"


def test_missing_token_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTH_TOKEN_PATH", str(tmp_path / "nowhere.json"))
    with pytest.raises(CliError) as caught:
        load_token()
    text = str(caught.value)
    assert text.startswith("No authentication token found")
    assert str(tmp_path / "nowhere.json") in text and "EDGE_CONNECTOR_TOKEN" in text
    assert "edge-connector auth --browser" in text and "edge-connector auth --token" in text


def test_token_file_is_private_and_replaced_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTH_TOKEN_PATH", str(tmp_path / "t" / "auth-token.json"))
    path = save_token("first.token.value", "http://a:1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_token("second.token.value", "http://a:1")
    assert json.loads(path.read_text())["token"] == "second.token.value"
    assert [p.name for p in path.parent.iterdir()] == ["auth-token.json"]  # no temp files left behind


def test_refusals_in_the_troubleshooting_words():
    expired = str(refusal_to_cli_error(401, {"error": {"code": "token_expired", "message": "Token has expired"}}, "u"))
    assert expired.startswith("Token has expired")
    assert "edge-connector auth --browser or edge-connector auth --token <new-token>" in expired
    no_org = str(refusal_to_cli_error(403, {"error": {"code": "no_organization", "message": "x"}}, "u"))
    assert no_org.startswith("No organization in token") and "orgId claim or an orgs map" in no_org
    invalid = refusal_to_cli_error(
        401, {"error": {"code": "token_invalid", "message": "Token validation failed: bad"}}, "u"
    )
    assert str(invalid).startswith("Token validation failed: bad")
    other = refusal_to_cli_error(404, {"error": {"code": "bundle_not_found", "message": "Bundle 'x' not found."}}, "u")
    assert str(other) == "Bundle 'x' not found (bundle_not_found)"


def test_retry_after_parsing_and_delays():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now
    backoff = retry_backoff(base=0.5)
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    assert backoff.delay_after(7.0) == 7.0 and backoff.delay_after(3600.0) == cli_client.MAX_RETRY_AFTER_SECONDS
    assert backoff.delay_after(None) == 4.0  # the schedule goes on where it was


class _Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers, body); records what it got."""

    script: list = []
    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
        status, headers, body = self.script.pop(0) if self.script else (200, {}, {"ok": True})
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    _Scripted.script, _Scripted.seen = [], []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Scripted
    server.shutdown()
    server.server_close()


def test_retries_429_and_5xx_honouring_retry_after(scripted):
    url, handler = scripted
    handler.script = [(503, {"Retry-After": "2"}, {}), (429, {}, {}), (502, {}, {}), (200, {}, {"done": 1})]
    slept: list[float] = []
    with PlatformClient(url, "tok", sleep=slept.append) as api:
        assert api.get("/api/bundles") == {"done": 1}
    assert len(handler.seen) == 4
    assert slept[0] == 2.0 and len(slept) == 3


def test_gives_up_after_three_retries(scripted):
    url, handler = scripted
    handler.script = [(500, {}, {"error": {"code": "boom", "message": "exploded"}})] * 5
    with PlatformClient(url, "tok", sleep=lambda s: None) as api, pytest.raises(CliError, match="exploded"):
        api.get("/x")
    assert len(handler.seen) == 4  # the first try and three retries


def test_never_retries_a_4xx(scripted):
    url, handler = scripted
    handler.script = [(409, {"Retry-After": "1"}, {"error": {"code": "conflict", "message": "no"}})]
    with PlatformClient(url, "tok", sleep=lambda s: pytest.fail("slept")) as api, pytest.raises(CliError):
        api.post("/x", {"a": 1})
    assert len(handler.seen) == 1


def test_raw_requests_are_not_retried_on_5xx(scripted):
    url, handler = scripted
    handler.script = [(502, {}, {"error": {"code": "tool_error", "message": "bad"}})]
    with PlatformClient(url, "tok", sleep=lambda s: pytest.fail("slept")) as api:
        assert api.request_raw("POST", "/api/tools/t/call", json={})[0] == 502
    assert len(handler.seen) == 1


def test_connection_refused_names_the_url_after_retrying(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    slept: list[float] = []
    with PlatformClient(url, "secret.token.value", sleep=slept.append) as api, pytest.raises(CliError) as caught:
        api.get("/api/bundles")
    text = str(caught.value)
    assert "Connection refused" in text and url in text and "Is the platform running?" in text
    assert "secret.token.value" not in text
    assert len(slept) == cli_client.MAX_RETRIES


def test_upload_streams_the_file_and_reports_progress(scripted, tmp_path):
    url, handler = scripted
    handler.script = [(503, {}, {}), (201, {}, {"version": 1})]
    payload = bytes(range(256)) * 4096  # 1 MiB: several chunks
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(payload)
    progress: list[int] = []
    restarts: list[bool] = []
    with PlatformClient(url, "tok", sleep=lambda s: None) as api:
        status, body = api.upload(
            "/api/bundles/x/versions",
            archive,
            {"X-Bundle-Checksum": "sha256:1"},
            progress=progress.append,
            restart=lambda: restarts.append(True),
        )
    assert (status, body) == (201, {"version": 1})
    assert handler.seen[-1][2] == payload and restarts == [True]
    assert sum(progress) == 2 * len(payload)  # sent twice: once refused with 503, once accepted


def test_the_cli_client_trusts_what_the_runtime_trusts(monkeypatch):
    from edge_runtime.tls import tls_context

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with PlatformClient("https://platform.invalid") as api:
        assert api._http._transport._ssl_context is tls_context()


def test_an_unusable_ssl_cert_file_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(CliError, match=r"SSL_CERT_FILE=.*missing\.pem does not exist; point it at a PEM file"):
        PlatformClient("https://platform.invalid")


# ------------------------------------------------------------------------------------ SPEC.md §9
def _connect_error(monkeypatch, **env) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CliError) as refused:
        cli_client.connect(None, None)
    return str(refused.value)


def test_a_saved_token_goes_only_to_its_own_origin(monkeypatch, tmp_path):
    save_token("saved.user.token", "http://127.0.0.1:18765")
    project = tmp_path / "cloned"
    project.mkdir()
    (project / "edge.json").write_text(json.dumps({"platformUrl": "http://evil.example:18765"}))
    with pytest.raises(CliError) as refused:
        cli_client.connect(None, project)
    assert str(refused.value).splitlines()[0] == (
        "The saved token belongs to http://127.0.0.1:18765, not http://evil.example:18765; "
        "run edge-connector auth --platform http://evil.example:18765 or pass --platform"
    )
    assert "saved.user.token" not in str(refused.value)
    # Same origin with a trailing slash.
    with cli_client.connect("http://127.0.0.1:18765/", None) as client:
        assert client._http.headers["Authorization"] == "Bearer saved.user.token"
    # Another port is another origin; so is localhost for 127.0.0.1.
    for url in ("http://127.0.0.1:18766", "http://localhost:18765", "https://127.0.0.1:18765"):
        with pytest.raises(CliError, match="The saved token belongs to"):
            cli_client.connect(url, None)
    # A command that does not need a token still runs there, without sending it.
    with cli_client.connect("http://127.0.0.1:9", None, need_token=False) as client:
        assert "Authorization" not in client._http.headers


def test_the_env_token_goes_where_it_is_pointed_but_never_in_clear_to_a_remote_host(monkeypatch):
    monkeypatch.setenv("EDGE_CONNECTOR_TOKEN", "ci.token.value")
    with cli_client.connect("https://platform.example.com", None) as client:
        assert client._http.headers["Authorization"] == "Bearer ci.token.value"
    with pytest.raises(CliError) as refused:
        cli_client.connect("http://platform.example.com", None)
    assert "EC_ALLOW_INSECURE=1" in str(refused.value) and "ci.token.value" not in str(refused.value)
    monkeypatch.setenv("EC_ALLOW_INSECURE", "1")
    with cli_client.connect("http://platform.example.com", None) as client:
        assert client._http.headers["Authorization"] == "Bearer ci.token.value"


def test_a_saved_token_for_a_remote_plain_http_origin_needs_the_insecure_switch(monkeypatch):
    save_token("saved.user.token", "http://10.1.2.3:8000")
    with pytest.raises(CliError, match="EC_ALLOW_INSECURE=1"):
        cli_client.connect("http://10.1.2.3:8000", None)
    monkeypatch.setenv("EC_ALLOW_INSECURE", "1")
    with cli_client.connect("http://10.1.2.3:8000", None) as client:
        assert client._http.headers["Authorization"] == "Bearer saved.user.token"
