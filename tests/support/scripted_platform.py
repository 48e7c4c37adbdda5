"""A scripted platform for tests that drive a real runtime from the platform's side of the wire.

`ScriptedPlatform(assigned)` is just enough platform for `edge-connector start`: the assignment poll,
archive downloads from `archives` (path → bytes), and `/tool-rpc`, where it answers `connector.hello`
with `assigned` and then hands each link to the test (`next_link()`), which sends whatever frames it
likes. Every HTTP request is recorded with whether it carried an `Authorization` header.
`scripted_runtime(tmp_path, tools, assigned=...)` installs a bundle, starts the runtime against it.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jwt
import orjson
from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import ServerConnection, serve

from edge_protocol import jsonrpc
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.messages import BundleRef, CallParams, HelloResult, request_frame

from .bundles import JsTool, write_bundle
from .runtime import RuntimeProcess, write_token_file


@dataclass(frozen=True)
class SeenRequest:
    path: str
    authorization: bool


class ScriptedPlatform:
    def __init__(self, assigned: BundleRef | None, archives: dict[str, bytes] | None = None) -> None:
        self.assigned = assigned
        self.archives = dict(archives or {})
        self.requests: list[SeenRequest] = []
        self._links: queue.Queue[ServerConnection] = queue.Queue()
        self._done = threading.Event()
        self.server = serve(
            self._link, "127.0.0.1", 0, process_request=self._http, max_size=4 * MAX_FRAME_BYTES, ping_interval=None
        )
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/tool-rpc"

    def _http(self, connection: ServerConnection, request: Any) -> Any:
        path = request.path
        self.requests.append(SeenRequest(path, "Authorization" in request.headers))
        if path.startswith("/tool-rpc"):
            return None
        if path.startswith("/api/connectors/assignment"):
            body = {"assignedBundle": self.assigned.to_wire() if self.assigned else None}
            return connection.respond(HTTPStatus.OK, orjson.dumps(body).decode())
        archive = self.archives.get(path.split("?")[0])
        if archive is not None:
            headers = Headers([("Content-Length", str(len(archive))), ("Content-Type", "application/gzip")])
            return Response(HTTPStatus.OK, "OK", headers, archive)
        return connection.respond(HTTPStatus.NOT_FOUND, '{"error":{"code":"not_found","message":"not here"}}')

    def _link(self, ws: ServerConnection) -> None:
        hello = jsonrpc.parse_message(ws.recv(timeout=30))
        assert isinstance(hello, jsonrpc.Request) and hello.method == jsonrpc.HELLO
        result = HelloResult("conn_scripted", None, "org-scripted", 30.0, self.assigned)
        ws.send(jsonrpc.result(hello.id, result.to_wire()))
        self._links.put(ws)
        self._done.wait()  # the test drives the link from its own thread until the end

    def next_link(self, timeout: float = 30.0) -> ScriptedLink:
        return ScriptedLink(self._links.get(timeout=timeout))

    def close(self) -> None:
        self._done.set()
        self.server.shutdown()
        self.thread.join(10)


class ScriptedLink:
    """The platform's side of one runtime link."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def on_other(self, message: dict[str, Any]) -> bool:
        """The runtime's own frames (tool announcements, its pings, log batches); True when expected."""
        if message.get("method") == jsonrpc.CONNECTOR_PING and "id" in message:
            self.ws.send(jsonrpc.result(message["id"], {}))
        return message.get("method") in (jsonrpc.TOOLS_UPDATED, jsonrpc.TOOLS_LOG, jsonrpc.CONNECTOR_PING)

    def call(self, tool: str, arguments: Any, timeout: float = 30.0) -> dict[str, Any]:
        """Run one `tools/call` and return its reply (`result` or `error`)."""
        request_id = f"call-{next(self.ids)}"
        self.ws.send(request_frame(request_id, CallParams(f"call-{uuid.uuid4().hex}", tool, arguments, 10_000)))
        deadline = time.monotonic() + timeout
        while True:
            reply = orjson.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == request_id:
                return dict(reply)
            assert "method" in reply and self.on_other(reply), str(reply)[:300]

    def push(self, frame: str) -> None:
        self.ws.send(frame)


def runtime_token(org_id: str = "org-scripted") -> str:
    """A user token the runtime accepts (it reads the claims; only a real platform checks the signature)."""
    claims = {"sub": "scripted", "email": "scripted@example.com", "orgId": org_id, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, "a-key-the-runtime-never-checks-32bytes", algorithm="HS256")


@contextmanager
def scripted_runtime(
    tmp_path: Path,
    tools: list[JsTool],
    *,
    name: str = "scripted-tools",
    assigned: BundleRef | None = None,
    archives: dict[str, bytes] | None = None,
) -> Iterator[tuple[RuntimeProcess, ScriptedPlatform, BundleRef]]:
    """A runtime with `tools` installed as version 1 of `name`, connected to a scripted platform that
    assigns `assigned` (default: the installed bundle itself). Yields the runtime, the platform and the
    installed bundle's reference."""
    install = tmp_path / "install"
    manifest = write_bundle(install, tools, name=name, version=1)
    installed = BundleRef(name, 1, manifest.checksum, 1, None, tuple(t.name for t in tools))
    scripted = ScriptedPlatform(assigned or installed, archives)
    write_token_file(install, runtime_token(), scripted.url)
    rt = RuntimeProcess(install, env={"TOOL_RPC_URL": scripted.ws_url, "EC_WORKERS": "1"})
    try:
        rt.start()
        yield rt, scripted, installed
    finally:
        rt.stop()
        scripted.close()
