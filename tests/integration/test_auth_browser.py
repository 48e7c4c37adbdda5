"""`edge-connector auth --browser` end to end: the test plays the browser against the real `/login` page."""

from __future__ import annotations

import os
import pty
import re
import socket
import stat
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import free_port, wait_until

EDGE_CONNECTOR = str(Path(sys.executable).parent / "edge-connector")
_LOGIN_URL = re.compile(r"(http://127\.0\.0\.1:\d+/login\?\S+)")


class _FormReader(HTMLParser):
    """The sign-in form's action and fields, read the way a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action", "")
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


class BrowserLogin:
    """`auth --browser --no-open` with a pseudo-terminal as stdin (it refuses to run without a TTY)."""

    def __init__(self, tmp_path: Path, platform_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.token_path = tmp_path / "auth-token.json"
        master, slave = pty.openpty()
        self._master: int | None = master
        self.env = {k: v for k, v in os.environ.items() if k not in ("CI", "EDGE_CONNECTOR_TOKEN")}
        self.env.update(
            {"EDGE_PLATFORM_URL": platform_url, "AUTH_TOKEN_PATH": str(self.token_path), "NO_COLOR": "1", **(env or {})}
        )
        self.process = subprocess.Popen(
            [EDGE_CONNECTOR, "auth", "--browser", "--no-open", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        os.close(slave)
        self.stderr: list[str] = []
        self.stdout = ""
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def login_url(self) -> str:
        def found():
            match = _LOGIN_URL.search("".join(self.stderr))
            if match is None and self.process.poll() is not None:
                raise AssertionError("auth --browser exited early:\n" + "".join(self.stderr))
            return match.group(1) if match else None

        return wait_until(found, 20, message="the sign-in URL")

    def finish(self, timeout: float = 20) -> int:
        self.process.wait(timeout)
        self._pump_thread.join(10)  # every stderr line is in before anyone looks at it
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()
        return self.process.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self._master is not None:
            os.close(self._master)
            self._master = None


def sign_in(login_url: str, email: str, org_id: str, mode: str = "callback") -> httpx.Response:
    """What the user's browser does: load the page, fill the form, submit it, follow the redirect."""
    with httpx.Client(follow_redirects=True, timeout=20) as browser:
        page = browser.get(login_url)
        assert page.status_code == 200 and "<form" in page.text
        form = _FormReader()
        form.feed(page.text)
        fields = {**form.fields, "email": email, "orgId": org_id, "mode": mode}
        return browser.post(httpx.URL(login_url).join(form.action), data=fields)


def test_browser_flow_end_to_end(platform, tmp_path):
    login = BrowserLogin(tmp_path, platform.url)
    try:
        url = login.login_url()
        query = httpx.URL(url).params
        assert httpx.URL(query["callback"]).host == "127.0.0.1" and query["state"]
        landed = sign_in(url, "ada@example.com", "org-browser")
        assert landed.status_code == 200 and "You are signed in" in landed.text
        assert str(landed.url).startswith(query["callback"])  # the redirect went to the CLI's loopback callback
        assert login.finish() == 0, "".join(login.stderr)
    finally:
        login.stop()
    assert "Logged in as ada@example.com (organization org-browser)" in login.stdout
    assert stat.S_IMODE(login.token_path.stat().st_mode) == 0o600
    token = __import__("json").loads(login.token_path.read_text())["token"]
    assert token not in login.stdout + "".join(login.stderr)
    me = httpx.get(f"{platform.url}/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["orgId"] == "org-browser" and me["sub"] == "ada@example.com"


def test_fixed_callback_port_listens_on_both_loopbacks_and_checks_state(platform, tmp_path):
    port = free_port()
    login = BrowserLogin(tmp_path, platform.url, "--callback-port", str(port))
    try:
        url = login.login_url()
        assert httpx.URL(httpx.URL(url).params["callback"]).port == port
        # A forged callback (wrong state) is refused and the CLI keeps waiting.
        forged = httpx.get(f"http://127.0.0.1:{port}/callback", params={"token": "x.y.z", "state": "forged"})
        assert forged.status_code == 400 and "state mismatch" in forged.text
        assert login.process.poll() is None
        if socket.has_ipv6:
            try:
                reply = httpx.get(f"http://[::1]:{port}/callback", params={"token": "x.y.z", "state": "forged"})
            except httpx.ConnectError:
                pytest.skip("this machine has no IPv6 loopback")
            assert reply.status_code == 400  # the same server answers on ::1
        landed = sign_in(url, "bob@example.com", "org-port")
        assert "You are signed in" in landed.text
        assert login.finish() == 0
    finally:
        login.stop()
    assert login.token_path.exists()


def test_paste_mode_shows_the_token_for_auth_token(platform, tmp_path):
    login = BrowserLogin(tmp_path, platform.url, env={"EC_AUTH_TIMEOUT": "60"})
    try:
        url = login.login_url()
        shown = sign_in(url, "carol@example.com", "org-paste", mode="paste")
        assert shown.status_code == 200 and "edge-connector auth --token" in shown.text
        token = re.search(r'<textarea readonly id="token">([^<]+)</textarea>', shown.text).group(1)
    finally:
        login.stop()
    env = {**login.env}
    saved = subprocess.run(
        [EDGE_CONNECTOR, "auth", "--token", token], capture_output=True, text=True, env=env, timeout=60
    )
    assert saved.returncode == 0, saved.stderr
    assert "organization org-paste" in saved.stdout


def test_timeout_has_a_clear_message(platform, tmp_path):
    login = BrowserLogin(tmp_path, platform.url, env={"EC_AUTH_TIMEOUT": "1"})
    try:
        login.login_url()
        assert login.finish() == 1
    finally:
        login.stop()
    errors = "".join(login.stderr)
    assert "Timed out after 1 seconds waiting for the browser sign-in" in errors
    assert "edge-connector auth --token" in errors
    assert not login.token_path.exists()


@pytest.mark.parametrize("how", ["ci", "no-tty"])
def test_non_interactive_fails_at_once_naming_the_alternatives(tmp_path, how):
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "EDGE_CONNECTOR_TOKEN")}
    env.update({"AUTH_TOKEN_PATH": str(tmp_path / "t.json"), "EDGE_PLATFORM_URL": f"http://127.0.0.1:{free_port()}"})
    if how == "ci":
        env["CI"] = "true"
        master, slave = pty.openpty()
        stdin = slave
    else:
        stdin = subprocess.DEVNULL
    result = subprocess.run(
        [EDGE_CONNECTOR, "auth", "--browser", "--no-open"],
        stdin=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    if how == "ci":
        os.close(master)
        os.close(slave)
    assert result.returncode == 1
    assert "needs an interactive terminal" in result.stderr
    assert "edge-connector auth --token -" in result.stderr and "EDGE_CONNECTOR_TOKEN" in result.stderr


def test_login_page_refuses_non_loopback_callbacks(platform):
    for callback in ("http://evil.example.com/cb", "https://127.0.0.1:9/cb", "http://10.0.0.1:80/cb"):
        page = httpx.get(f"{platform.url}/login", params={"callback": callback, "state": "s"})
        assert page.status_code == 400 and "loopback" in page.text
        submitted = httpx.post(f"{platform.url}/login", data={"email": "a@b.co", "callback": callback, "state": "s"})
        assert submitted.status_code == 400 and "eyJ" not in submitted.text
    for callback in ("http://127.0.0.1:9/cb", "http://[::1]:9/cb", "http://localhost:9/cb"):
        assert httpx.get(f"{platform.url}/login", params={"callback": callback, "state": "s"}).status_code == 200


def test_a_platform_that_is_down_fails_at_once(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    login = BrowserLogin(tmp_path, down, env={"EC_HTTP_RETRY_BASE": "0.01"})
    try:
        assert login.finish() == 1
    finally:
        login.stop()
    errors = "".join(login.stderr)
    assert "Connection refused" in errors and down in errors and "Is the platform running?" in errors
