"""Both ends of a link, driven with plain strings: no sockets, no clock, no private methods.

Most tests wire a `ConnectorLink` to a `PlatformLink` through `Wire`, which carries each `Send` frame
to the other side, so they check that the two machines agree with each other as well as with SPEC.md.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_protocol import close_codes, jsonrpc
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.link import (
    AssignBundle,
    CallAnswered,
    Close,
    ConnectorLink,
    Draining,
    HelloReceived,
    HelloRefused,
    Ignored,
    LinkState,
    LogsReceived,
    PlatformLink,
    ProbeAnswered,
    Reauthenticated,
    ReauthRefused,
    ReauthRequested,
    Registered,
    RunCall,
    SecretsChanged,
    SeenCalls,
    Send,
    TailChanged,
    TokenExpired,
    ToolsChanged,
)
from edge_protocol.messages import (
    BundleRef,
    BundleUpdated,
    CallParams,
    CallResult,
    HelloParams,
    HelloResult,
    LogEntry,
    LogsSubscribe,
    SecretsUpdated,
    ToolInfo,
    ToolsLog,
    ToolsUpdated,
)

CHECKSUM = "sha256:" + "b" * 64
ECHO = ToolInfo("echo", input_schema={"type": "object"})
HELLO = HelloParams("0.1.0", "dep-1", None, (ECHO,), 8)


def frames(actions: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(action.frame) for action in actions if isinstance(action, Send)]


def events(actions: list[Any]) -> list[Any]:
    return [action for action in actions if not isinstance(action, Send)]


def registered_pair(expires_at: float | None = 1000.0) -> tuple[ConnectorLink, PlatformLink]:
    """A connector and a platform after a successful hello, at time 0."""
    connector, platform = ConnectorLink(), PlatformLink(opened_at=0.0, token_expires_at=expires_at)
    [received] = platform.receive(connector.hello(HELLO))
    assert isinstance(received, HelloReceived) and received.params == HELLO
    result = HelloResult("conn_1", "dep-1", "org-1", 30.0, None)
    assert connector.receive(platform.accept_hello(received.request_id, result)) == [Registered(result)]
    assert connector.state is platform.state is LinkState.REGISTERED
    return connector, platform


# ------------------------------------------------------------------------------------ hello
def test_hello_round_trip():
    registered_pair()


def test_a_refused_hello_closes_4000_on_both_sides():
    connector, platform = ConnectorLink(), PlatformLink(opened_at=0.0, token_expires_at=None)
    [received] = platform.receive(connector.hello(HELLO))
    refusal = platform.refuse_hello(received.request_id, "Deployment 'dep-1' not found in this organization")
    assert refusal[-1] == Close(close_codes.CLOSE_PROTOCOL_ERROR, "Deployment 'dep-1' not found in this organization")
    [frame] = [a.frame for a in refusal if isinstance(a, Send)]
    actions = connector.receive(frame)
    assert isinstance(actions[0], HelloRefused) and "not found in this organization" in actions[0].message
    assert actions[1].code == close_codes.CLOSE_PROTOCOL_ERROR


@pytest.mark.parametrize(
    "first",
    [
        jsonrpc.request(1, jsonrpc.TOOLS_CALL, {"callId": "c", "name": "echo"}),
        jsonrpc.notification(jsonrpc.TOOLS_UPDATED, {"bundle": None, "tools": []}),
        "{not json",
    ],
)
def test_the_first_message_must_be_hello(first):
    platform = PlatformLink(opened_at=0.0, token_expires_at=None)
    actions = platform.receive(first)
    assert actions[-1].code == close_codes.CLOSE_PROTOCOL_ERROR
    if '"id"' in first:
        assert frames(actions)[0]["error"]["code"] == jsonrpc.INVALID_REQUEST
    assert platform.receive(jsonrpc.request("h", jsonrpc.HELLO, {})) == []  # closed: nothing more happens


def test_an_invalid_hello_names_the_field_and_closes():
    platform = PlatformLink(opened_at=0.0, token_expires_at=None)
    actions = platform.receive(jsonrpc.request("hello", jsonrpc.HELLO, {"tools": [{"name": 5}]}))
    [answer] = frames(actions)
    assert (
        answer["error"]["code"] == jsonrpc.INVALID_PARAMS
        and "connector.hello.tools[0].name" in answer["error"]["message"]
    )
    assert actions[-1] == Close(close_codes.CLOSE_PROTOCOL_ERROR, "invalid hello")


def test_no_hello_within_the_timeout_closes_4000():
    platform = PlatformLink(opened_at=100.0, token_expires_at=None, hello_timeout=10.0)
    assert platform.next_deadline() == 110.0
    assert platform.tick(109.9) == []
    assert platform.tick(110.0)[0].code == close_codes.CLOSE_PROTOCOL_ERROR
    assert platform.next_deadline() is None


def test_frames_before_the_hello_answer_are_not_acted_on_by_the_connector():
    connector = ConnectorLink()
    connector.hello(HELLO)
    call = jsonrpc.request(1, jsonrpc.TOOLS_CALL, {"callId": "c", "name": "echo"})
    assert [type(a) for a in connector.receive(call)] == [Ignored]
    bad = connector.receive(jsonrpc.result("hello", {"connectorId": "c"}))
    assert isinstance(bad[0], HelloRefused) and "orgId" in bad[0].message


# ------------------------------------------------------------------------------------ calls
def test_a_call_round_trip():
    connector, platform = registered_pair()
    request_id, frame = platform.call(CallParams("call_1", "echo", {"n": 1}, 300))
    [run] = connector.receive(frame)
    assert run == RunCall(request_id, CallParams("call_1", "echo", {"n": 1}, 300))
    [answered] = platform.receive(connector.answer(run.request_id, CallResult({"n": 1}, 0.4))[0])
    assert answered == CallAnswered(request_id, result=CallResult({"n": 1}, 0.4))


def test_a_tool_error_reaches_the_platform_with_kind_code_and_details():
    connector, platform = registered_pair()
    request_id, frame = platform.call(CallParams("call_1", "echo", {}, None))
    [run] = connector.receive(frame)
    failure = ToolCallError(ToolErrorKind.TOOL_ERROR, "city is empty", "bad_city", {"field": "city"})
    [answered] = platform.receive(connector.fail(run.request_id, failure))
    assert answered.request_id == request_id and not answered.refused
    assert (answered.error.kind, answered.error.code, answered.error.details) == (
        ToolErrorKind.TOOL_ERROR,
        "bad_city",
        {"field": "city"},
    )


def test_a_call_id_never_runs_twice_even_on_a_new_link():
    seen = SeenCalls()
    first = ConnectorLink(seen)
    first.hello(HELLO)
    first.receive(jsonrpc.result("hello", HelloResult("c", None, "o").to_wire()))
    frame = jsonrpc.request(1, jsonrpc.TOOLS_CALL, {"callId": "same", "name": "echo"})
    assert isinstance(first.receive(frame)[0], RunCall)
    second = ConnectorLink(seen)  # after a reconnect
    second.hello(HELLO)
    second.receive(jsonrpc.result("hello", HelloResult("c", None, "o").to_wire()))
    [refusal] = frames(second.receive(jsonrpc.request(2, jsonrpc.TOOLS_CALL, {"callId": "same", "name": "echo"})))
    assert refusal["error"]["code"] == jsonrpc.INVALID_REQUEST and "never runs twice" in refusal["error"]["message"]


def test_the_connector_refusing_a_request_is_the_platforms_fault():
    connector, platform = registered_pair()
    request_id, _ = platform.call(CallParams("call_1", "echo", {}, None))
    [answered] = platform.receive(jsonrpc.error(request_id, {"code": jsonrpc.INVALID_PARAMS, "message": "nope"}))
    assert answered.refused and answered.error.kind is ToolErrorKind.TOOL_ERROR
    assert answered.error.message == "connector refused the call: nope"


@pytest.mark.parametrize(
    "answer,words",
    [
        (lambda rid: jsonrpc.result(rid, {"durationMs": 1}), "output is missing"),
        (
            lambda rid: jsonrpc.error(rid, {"code": -32001, "message": "x", "data": {"kind": "bogus"}}),
            "error.data.kind",
        ),
    ],
)
def test_malformed_answers_fail_the_call_with_the_field_named(answer, words):
    _, platform = registered_pair()
    request_id, _ = platform.call(CallParams("call_1", "echo", {}, None))
    [answered] = platform.receive(answer(request_id))
    assert answered.refused and words in answered.error.message


def test_a_draining_connector_still_runs_the_calls_already_on_their_way_and_tells_the_platform():
    connector, platform = registered_pair()
    # A call the platform routed before it read `connector.draining` crosses it on the wire: it runs
    # (refusing it would fail a call during a rolling restart, SPEC.md §14).
    _, crossing = platform.call(CallParams("call_9", "echo", {}, None))
    draining = connector.draining()
    assert platform.receive(draining) == [Draining()] and platform.draining
    [run] = connector.receive(crossing)
    assert isinstance(run, RunCall) and run.params.call_id == "call_9"


def test_a_ping_answer_is_a_barrier_behind_every_frame_sent_before_it():
    connector, platform = registered_pair()
    ping_id, ping = connector.probe()
    [answer] = frames(platform.receive(ping))
    assert answer == {"jsonrpc": "2.0", "id": ping_id, "result": {}}
    assert connector.receive(json.dumps(answer)) == [ProbeAnswered(ping_id)]
    assert connector.receive(json.dumps(answer)) == [Ignored(f"an answer to no request of ours ({ping_id})")]


def test_the_platform_probes_a_holder_and_any_answer_counts():
    connector, platform = registered_pair()
    probe_id, probe = platform.probe()
    [pong] = frames(connector.receive(probe))
    assert pong == {"jsonrpc": "2.0", "id": probe_id, "result": {}}
    assert platform.receive(json.dumps(pong)) == [ProbeAnswered(probe_id)]
    # An older connector that does not know connector.ping answers an error: alive all the same.
    other_id, _ = platform.probe()
    unknown = jsonrpc.error(other_id, {"code": jsonrpc.METHOD_NOT_FOUND, "message": "Method not found"})
    assert platform.receive(unknown) == [ProbeAnswered(other_id)]


@pytest.mark.parametrize(
    "frame,connector_code,platform_code",
    [
        ("{not json", jsonrpc.PARSE_ERROR, jsonrpc.PARSE_ERROR),
        ('{"jsonrpc": "1.0", "id": 1, "method": "x"}', jsonrpc.INVALID_REQUEST, jsonrpc.INVALID_REQUEST),
        (jsonrpc.request(7, "tools/explode", {}), jsonrpc.METHOD_NOT_FOUND, jsonrpc.METHOD_NOT_FOUND),
        # A platform does not run tools: a tools/call sent to it is an unknown method there.
        (jsonrpc.request(8, jsonrpc.TOOLS_CALL, {"name": "echo"}), jsonrpc.INVALID_PARAMS, jsonrpc.METHOD_NOT_FOUND),
        (
            jsonrpc.request(9, jsonrpc.TOOLS_CALL, {"callId": "x", "name": "echo", "timeoutMs": -5}),
            jsonrpc.INVALID_PARAMS,
            jsonrpc.METHOD_NOT_FOUND,
        ),
        (b"\x00binary", jsonrpc.INVALID_REQUEST, jsonrpc.INVALID_REQUEST),
    ],
)
def test_bad_frames_get_an_error_and_the_link_stays_up_on_both_sides(frame, connector_code, platform_code):
    connector, platform = registered_pair()
    for side, code in ((connector, connector_code), (platform, platform_code)):
        actions = side.receive(frame)
        assert [answer["error"]["code"] for answer in frames(actions)] == [code]
        assert not any(isinstance(a, Close) for a in actions)
        assert side.state is LinkState.REGISTERED


def test_an_oversized_frame_closes_4000():
    connector, platform = registered_pair()
    for side in (connector, platform):
        [close] = side.receive("x" * (MAX_FRAME_BYTES + 1))
        assert close.code == close_codes.CLOSE_PROTOCOL_ERROR
        # The limit is in bytes: half as many two-byte characters are just as big on the wire.
        [close] = side.receive("é" * (MAX_FRAME_BYTES // 2 + 1))
        assert close.code == close_codes.CLOSE_PROTOCOL_ERROR


def test_a_frame_just_under_the_limit_in_bytes_is_parsed():
    assert not jsonrpc.oversized("é" * (MAX_FRAME_BYTES // 2))
    assert jsonrpc.oversized("😀" * (MAX_FRAME_BYTES // 4 + 1)) and not jsonrpc.oversized("x" * MAX_FRAME_BYTES)


def test_an_unknown_method_is_not_echoed_back_in_full():
    connector, platform = registered_pair()
    for side in (connector, platform):
        [send] = side.receive(jsonrpc.request(9, "m" * 1_000_000, {}))
        assert len(send.frame) < 300 and '"code":-32601' in send.frame


# ------------------------------------------------------------------------------------ notifications
def test_platform_notifications_become_connector_events():
    connector, platform = registered_pair()
    ref = BundleRef("tools", 2, CHECKSUM, 10, "/api/bundles/tools/versions/2/archive")
    assert connector.receive(platform.push(BundleUpdated(ref))) == [AssignBundle(ref)]
    assert connector.receive(platform.push(SecretsUpdated())) == [SecretsChanged()]
    assert connector.receive(platform.push(LogsSubscribe(True))) == [TailChanged(True)]
    assert isinstance(connector.receive(jsonrpc.notification("something.new", {}))[0], Ignored)
    bad = connector.receive(jsonrpc.notification(jsonrpc.BUNDLE_UPDATED, {"name": "tools"}))
    assert isinstance(bad[0], Ignored) and "bundle.updated.checksum" in bad[0].reason


def test_connector_notifications_become_platform_events():
    connector, platform = registered_pair()
    update = ToolsUpdated(BundleRef("tools", 3, CHECKSUM), (ECHO,))
    assert platform.receive(connector.tools_updated(update)) == [ToolsChanged(update)]
    batch = ToolsLog((LogEntry("2026-11-30T00:00:00Z", "echo", "call_1", "info", "hello"),))
    assert platform.receive(connector.tools_log(batch)) == [LogsReceived(batch)]
    bad = platform.receive(jsonrpc.notification(jsonrpc.TOOLS_UPDATED, {"tools": "x"}))
    assert isinstance(bad[0], Ignored) and "tools.updated.tools" in bad[0].reason


# ------------------------------------------------------------------------------------ token lifetime
def test_a_token_expiring_before_hello_closes_4001_at_its_expiry_not_at_the_hello_timeout():
    platform = PlatformLink(opened_at=100.0, token_expires_at=101.0, hello_timeout=10.0)
    assert platform.next_deadline() == 101.0
    assert platform.tick(101.0)[-1] == Close(close_codes.CLOSE_TOKEN_EXPIRED, "Token has expired")


def test_the_link_closes_4001_when_its_token_expires():
    _, platform = registered_pair(expires_at=500.0)
    assert platform.next_deadline() == 500.0
    assert platform.tick(499.0) == []
    assert platform.tick(500.0) == [TokenExpired(), Close(close_codes.CLOSE_TOKEN_EXPIRED, "Token has expired")]


def test_reauth_in_band_extends_the_link():
    connector, platform = registered_pair(expires_at=500.0)
    [requested] = platform.receive(connector.reauth("new.jwt.token"))
    assert isinstance(requested, ReauthRequested) and requested.token == "new.jwt.token"
    assert "new.jwt.token" not in repr(requested)
    assert connector.receive(platform.accept_reauth(requested.request_id, 900)) == [Reauthenticated(900)]
    assert platform.next_deadline() == 900
    assert platform.tick(600.0) == []  # past the first token's expiry: still open
    assert platform.tick(900.0)[-1].code == close_codes.CLOSE_TOKEN_EXPIRED


def test_a_refused_reauth_keeps_the_old_deadline():
    connector, platform = registered_pair(expires_at=500.0)
    [requested] = platform.receive(connector.reauth("forged"))
    [refused] = connector.receive(
        platform.refuse_reauth(requested.request_id, "Token validation failed: bad signature")
    )
    assert refused == ReauthRefused("Token validation failed: bad signature")
    assert platform.tick(500.0)[-1].code == close_codes.CLOSE_TOKEN_EXPIRED


def test_a_reauth_without_a_token_is_answered_with_the_field_named():
    _, platform = registered_pair()
    [answer] = frames(platform.receive(jsonrpc.request("r", jsonrpc.CONNECTOR_REAUTH, {})))
    assert answer["error"]["code"] == jsonrpc.INVALID_PARAMS and "connector.reauth.token" in answer["error"]["message"]


def test_an_answer_nobody_asked_for_is_ignored():
    connector, _ = registered_pair()
    assert isinstance(connector.receive(jsonrpc.result("reauth-99", {"expiresAt": 1}))[0], Ignored)
