"""The loopback half of `auth --browser`: wait for `GET /callback?token=…&state=…` from the browser.

Listens on 127.0.0.1 *and* ::1 on the same port (browsers resolve `localhost` either way; SSH
forwards may land on either). A callback with the wrong `state` is refused and ignored: it is not
the answer to this login, and may be forged.
"""

from __future__ import annotations

import html
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class LoginTimeout(Exception):
    pass


_DONE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>edge-connector</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem"><h1>{title}</h1><p>{text}</p></body></html>"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class CallbackServer:
    def __init__(self, state: str, port: int = 0) -> None:
        self._state = state
        self._token: str | None = None
        self._received = threading.Event()
        handler = self._handler_class()
        self._servers: list[ThreadingHTTPServer] = [_Server(("127.0.0.1", port), handler)]
        self.port = self._servers[0].server_address[1]
        try:
            self._servers.append(_Server6(("::1", self.port), handler))
        except OSError:
            pass  # no IPv6 loopback here (or the port is taken on it): 127.0.0.1 alone still works
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True) for s in self._servers
        ]

    @property
    def callback_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def __enter__(self) -> CallbackServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def wait(self, timeout: float) -> str:
        if not self._received.wait(timeout):
            raise LoginTimeout()
        assert self._token is not None
        return self._token

    def _accept(self, query: str) -> tuple[int, str, str]:
        params = parse_qs(query)
        state = (params.get("state") or [""])[0]
        token = (params.get("token") or [""])[0]
        if state != self._state:
            return (
                400,
                "Sign-in refused",
                "This sign-in was not started by this command (state mismatch). Start it again.",
            )
        if not token:
            return 400, "Sign-in failed", "The platform sent no token. Start the sign-in again."
        self._token = token
        self._received.set()
        return 200, "Signed in", "You are signed in. You can close this tab and return to the terminal."

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                if parts.path != "/callback":
                    status, title, text = 404, "Not found", "Nothing here."
                else:
                    status, title, text = owner._accept(parts.query)
                body = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the request line holds the token: never log it

        return Handler
