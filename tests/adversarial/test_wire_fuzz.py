"""Wire fuzzing (issue 12): hostile frames to both ends of a link, over real WebSockets on loopback.

(a) A real mock platform process: a link says a valid `connector.hello`, then sends the frames of
`wire_frames.frames()`; (b) a real `edge-connector start` process, connected to a scripted platform
(`tests/support/scripted_platform.py`), receives them. For every frame the peer must answer as
JSON-RPC 2.0 says (`wire_frames.expected_reply`): a request under its id, anything unparseable or
malformed with a JSON-RPC error, a notification or stray response not at all. After each frame a
`connector.ping` request is the barrier: its answer proves the link still reads frames in order.
Frames the WebSocket layer itself refuses (invalid UTF-8 in a text frame: 1007) or that break the
protocol's size (over 16 MiB: 4000) close that one link. Throughout, the process stays up, its peak
RSS stays bounded (psutil and /proc), and another link keeps serving tool calls.

Bounded and reproducible: a fixed number of examples from a fixed seed, no shrinking.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import ServerConnection

from edge_protocol import close_codes, jsonrpc
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.messages import (
    CallParams,
    CallResult,
    HelloParams,
    HelloResult,
    ToolInfo,
    request_frame,
    result_frame,
)
from tests.adversarial.wire_frames import ANSWER, ERROR, Frame, expected_reply, frames
from tests.support.bundles import echo_tool
from tests.support.scripted_platform import scripted_runtime
from tests.support.waiting import wait_until

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read from /proc")

FUZZ_SEED = 20261130
PLATFORM_EXAMPLES = int(os.environ.get("WIRE_FUZZ_EXAMPLES", "300"))
RUNTIME_EXAMPLES = PLATFORM_EXAMPLES
#: Growth of a process's peak RSS over a whole fuzz run: a few 10 MB frames in flight, never more.
PEAK_GROWTH_LIMIT = 120 * 1024 * 1024
#: How long one frame may take to be answered (multi-MB frames on a loaded 2-core machine).
ANSWER_TIMEOUT = 30.0
FUZZ_SETTINGS = settings(
    max_examples=PLATFORM_EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its frame as drawn
    suppress_health_check=list(HealthCheck),
)


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _send(ws: ClientConnection | ServerConnection, frame: Frame) -> None:
    if frame.binary:
        ws.send(frame.payload if isinstance(frame.payload, bytes) else frame.payload.encode())
    elif isinstance(frame.payload, bytes):
        ws.send(frame.payload, text=True)  # bytes as a text frame, unchecked (invalid UTF-8)
    else:
        ws.send(frame.payload)


class Prober:
    """Sends one fuzz frame, then a `connector.ping` barrier, and checks every frame that comes back."""

    def __init__(self, ws: ClientConnection | ServerConnection, on_other: Callable[[dict[str, Any]], bool]) -> None:
        self.ws = ws
        self.on_other = on_other  # frames the peer may send on its own (its own requests); True = handled
        self.barriers = itertools.count(1)

    def check(self, frame: Frame) -> None:
        expectation, request_id = expected_reply(frame)
        barrier = f"fuzz-barrier-{next(self.barriers)}"
        _send(self.ws, frame)
        self.ws.send(jsonrpc.request(barrier, jsonrpc.CONNECTOR_PING, {}))
        got_barrier, answered, errors = False, False, 0
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not (got_barrier and (answered or expectation != ANSWER)):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no answer to {frame!r} (expected {expectation} {request_id!r:.60})"
            raw = self.ws.recv(timeout=remaining)
            reply = orjson.loads(raw)
            assert reply.get("jsonrpc") == "2.0", reply
            if reply.get("id") == barrier:
                assert reply.get("result") == {}, reply
                got_barrier = True
            elif "method" in reply:
                assert self.on_other(reply), f"unexpected frame after {frame!r}: {str(reply)[:300]}"
            elif expectation == ANSWER and reply.get("id") == request_id and not answered:
                assert ("result" in reply) != ("error" in reply), reply
                answered = True
            else:
                assert isinstance(reply.get("error"), dict), f"{frame!r} got a non-error reply: {str(reply)[:300]}"
                assert isinstance(reply["error"].get("code"), int), reply
                errors += 1
        if expectation == ERROR:
            assert errors >= 1, f"{frame!r} got no JSON-RPC error"


def _fuzz(kind: str, examples: int, prober: Callable[[], Prober], between: Callable[[int], None]) -> int:
    counter = itertools.count(1)

    @seed(FUZZ_SEED)
    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(frame=frames())
    def one(frame: Frame) -> None:
        n = next(counter)
        prober().check(frame)
        if n % 40 == 0:
            between(n)

    one()
    return next(counter) - 1


# ===================================================================================== (a) platform
class GoodConnector:
    """A well-behaved connector on its own link, serving `echo` for one deployment."""

    def __init__(self, stack: ExitStack, ws_url: str, token: str, deployment: str) -> None:
        self.ws = stack.enter_context(
            connect(
                ws_url,
                additional_headers={"Authorization": f"Bearer {token}", "X-Deployment-Id": deployment},
                max_size=2 * MAX_FRAME_BYTES,
            )
        )
        tool = ToolInfo("echo", "echoes", {"type": "object"})
        self.ws.send(request_frame("hello", HelloParams("fuzz-good", deployment, None, (tool,), 8)))
        HelloResult.from_wire(orjson.loads(self.ws.recv(timeout=10))["result"])
        self.served = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            for raw in self.ws:
                message = jsonrpc.parse_message(raw)
                if isinstance(message, jsonrpc.Request) and message.method == jsonrpc.TOOLS_CALL:
                    params = CallParams.from_wire(message.params)
                    self.ws.send(result_frame(message.id, CallResult(params.arguments, 0.1)))
                    self.served += 1
                elif isinstance(message, jsonrpc.Request):
                    self.ws.send(jsonrpc.result(message.id, {}))
        except ConnectionClosed:
            pass


def _fuzz_link(stack: ExitStack, ws_url: str, token: str) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"}
    ws = stack.enter_context(connect(ws_url, additional_headers=headers, max_size=4 * MAX_FRAME_BYTES))
    ws.send(request_frame("hello", HelloParams("fuzz", None, None, (), 4)))
    reply = orjson.loads(ws.recv(timeout=10))
    assert "result" in reply, reply
    return ws


def _close_code(ws: ClientConnection, frame: Frame) -> int | None:
    _send(ws, frame)
    try:
        while True:
            ws.recv(timeout=ANSWER_TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_the_platform_answers_every_hostile_frame_and_keeps_serving(platform):
    token = platform.user_token("fuzz@example.com", "org-wire-fuzz")
    api = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    deployment = api.post("/api/deployments", json={"name": "fuzz-good"}).json()["deploymentId"]
    stack = ExitStack()
    good = GoodConnector(stack, platform.ws_url, token, deployment)
    pid = platform.process.pid
    fuzzed_link = _fuzz_link(stack, platform.ws_url, token)

    def call_through_the_good_link(n: int) -> None:
        reply = api.post("/api/tools/echo/call", json={"arguments": {"n": n}, "deploymentId": deployment})
        assert reply.status_code == 200 and reply.json()["output"] == {"n": n}, reply.text[:300]

    def prober() -> Prober:
        return Prober(fuzzed_link, lambda request: request.get("method") == jsonrpc.LOGS_SUBSCRIBE)

    try:
        call_through_the_good_link(0)
        baseline = _peak_rss(pid)
        started = time.monotonic()
        fuzzed = _fuzz("platform", PLATFORM_EXAMPLES, prober, call_through_the_good_link)
        # Frames the WebSocket layer or the size rule refuse: that link closes, no other one.
        closing = [
            (Frame("text-invalid-utf8", b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}'), {1007}),
            (Frame("over-16-MiB", "x" * (MAX_FRAME_BYTES + 1024)), {close_codes.CLOSE_PROTOCOL_ERROR}),
            (Frame("over-16-MiB-in-bytes", "é" * (MAX_FRAME_BYTES // 2 + 1024)), {close_codes.CLOSE_PROTOCOL_ERROR}),
        ]
        for frame, codes in closing:
            link = _fuzz_link(stack, platform.ws_url, token)
            assert _close_code(link, frame) in codes, frame
            call_through_the_good_link(fuzzed)
        growth = _peak_rss(pid) - baseline
        rss = psutil.Process(pid).memory_info().rss
        print(
            f"\nwire fuzz, platform: {fuzzed + len(closing)} frames in {time.monotonic() - started:.1f} s; "
            f"peak RSS grew {growth / 2**20:.1f} MiB (RSS now {rss / 2**20:.1f} MiB); "
            f"the good link served {good.served} calls"
        )
        assert platform.process.poll() is None, "the platform died"
        assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew {growth:,} bytes"
        fuzzed_link.send(jsonrpc.request("last", jsonrpc.CONNECTOR_PING, {}))  # the fuzzed link itself still serves
        assert orjson.loads(fuzzed_link.recv(timeout=10))["id"] == "last"
        assert "Traceback" not in "".join(platform.output)
    finally:
        stack.close()
        good.thread.join(10)
        api.close()


# ====================================================================================== (b) runtime
def test_the_runtime_answers_every_hostile_frame_and_keeps_serving(tmp_path):
    with scripted_runtime(tmp_path, [echo_tool()], name="fuzz-tools") as (rt, scripted, _):
        link = scripted.next_link()
        wait_until(lambda: (rt.status()["bundle"] or {}).get("name") == "fuzz-tools", 30, message="bundle")

        def call_echo(n: int) -> None:
            reply = link.call("echo", {"n": n})
            assert reply.get("result", {}).get("output") == {"n": n}, str(reply)[:300]

        call_echo(0)
        pid = rt.process.pid
        baseline = _peak_rss(pid)
        started = time.monotonic()
        fuzzed = _fuzz("runtime", RUNTIME_EXAMPLES, lambda: Prober(link.ws, link.on_other), call_echo)
        call_echo(fuzzed)
        # A frame that closes the link: the runtime reconnects, and the new link serves calls.
        closing = [
            (Frame("text-invalid-utf8", b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}'), {1007}),
            (Frame("over-16-MiB", "x" * (MAX_FRAME_BYTES + 1024)), {close_codes.CLOSE_PROTOCOL_ERROR}),
        ]
        for frame, codes in closing:
            _send(link.ws, frame)
            try:
                while True:
                    link.ws.recv(timeout=ANSWER_TIMEOUT)
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            assert code in codes, (frame, code)
            link = scripted.next_link()
            call_echo(1)
        growth = _peak_rss(pid) - baseline
        rss = psutil.Process(pid).memory_info().rss
        print(
            f"\nwire fuzz, runtime: {fuzzed + len(closing)} frames in {time.monotonic() - started:.1f} s; "
            f"peak RSS grew {growth / 2**20:.1f} MiB (RSS now {rss / 2**20:.1f} MiB)"
        )
        assert not rt.exited(), rt.text[-2000:]
        assert growth < PEAK_GROWTH_LIMIT, f"peak RSS grew {growth:,} bytes"
        assert "Traceback" not in rt.text, rt.text[-3000:]
