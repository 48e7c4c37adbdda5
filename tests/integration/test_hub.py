"""The platform hub (`WS /tool-rpc`, `POST /api/tools/{tool}/call`, pushes, sim) against raw protocol clients.

The connectors here are scripted websockets clients, so each test controls exactly what the
"runtime" answers, including nothing at all and frames no real runtime sends.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from edge_protocol import close_codes, jsonrpc
from edge_protocol.limits import MAX_FRAME_BYTES
from tests.support.bundles import echo_tool, make_archive
from tests.support.platform import PlatformProcess
from tests.support.waiting import async_wait_until

ECHO = {
    "name": "echo",
    "description": "",
    "entry": "dist/echo.js",
    "timeoutMs": 30000,
    "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("hub") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def new_org(platform) -> str:
    unique = uuid.uuid4().hex[:12]
    return platform.user_token(email=f"{unique}@example.com", org_id=f"org-{unique}")


Answer = Callable[[dict[str, Any]], Any]


class Connector:
    """A scripted connector: hello, then answer each tools/call with `answer(params)` (None = stay silent)."""

    def __init__(
        self, platform, token: str, tools=None, answer: Answer | None = None, headers=None, answers_probes: bool = True
    ) -> None:
        self.platform, self.token = platform, token
        self.answers_probes = answers_probes  # False: a link the network silently dropped
        self.tools = [ECHO] if tools is None else tools
        self.answer = answer or (lambda params: {"output": params["arguments"], "durationMs": 0.1})
        self.headers = headers or {}
        self.received: asyncio.Queue = asyncio.Queue()
        self.calls: list[dict] = []
        self.hello_result: dict | None = None

    async def __aenter__(self) -> Connector:
        self.ws = await connect(
            self.platform.ws_url,
            additional_headers={"Authorization": f"Bearer {self.token}", **self.headers},
            max_size=None,
        )
        await self.ws.send(
            jsonrpc.request(
                "h",
                jsonrpc.HELLO,
                {
                    "connectorVersion": "test",
                    "deploymentId": None,
                    "bundle": None,
                    "tools": self.tools,
                    "concurrency": 8,
                },
            )
        )
        self.hello_result = json.loads(await self.ws.recv())["result"]
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                message = json.loads(frame)
                if message.get("method") == jsonrpc.CONNECTOR_PING:
                    # A live connector answers the platform's probe (SPEC §14), as the runtime does.
                    if self.answers_probes:
                        await self.ws.send(jsonrpc.result(message["id"], {}))
                    await self.received.put(message)
                elif message.get("method") == jsonrpc.TOOLS_CALL:
                    self.calls.append(message["params"])
                    reply = self.answer(message["params"])
                    if isinstance(reply, dict) and "code" in reply:
                        await self.ws.send(jsonrpc.error(message["id"], reply))
                    elif reply is not None:
                        await self.ws.send(jsonrpc.result(message["id"], reply))
                else:
                    await self.received.put(message)
        except ConnectionClosed:
            pass

    async def next_message(self, timeout: float = 5.0) -> dict:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def __aexit__(self, *exc) -> None:
        self.reader.cancel()
        await self.ws.close()


def client(platform, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


async def refusal(platform, headers: dict[str, str]) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(platform.ws_url, additional_headers=headers):
            pass
    return caught.value.response.status_code, json.loads(caught.value.response.body)


# ------------------------------------------------------------------------------------ handshake
async def test_handshake_refusals_are_http_statuses_with_the_json_error(platform):
    status, body = await refusal(platform, {})
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    expired = platform.mint_token(sub="a@example.com", orgId="org-x", expiresIn=-10)
    status, body = await refusal(platform, {"Authorization": f"Bearer {expired}"})
    assert (status, body["error"]) == (401, {"code": "token_expired", "message": "Token has expired"})
    forged = jwt.encode(
        {"sub": "a", "orgId": "org-x", "iat": int(time.time()), "exp": int(time.time()) + 60},
        "some-other-secret-0123456789abcdef",
        algorithm="HS256",
    )
    status, body = await refusal(platform, {"Authorization": f"Bearer {forged}"})
    assert status == 401 and body["error"]["code"] == "token_invalid"
    assert body["error"]["message"].startswith("Token validation failed: ")
    orgless = platform.mint_token(sub="a@example.com", expiresIn=60)
    status, body = await refusal(platform, {"Authorization": f"Bearer {orgless}"})
    assert (status, body["error"]) == (403, {"code": "no_organization", "message": "No organization in token"})
    status, body = await refusal(platform, {"Authorization": "Basic abc"})
    assert status == 401 and body["error"]["code"] == "token_invalid"


async def test_a_second_link_of_one_deployment_is_refused_409_while_the_first_is_alive(platform):
    user = new_org(platform)
    async with client(platform, user) as api:
        deployment = (await api.post("/api/deployments", json={"name": "d"})).json()["deploymentId"]
    token = platform.mint_token(
        sub="connector", orgId=jwt.decode(user, options={"verify_signature": False})["orgId"], deploymentId=deployment
    )
    async with Connector(platform, token) as first:
        assert first.hello_result["deploymentId"] == deployment
        status, body = await refusal(platform, {"Authorization": f"Bearer {token}"})
        assert (status, body["error"]) == (
            409,
            {"code": "deployment_already_connected", "message": "Deployment already connected"},
        )
        # A user token naming the deployment in a header is refused before the upgrade too.
        status, _ = await refusal(platform, {"Authorization": f"Bearer {user}", "X-Deployment-Id": deployment})
        assert status == 409
    async with Connector(platform, token):  # once the first is gone, the deployment is free
        pass
    status, body = await refusal(platform, {"Authorization": f"Bearer {user}", "X-Deployment-Id": "dep-of-nobody"})
    assert status == 404 and body["error"]["code"] == "deployment_not_found"


async def test_sim_reject_refuses_the_next_n_handshakes_of_the_org_only(platform):
    user, other = new_org(platform), new_org(platform)
    async with client(platform, user) as api:
        assert (await api.post("/api/sim/reject", json={"count": 2})).json() == {"rejectNext": 2}
    async with Connector(platform, other):
        pass  # another org is not affected
    for _ in range(2):
        status, body = await refusal(platform, {"Authorization": f"Bearer {user}"})
        assert status == 503 and body["error"]["code"] == "unavailable"
    async with Connector(platform, user):
        pass


# ------------------------------------------------------------------------------------ bad input at the hub
async def test_bad_frames_get_json_rpc_errors_and_oversized_ones_close_4000(platform):
    user = new_org(platform)
    async with Connector(platform, user) as connector:
        ws = connector.ws
        await ws.send("{not json")
        assert (await connector.next_message())["error"]["code"] == jsonrpc.PARSE_ERROR
        await ws.send(b"\x00binary")
        assert (await connector.next_message())["error"]["code"] == jsonrpc.INVALID_REQUEST
        await ws.send(jsonrpc.request(5, "platform/reboot", {}))
        reply = await connector.next_message()
        assert (reply["id"], reply["error"]["code"]) == (5, jsonrpc.METHOD_NOT_FOUND)
        await ws.send(jsonrpc.result("no-such-call", {"output": 1}))  # a stray answer is ignored
        async with client(platform, user) as api:
            assert (await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})).status_code == 200
        await ws.send("x" * (MAX_FRAME_BYTES + 1))
        await asyncio.wait_for(ws.wait_closed(), 10)
        assert ws.close_code == close_codes.CLOSE_PROTOCOL_ERROR


async def test_the_first_message_must_be_hello(platform):
    user = new_org(platform)
    async with connect(platform.ws_url, additional_headers={"Authorization": f"Bearer {user}"}) as ws:
        await ws.send(jsonrpc.request(1, jsonrpc.TOOLS_CALL, {}))
        assert json.loads(await ws.recv())["error"]["code"] == jsonrpc.INVALID_REQUEST
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == close_codes.CLOSE_PROTOCOL_ERROR


# ------------------------------------------------------------------------------------ calls
async def test_call_statuses(platform):
    user = new_org(platform)

    def answer(params):
        if params["arguments"].get("n") == 2:
            return ToolError.tool_error
        if params["arguments"].get("n") == 3:
            return None  # never answers
        return {"output": {"doubled": params["arguments"]["n"] * 2}, "durationMs": 0.2}

    async with client(platform, user) as api:
        response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "connector_unavailable"
        assert response.json()["error"]["message"].startswith("connector unavailable")
        async with Connector(platform, user, answer=answer) as connector:
            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})
            assert response.status_code == 200
            body = response.json()
            assert body["output"] == {"doubled": 2} and body["durationMs"] == 0.2 and body["callId"].startswith("call_")
            assert connector.calls[-1]["callId"] == body["callId"] and connector.calls[-1]["timeoutMs"] == 30000

            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": "one"}})
            assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_arguments"
            assert response.json()["error"]["details"][0]["path"] == "/n"
            assert len(connector.calls) == 1  # refused by the platform; the connector never saw it

            response = await api.post("/api/tools/nope/call", json={"arguments": {}})
            assert response.status_code == 404 and response.json()["error"]["code"] == "tool_not_found"

            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 2}})
            assert response.status_code == 502
            assert response.json()["error"] == {
                "code": "tool_error",
                "message": "city is empty",
                "details": {"field": "city"},
                "toolCode": "bad_city",
            }

            started = time.monotonic()
            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 3}, "timeoutMs": 300})
            assert response.status_code == 504 and response.json()["error"]["code"] == "tool_timeout"
            assert 0.3 <= time.monotonic() - started < 10  # the 300 ms deadline, not the 30 s default
            assert connector.calls[-1]["timeoutMs"] == 300

            for bad in ({"arguments": {}, "timeoutMs": -1}, {"arguments": {}, "deploymentId": 5}, [1]):
                response = await api.post("/api/tools/echo/call", json=bad)
                assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
            response = await api.post("/api/tools/echo/call", content=b"{nope")
            assert response.status_code == 400

            calls = (await api.get("/api/calls", params={"limit": 3})).json()["calls"]
            assert [c["errorCode"] for c in calls] == ["tool_timeout", "tool_error", "tool_not_found"]
            assert calls[0]["outcome"] == "error" and calls[0]["tool"] == "echo"


class ToolError:
    tool_error = {
        "code": -32001,
        "message": "city is empty",
        "data": {"kind": "tool_error", "code": "bad_city", "details": {"field": "city"}},
    }


async def test_a_dropped_link_fails_its_calls_in_flight_at_once(platform):
    user = new_org(platform)
    async with client(platform, user) as api:
        connector = await Connector(platform, user, answer=lambda params: None).__aenter__()
        pending = asyncio.create_task(
            api.post("/api/tools/echo/call", json={"arguments": {"n": 1}, "timeoutMs": 20000})
        )
        await async_wait_until(lambda: connector.calls, 10, message="the call to reach the connector")
        started = time.monotonic()
        await connector.__aexit__()
        response = await pending
        assert response.status_code == 503 and response.json()["error"]["code"] == "connector_unavailable"
        assert time.monotonic() - started < 10  # well before the call's 20 s deadline


async def test_a_holder_silent_to_the_probe_is_replaced_4009_and_its_calls_fail(platform):
    user = new_org(platform)
    async with client(platform, user) as api:
        deployment = (await api.post("/api/deployments", json={"name": "d"})).json()["deploymentId"]
        token = platform.mint_token(
            sub="connector",
            orgId=jwt.decode(user, options={"verify_signature": False})["orgId"],
            deploymentId=deployment,
        )
        ghost = await Connector(platform, token, answer=lambda params: None, answers_probes=False).__aenter__()
        pending = asyncio.create_task(
            api.post("/api/tools/echo/call", json={"arguments": {"n": 1}, "timeoutMs": 20000})
        )
        await async_wait_until(lambda: ghost.calls, 10, message="the call to reach the silent holder")
        started = time.monotonic()
        async with Connector(platform, token) as successor:  # admitted: the holder did not answer
            assert time.monotonic() - started < 5  # one ~2 s probe, not two heartbeats
            assert (await ghost.next_message())["method"] == jsonrpc.CONNECTOR_PING
            await async_wait_until(lambda: ghost.ws.close_code is not None, 5, message="the ghost's close")
            assert ghost.ws.close_code == close_codes.CLOSE_REPLACED
            response = await pending
            assert response.status_code == 503 and response.json()["error"]["code"] == "connector_unavailable"
            connectors = (await api.get("/api/connectors")).json()["connectors"]
            assert [c["connectorId"] for c in connectors] == [successor.hello_result["connectorId"]]
        await ghost.__aexit__()


async def test_replicas_admit_n_links_and_refuse_the_next_after_probing(platform):
    user = new_org(platform)
    async with client(platform, user) as api:
        made = await api.post("/api/deployments", json={"name": "pool", "replicas": 2})
        deployment = made.json()["deploymentId"]
        token = platform.mint_token(
            sub="connector",
            orgId=jwt.decode(user, options={"verify_signature": False})["orgId"],
            deploymentId=deployment,
        )
        async with Connector(platform, token) as first, Connector(platform, token) as second:
            assert first.hello_result["connectorId"] != second.hello_result["connectorId"]
            status, body = await refusal(platform, {"Authorization": f"Bearer {token}"})
            assert (status, body["error"]["message"]) == (409, "Deployment already connected")
            # Both answered the probe; now one drains: it gives up its seat and gets no new calls.
            await first.ws.send(jsonrpc.notification(jsonrpc.CONNECTOR_DRAINING, {}))

            async def first_draining() -> bool:
                listed = (await api.get("/api/connectors")).json()["connectors"]
                return any(c["draining"] for c in listed if c["connectorId"] == first.hello_result["connectorId"])

            await async_wait_until(first_draining, 5, message="the platform to see the drain")
            for _ in range(6):
                answer = await api.post(
                    "/api/tools/echo/call", json={"arguments": {"n": 1}, "deploymentId": deployment}
                )
                assert answer.json()["connectorId"] == second.hello_result["connectorId"]
            async with Connector(platform, token) as third:
                assert third.hello_result["deploymentId"] == deployment


async def test_handshakes_beyond_the_rate_get_503_with_a_retry_after_spread_over_the_backlog(tmp_path):
    shaped = PlatformProcess(tmp_path / "data", extra_args=["--handshake-rate", "1"]).start()
    try:
        answers = []
        for _ in range(4):
            with pytest.raises(InvalidStatus) as caught:
                async with connect(shaped.ws_url):
                    pass
            answers.append((caught.value.response.status_code, caught.value.response.headers.get("Retry-After")))
        assert answers[0] == (401, None)  # admitted (then refused: no token)
        assert [status for status, _ in answers[1:]] == [503, 503, 503]
        waits = [int(after) for _, after in answers[1:]]
        assert waits == sorted(waits) and waits[-1] >= 2  # each one later than the one before it
    finally:
        shaped.stop()


async def test_the_heartbeat_drops_a_silent_link_within_two_intervals_and_keeps_live_ones(tmp_path):
    # SPEC §7: a peer silent for 2 intervals is dead. One platform timer pings every link; a link whose
    # host hangs (TCP open, nothing read, no pong) must be dropped in time, a live one never.
    heartbeat = 0.5
    quick = PlatformProcess(tmp_path / "data", extra_args=["--heartbeat", str(heartbeat)]).start()
    try:
        user = new_org(quick)
        async with client(quick, user) as api, Connector(quick, user) as live, Connector(quick, user) as hung:
            assert hung.hello_result is not None and hung.hello_result["heartbeatSeconds"] == heartbeat

            async def listed() -> set[str]:
                return {c["connectorId"] for c in (await api.get("/api/connectors")).json()["connectors"]}

            live_id, hung_id = live.hello_result["connectorId"], hung.hello_result["connectorId"]
            assert await listed() == {live_id, hung_id}
            hung.ws.transport.pause_reading()  # a hung host: pings reach its socket, no pong comes back
            silent_since = time.monotonic()
            await async_wait_until(
                lambda: _without(listed(), hung_id), 10, interval=0.05, message="the hung link to be dropped"
            )
            silent_for = time.monotonic() - silent_since
            # Two intervals, plus one slice of the heartbeat's wheel and the polling's slack on a busy box.
            assert silent_for <= 2 * heartbeat + 1.5, silent_for
            hung.ws.transport.resume_reading()  # let its client see the close (1011) and end quickly
            # The live one answers its pings: still there after several intervals of the heartbeat.
            await async_wait_until(lambda: time.monotonic() - silent_since > 4 * heartbeat, 10)
            assert live_id in await listed() and live.ws.close_code is None
    finally:
        quick.stop()


async def _without(listed, connector_id: str) -> bool:
    return connector_id not in await listed


async def test_routing_least_busy_and_by_deployment(platform):
    user = new_org(platform)
    async with client(platform, user) as api:
        deployment = (await api.post("/api/deployments", json={"name": "d"})).json()["deploymentId"]
        busy_answers: list = []

        def busy(params):
            busy_answers.append(params)
            return None  # stays busy

        async with (
            Connector(platform, user, answer=busy) as _first,
            Connector(platform, user, headers={"X-Deployment-Id": deployment}) as second,
        ):
            assert second.hello_result["deploymentId"] == deployment
            # Calls until one lands on `_first`, which never answers: from then on it is the busier one.
            stuck: list[asyncio.Task] = []
            for _ in range(50):  # ties take turns, so this ends within two calls
                if busy_answers:
                    break
                stuck.append(
                    asyncio.create_task(
                        api.post("/api/tools/echo/call", json={"arguments": {"n": 0}, "timeoutMs": 5000})
                    )
                )
                await asyncio.sleep(0.05)
            for n in range(3):
                response = await api.post("/api/tools/echo/call", json={"arguments": {"n": n}})
                assert response.status_code == 200 and response.json()["deploymentId"] == deployment
            assert len(busy_answers) == 1
            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 7}, "deploymentId": deployment})
            assert response.status_code == 200 and response.json()["deploymentId"] == deployment
            response = await api.post(
                "/api/tools/echo/call", json={"arguments": {"n": 7}, "deploymentId": "dep-nobody"}
            )
            assert response.status_code == 404  # SPEC.md §9: deployment_not_found
            connectors = (await api.get("/api/connectors")).json()["connectors"]
            assert sorted(str(c["deploymentId"]) for c in connectors) == sorted([deployment, "None"])
            assert sorted(c["inFlight"] for c in connectors) == [0, 1]  # the stuck call
            for task in stuck:
                task.cancel()


async def test_organizations_are_isolated(platform):
    alice, bob = new_org(platform), new_org(platform)
    async with Connector(platform, alice):
        async with client(platform, bob) as api:
            assert (await api.get("/api/connectors")).json() == {"connectors": []}
            response = await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})
            assert response.status_code == 503
            assert (await api.post("/api/sim/disconnect", json={})).json() == {"disconnected": 0}
            assert (await api.get("/api/calls")).json()["calls"][0]["errorCode"] == "connector_unavailable"
        async with client(platform, alice) as api:
            assert len((await api.get("/api/connectors")).json()["connectors"]) == 1
            assert all(c["errorCode"] is None for c in (await api.get("/api/calls")).json()["calls"])


async def test_tools_updated_replaces_the_registry(platform):
    user = new_org(platform)
    async with Connector(platform, user) as connector, client(platform, user) as api:
        renamed = {**ECHO, "name": "echo2"}
        await connector.ws.send(
            jsonrpc.notification(
                jsonrpc.TOOLS_UPDATED,
                {"bundle": {"name": "b", "version": 2, "checksum": "sha256:" + "b" * 64}, "tools": [renamed]},
            )
        )
        for _ in range(200):
            connectors = (await api.get("/api/connectors")).json()["connectors"]
            if connectors[0]["tools"] == ["echo2"]:
                break
            await asyncio.sleep(0.02)
        assert connectors[0]["tools"] == ["echo2"] and connectors[0]["bundle"]["version"] == 2
        assert (await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})).status_code == 404
        assert (await api.post("/api/tools/echo2/call", json={"arguments": {"n": 1}})).status_code == 200


async def test_bundle_updated_is_pushed_on_assignment_changes_and_hello_carries_the_assignment(platform, tmp_path):
    user = new_org(platform)
    archive, manifest = make_archive(tmp_path, [echo_tool()], name="push-tools")
    async with client(platform, user) as api:
        async with Connector(platform, user) as connector:
            assert connector.hello_result["assignedBundle"] is None
            uploaded = await api.post(
                "/api/bundles/push-tools/versions",
                content=archive.read_bytes(),
                headers={"X-Bundle-Checksum": manifest.checksum},
            )
            assert uploaded.status_code == 201, uploaded.text
            assert (await api.put("/api/bundles/default", json={"name": "push-tools"})).status_code == 200
            pushed = await connector.next_message()
            assert pushed["method"] == jsonrpc.BUNDLE_UPDATED
            assert pushed["params"]["name"] == "push-tools" and pushed["params"]["version"] == 1
            assert pushed["params"]["checksum"] == manifest.checksum
            assert pushed["params"]["archiveUrl"] == "/api/bundles/push-tools/versions/1/archive"
            assert pushed["params"]["tools"] == ["echo"]  # what the platform recorded; the runtime checks it
            # Muted pushes hold the next change back; re-enabling catches up.
            assert (await api.post("/api/sim/pushes", json={"enabled": False})).status_code == 200
            archive2, manifest2 = make_archive(tmp_path / "v2", [echo_tool(tag="v2")], name="push-tools")
            await api.post(
                "/api/bundles/push-tools/versions",
                content=archive2.read_bytes(),
                headers={"X-Bundle-Checksum": manifest2.checksum},
            )
            with pytest.raises(asyncio.TimeoutError):
                await connector.next_message(timeout=0.5)
            assert (await api.post("/api/sim/pushes", json={"enabled": True})).status_code == 200
            assert (await connector.next_message())["params"]["version"] == 2
        async with Connector(platform, user) as later:
            assigned = later.hello_result["assignedBundle"]
            assert assigned == {
                "name": "push-tools",
                "version": 2,
                "checksum": manifest2.checksum,
                "size": archive2.stat().st_size,
                "archiveUrl": "/api/bundles/push-tools/versions/2/archive",
                "tools": ["echo"],
            }


async def test_sim_latency_and_validation_of_sim_bodies(platform):
    user = new_org(platform)
    async with Connector(platform, user), client(platform, user) as api:
        assert (await api.post("/api/sim/latency", json={"ms": 150})).json() == {"latencyMs": 150}
        started = time.monotonic()
        assert (await api.post("/api/tools/echo/call", json={"arguments": {"n": 1}})).status_code == 200
        assert time.monotonic() - started >= 0.3  # delayed on the way out and on the way back
        started = time.monotonic()
        answers = await asyncio.gather(
            *(api.post("/api/tools/echo/call", json={"arguments": {"n": n}}) for n in range(20))
        )
        assert all(a.status_code == 200 for a in answers)
        # Each message is late, but not one after another: in turn, 20 calls would take at least 6 s.
        assert time.monotonic() - started < 4
        await api.post("/api/sim/latency", json={"ms": 0})
        for path, body in (
            ("/api/sim/latency", {"ms": -1}),
            ("/api/sim/reject", {"count": "2"}),
            ("/api/sim/pushes", {"enabled": "yes"}),
            ("/api/sim/disconnect", {"code": 99}),
        ):
            response = await api.post(path, json=body)
            assert response.status_code == 422, (path, response.text)


async def test_sim_routes_need_a_user_token_and_dev_mode(platform, tmp_path):
    response = httpx.post(f"{platform.url}/api/sim/reject", json={"count": 1})
    assert response.status_code == 401
    production = PlatformProcess(tmp_path / "prod", extra_args=["--no-dev"]).start()
    try:
        token = production.user_token()
        response = httpx.post(
            f"{production.url}/api/sim/disconnect", json={}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 404
    finally:
        production.stop()


async def test_a_link_lives_no_longer_than_its_token(platform):
    user = new_org(platform)
    org = jwt.decode(user, options={"verify_signature": False})["orgId"]
    # `exp` is whole seconds: a 1 s token minted late in a second may be expired before the handshake.
    short = platform.mint_token(sub="short@example.com", orgId=org, expiresIn=2)
    async with Connector(platform, short) as connector:
        await asyncio.wait_for(connector.ws.wait_closed(), 5)
        assert connector.ws.close_code == close_codes.CLOSE_TOKEN_EXPIRED
        assert connector.ws.close_reason == "Token has expired"
    async with client(platform, user) as api:
        assert (await api.get("/api/connectors")).json() == {"connectors": []}


async def test_idle_connectors_take_turns(platform):
    user = new_org(platform)
    async with Connector(platform, user) as first, Connector(platform, user) as second, client(platform, user) as api:
        for n in range(10):
            assert (await api.post("/api/tools/echo/call", json={"arguments": {"n": n}})).status_code == 200
        assert (len(first.calls), len(second.calls)) == (5, 5)
