"""The live tail end to end (SPEC.md §13): a real platform, a real runtime with Node.js workers, and
`edge-connector tail` or a raw WebSocket viewer. Every wait polls with a deadline; every figure is
compared with one taken in the same test."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import statistics
import time
import uuid

import httpx
import psutil
import pytest

from benchmarks.loadgen import KeepAliveConnection, throughput
from tests.support.bundles import JsTool, echo_tool, make_archive
from tests.support.cli import Cli
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess
from tests.support.tail import TailProcess
from tests.support.waiting import wait_until

CHATTY = JsTool(
    "chatty", 'console.log("step 1", input.tag); ctx.log("step 2"); console.warn("step 3"); return input.tag;'
)
FAIL = JsTool("fail", 'console.log("about to fail", input.tag); throw new ToolError("bad_city", "city is empty");')
FLOOD = JsTool("flood", "for (let i = 0; i < input.lines; i++) console.log('flood line', i); return input.lines;")
LEAK = JsTool(
    "leak", "console.log('secret is', input.secret); console.log('Authorization: Bearer ' + input.jwt); return 1;"
)
SLOW_CALLS = 5000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Platform + one connected runtime (two workers) + the CLI signed in to the org."""
    base = tmp_path_factory.mktemp("tail")
    platform = PlatformProcess(base / "data").start()
    runtime = None
    try:
        org = f"org-{uuid.uuid4().hex[:8]}"
        cli = Cli(base, platform.url)
        token = platform.user_token(f"{org}@example.com", org)
        cli("auth", "--token", token)
        dep = cli.json("deployment", "create", "runner")
        offline = cli.json("deployment", "create", "offline")
        archive, _ = make_archive(base / "bundle", [echo_tool(), CHATTY, FAIL, FLOOD, LEAK])
        cli("upload", "--archive", str(archive), "--set-default")
        runtime = RuntimeProcess(
            base / "install",
            env={
                "TOOL_RPC_URL": platform.ws_url,
                "DEPLOYMENT_ID": dep["deploymentId"],
                "DEPLOYMENT_SECRET": dep["secret"],
                "EC_WORKERS": "2",
            },
        ).start()
        wait_until(
            lambda: runtime.exited() or len(runtime.status().get("tools", [])) == 5,
            30,
            message="the runtime to load the bundle",
        )
        runtime.wait_healthy(30)
        yield Stack(platform, cli, token, dep["deploymentId"], dep["secret"], offline["deploymentId"], runtime)
    finally:
        if runtime is not None:
            runtime.stop()
        platform.stop()


class Stack:
    def __init__(self, platform, cli, token, deployment_id, secret, offline_id, runtime) -> None:
        self.platform, self.cli, self.token = platform, cli, token
        self.deployment_id, self.secret, self.offline_id, self.runtime = deployment_id, secret, offline_id, runtime
        self.http = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def call(self, tool: str, arguments: dict, deployment_id: str | None = None) -> dict:
        body = {"arguments": arguments, **({"deploymentId": deployment_id} if deployment_id else {})}
        return self.http.post(f"/api/tools/{tool}/call", json=body).json()

    def connector(self) -> dict:
        return self.http.get("/api/connectors").json()["connectors"][0]

    def tail(self, *args: str) -> TailProcess:
        return TailProcess(self.cli, ["--json", *args]).start()

    def wait_logs_subscribed(self, on: bool) -> None:
        wait_until(
            lambda: self.connector().get("logsSubscribed") is on,
            10,
            message=f"the connector's logs.subscribe to be {on}",
        )


def test_a_call_and_its_log_lines_reach_tail_json_within_a_second_in_order(stack):
    tail = stack.tail()
    try:
        stack.wait_logs_subscribed(True)
        answer = stack.call("chatty", {"tag": "first"})
        returned = time.monotonic()
        call_id = answer["callId"]

        def complete(events) -> bool:
            mine = [e for e in events if e.get("callId") == call_id]
            return any(e["type"] == "call" for e in mine) and sum(e["type"] == "log" for e in mine) == 3

        events = tail.wait_events(complete, timeout=10, message="the call and its three lines")
        latency = time.monotonic() - returned
        assert latency < 1.0, f"the call's events took {latency:.2f} s to reach tail"
        mine = [e for e in events if e.get("callId") == call_id]
        logs = [e for e in mine if e["type"] == "log"]
        assert [(e["level"], e["message"]) for e in logs] == [
            ("info", "step 1 first"),
            ("info", "step 2"),
            ("warn", "step 3"),
        ]
        assert all(e["tool"] == "chatty" and e["deploymentId"] == stack.deployment_id for e in logs)
        (call,) = [e for e in mine if e["type"] == "call"]
        assert call["outcome"] == "ok" and call["tool"] == "chatty" and call["deploymentId"] == stack.deployment_id
        assert call["durationMs"] > 0 and call["at"].endswith("Z") and "error" not in call
        assert tail.interrupt() == 0
    finally:
        tail.stop()
    stack.wait_logs_subscribed(False)  # the last viewer left: the connector is told to stop forwarding


def test_filters_select_exactly_the_matching_events(stack):
    by_deployment = stack.tail("--deployment", stack.deployment_id)
    by_tool = stack.tail("--tool", "fail")
    by_status = stack.tail("--status", "error")
    tails = [by_deployment, by_tool, by_status]
    try:
        stack.wait_logs_subscribed(True)
        ok = stack.call("chatty", {"tag": "filters"})["callId"]
        failed = stack.call("fail", {"tag": "one"})["error"]
        unavailable = stack.call("echo", {}, deployment_id=stack.offline_id)["error"]
        missing = stack.call("no_such_tool", {})["error"]
        assert (failed["code"], unavailable["code"], missing["code"]) == (
            "tool_error",
            "connector_unavailable",
            "tool_not_found",
        )
        # A last failing call that every filter selects: once it and its line are in, all before it are.
        stack.call("fail", {"tag": "sentinel"})
        for tail in tails:
            tail.wait_events(
                lambda events: sum(e["type"] == "call" and e["tool"] == "fail" for e in events) == 2,
                timeout=10,
                message="the sentinel call",
            )

        def summary(tail) -> list[tuple]:
            """What a tail got, in the order it got it: a call's lines come before the call."""
            return [
                (e["type"], e["tool"], e.get("outcome") or e.get("message"), e["deploymentId"]) for e in tail.events()
            ]

        dep, offline = stack.deployment_id, stack.offline_id
        assert summary(by_deployment) == [
            ("log", "chatty", "step 1 filters", dep),
            ("log", "chatty", "step 2", dep),
            ("log", "chatty", "step 3", dep),
            ("call", "chatty", "ok", dep),
            ("log", "fail", "about to fail one", dep),
            ("call", "fail", "tool_error", dep),
            ("log", "fail", "about to fail sentinel", dep),
            ("call", "fail", "tool_error", dep),
        ]
        assert summary(by_tool) == [
            ("log", "fail", "about to fail one", dep),
            ("call", "fail", "tool_error", dep),
            ("log", "fail", "about to fail sentinel", dep),
            ("call", "fail", "tool_error", dep),
        ]
        # Refusals are calls too (no connector ran them, so no lines).
        assert summary(by_status) == [
            ("log", "fail", "about to fail one", dep),
            ("call", "fail", "tool_error", dep),
            ("call", "echo", "connector_unavailable", offline),
            ("call", "no_such_tool", "tool_not_found", None),
            ("log", "fail", "about to fail sentinel", dep),
            ("call", "fail", "tool_error", dep),
        ]
        refused = [e for e in by_status.events() if e["type"] == "call" and e["tool"] != "fail"]
        assert all(e["error"]["message"] for e in refused)
        assert ok not in {e.get("callId") for e in by_status.events()}
    finally:
        for tail in tails:
            tail.stop()


def test_a_viewer_that_reads_nothing_never_slows_calls_and_later_learns_what_it_missed(stack):
    platform_process = psutil.Process(stack.platform.process.pid)
    url = stack.platform.url

    cpu_us: list[float] = []  # platform CPU per call of each phase, for the record

    async def run_calls(count: int) -> float:
        async def make_caller(_: int):
            connection = await KeepAliveConnection(
                url, {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
            ).connect()
            raw = connection.request_bytes("POST", "/api/tools/echo/call", b'{"arguments": {"n": 1}}')

            async def call() -> None:
                status, _ = await connection.send(raw)
                assert status == 200

            return call

        cpu = platform_process.cpu_times()
        per_second = (await throughput(make_caller, 16, count)).per_second
        after_cpu = platform_process.cpu_times()
        cpu_us.append((after_cpu.user + after_cpu.system - cpu.user - cpu.system) / count * 1e6)
        return per_second

    def read_everything(viewer: RawTailViewer) -> tuple[int, int]:
        """Now it reads: the calls it got, and the count of those it was told it missed."""
        delivered = dropped = 0
        while delivered + dropped < SLOW_CALLS:
            event = viewer.next_event(timeout=10)
            if event["type"] == "call":
                delivered += 1
            elif event["type"] == "dropped":
                dropped += event["count"]
        return delivered, dropped

    async def attempt() -> dict:
        """Calls without a viewer, with a stuck one (which then reads what it is owed), without again."""
        cpu_us.clear()
        before = await run_calls(SLOW_CALLS // 3)
        # A viewer with a tiny receive buffer that reads nothing while the calls run (a raw socket:
        # a client library would keep reading into its own buffers).
        viewer = RawTailViewer(url, stack.token, "?tool=echo")
        try:
            rss_before = platform_process.memory_info().rss
            with_viewer = await run_calls(SLOW_CALLS)
            rss_after = platform_process.memory_info().rss
            delivered, dropped = read_everything(viewer)
        finally:
            viewer.close()
        after = await run_calls(SLOW_CALLS // 3)
        result = {
            "before": before,
            "with": with_viewer,
            "after": after,
            "rss": rss_after - rss_before,
            "delivered": delivered,
            "dropped": dropped,
            "cpu_us": list(cpu_us),
        }
        print(
            f"calls/s without a viewer {before:.0f} and {after:.0f}, with a stuck viewer {with_viewer:.0f}; "
            f"it got {delivered}, was told it missed {dropped}; platform RSS +{result['rss'] / 1e6:.1f} MB; "
            f"platform CPU per call (before, with, after) {[round(c) for c in cpu_us]} us"
        )
        return result

    async def scenario() -> list[dict]:
        await run_calls(500)  # warm up connections and caches before anything is compared
        attempts = []
        # The machine is shared: a burst of someone else's load can skew one comparison, never three.
        for _ in range(3):
            attempts.append(await attempt())
            last = attempts[-1]
            if 0.8 * min(last["before"], last["after"]) <= last["with"] <= 1.2 * max(last["before"], last["after"]):
                break
        return attempts

    attempts = asyncio.run(scenario())
    for result in attempts:  # every attempt accounts for every call, in bounded memory
        assert result["dropped"] > 0 and result["delivered"] + result["dropped"] == SLOW_CALLS
        assert result["rss"] < 25e6
    last = attempts[-1]
    assert 0.8 * min(last["before"], last["after"]) <= last["with"] <= 1.2 * max(last["before"], last["after"])
    before_cpu, with_cpu, after_cpu = last["cpu_us"]
    assert with_cpu <= 1.25 * max(before_cpu, after_cpu)


class RawTailViewer:
    """`WS /api/tail` over a plain socket with a 4 KiB receive buffer, read only when asked."""

    def __init__(self, url: str, token: str, query: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /api/tail{query} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            assert chunk, "the platform closed the tail stream"
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def next_event(self, timeout: float) -> dict:
        self.sock.settimeout(timeout)
        while True:
            first, second = self._exactly(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._exactly(2), "big")
            elif length == 127:
                length = int.from_bytes(self._exactly(8), "big")
            payload = self._exactly(length)
            if first & 0x0F == 0x1:  # text: one event (server frames are unmasked, never fragmented here)
                return json.loads(payload)

    def close(self) -> None:
        self.sock.close()


def test_a_flooding_tool_is_forwarded_at_most_200_lines_a_second_and_calls_keep_their_latency(stack):
    def echo_latencies(count: int) -> list[float]:
        samples = []
        for n in range(count):
            started = time.perf_counter()
            assert stack.call("echo", {"n": n})["output"] == {"n": n}
            samples.append(time.perf_counter() - started)
        return samples

    tail = stack.tail("--tool", "flood")
    try:
        stack.wait_logs_subscribed(True)
        quiet = statistics.median(echo_latencies(20))
        flood = asyncio.run(_call_while(stack, "flood", {"lines": 10_000}, echo_latencies))
        flooded = statistics.median(flood["samples"])

        def drop_report(events) -> list[dict]:
            return [e for e in events if e["type"] == "log" and e["message"].endswith("lines/s)")]

        events = tail.wait_events(
            lambda ev: drop_report(ev) and any(e["type"] == "call" for e in ev),
            timeout=20,
            message="the flood's call and its drop report",
        )
        lines = [e for e in events if e["type"] == "log" and e["message"].startswith("flood line")]
        reported = sum(int(e["message"].split()[0]) for e in drop_report(events))
        assert len(lines) + reported == 10_000
        assert 0 < len(lines) <= 200 * (flood["seconds"] + 1), (len(lines), flood["seconds"])
        assert [int(e["message"].split()[-1]) for e in lines] == sorted(int(e["message"].split()[-1]) for e in lines)
        print(
            f"echo p50 {quiet * 1000:.1f} ms quiet, {flooded * 1000:.1f} ms during the flood; "
            f"{len(lines)} lines forwarded, {reported} reported dropped"
        )
        assert flooded <= max(3 * quiet, quiet + 0.05)
    finally:
        tail.stop()


async def _call_while(stack, tool: str, arguments: dict, measure) -> dict:
    """Run one long call and, while it runs, the `measure(count)` samples; its duration too."""
    started = time.perf_counter()
    long_call = asyncio.create_task(asyncio.to_thread(stack.call, tool, arguments))
    samples: list[float] = []
    while not long_call.done() or len(samples) < 10:
        samples.extend(await asyncio.to_thread(measure, 2))
    result = await long_call
    assert result["output"] == arguments.get("lines"), result
    return {"samples": samples, "seconds": time.perf_counter() - started}


def test_tokens_and_secrets_logged_by_a_tool_appear_redacted(stack):
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
    tail = stack.tail("--tool", "leak")
    try:
        stack.wait_logs_subscribed(True)
        # The platform marks the link subscribed when it sends logs.subscribe; the runtime's workers may
        # take a moment more to forward. Call until one call's lines arrive (each call waits up to 5 s).
        for _attempt in range(4):
            call_id = stack.call("leak", {"secret": stack.secret, "jwt": jwt})["callId"]
            try:
                events = tail.wait_events(
                    lambda ev, call_id=call_id: sum(e.get("callId") == call_id and e["type"] == "log" for e in ev) == 2,
                    timeout=5,
                    message="the two leaking lines",
                )
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no call's two leaking lines reached the tail")
        messages = [e["message"] for e in events if e["type"] == "log" and e.get("callId") == call_id]
        assert messages == ["secret is [REDACTED]", "Authorization: Bearer [REDACTED]"]
        printed = "".join(tail.stdout) + "".join(tail.stderr)
        assert stack.secret not in printed and jwt not in printed and "c2lnbmF0dXJl" not in printed
    finally:
        tail.stop()


def test_no_tools_log_frame_travels_while_nobody_tails(stack):
    stack.wait_logs_subscribed(False)
    received = stack.connector()["logLinesReceived"]
    quiet_ids = [stack.call("chatty", {"tag": f"quiet {n}"})["callId"] for n in range(5)]
    tail = stack.tail("--tool", "chatty")
    try:
        stack.wait_logs_subscribed(True)
        heard = stack.call("chatty", {"tag": "heard"})["callId"]
        events = tail.wait_events(
            lambda ev: sum(e.get("callId") == heard and e["type"] == "log" for e in ev) == 3,
            timeout=10,
            message="the heard call's lines",
        )
        # The link is ordered: lines of the quiet calls, had any been sent, would have arrived first.
        assert not {e.get("callId") for e in events} & set(quiet_ids)
        assert stack.connector()["logLinesReceived"] == received + 3
    finally:
        tail.stop()


def test_after_the_stream_drops_tail_resumes_and_events_flow_again(stack):
    tail = stack.tail()
    try:
        assert "Closed 1 tail stream(s)" in stack.cli("sim", "disconnect", "--tails").stdout
        tail.wait_stderr("Tail stream dropped")
        tail.wait_stderr("Tail stream back")
        call_id = stack.call("echo", {"after": "drop"})["callId"]
        tail.wait_events(
            lambda ev: any(e.get("callId") == call_id for e in ev), timeout=10, message="a call after the reconnect"
        )
    finally:
        tail.stop()


def test_on_a_terminal_tail_prints_readable_lines_with_the_logs_under_their_call(stack):
    import os as _os
    import pty
    import subprocess

    from tests.support.cli import EDGE_CONNECTOR

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [EDGE_CONNECTOR, "tail", "--tool", "chatty"],
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**stack.cli.env, "COLUMNS": "200"},
        cwd=stack.cli.home,
    )
    _os.close(slave)
    screen = b""

    def read_screen() -> str:
        nonlocal screen
        import select

        while select.select([master], [], [], 0)[0]:
            try:
                screen += _os.read(master, 65536)
            except OSError:
                break
        return screen.decode("utf-8", "replace").replace("\r", "")

    try:
        stack.wait_logs_subscribed(True)
        call_id = stack.call("chatty", {"tag": "pretty"})["callId"]
        wait_until(lambda: "step 3" in read_screen(), 10, message="the call and its lines on the terminal")
        lines = [line for line in read_screen().splitlines() if line.strip()]
        at = next(i for i, line in enumerate(lines) if "chatty" in line and " ok " in line)
        call_line = lines[at]
        assert stack.deployment_id in call_line and " ms " in call_line and call_id[:17] in call_line
        assert [line.split(None, 3)[-1] for line in lines[at + 1 : at + 4]] == ["step 1 pretty", "step 2", "step 3"]
        assert all(line.startswith("    │") for line in lines[at + 1 : at + 4])
        assert not screen.lstrip().startswith(b"{")  # not JSON on a terminal
        process.send_signal(2)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        _os.close(master)


def test_a_connector_that_reconnects_while_someone_tails_is_subscribed_again(stack):
    tail = stack.tail("--tool", "chatty")
    try:
        stack.wait_logs_subscribed(True)
        first = stack.connector()["connectorId"]
        stack.cli("sim", "disconnect", "--deployment", stack.deployment_id)
        wait_until(
            lambda: (
                stack.http.get("/api/connectors").json()["connectors"][:1] != []
                and stack.connector()["connectorId"] != first
            ),
            20,
            message="the runtime to reconnect",
        )
        stack.wait_logs_subscribed(True)
        call_id = stack.call("chatty", {"tag": "again"})["callId"]
        tail.wait_events(
            lambda ev: sum(e.get("callId") == call_id and e["type"] == "log" for e in ev) == 3,
            timeout=10,
            message="the lines of a call on the new link",
        )
    finally:
        tail.stop()
