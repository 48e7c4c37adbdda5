"""Every wire message of SPEC.md §7 and Part II: round trips through frames, and each bad field named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge_protocol import jsonrpc
from edge_protocol import messages as m
from edge_protocol.errors import ToolCallError, ToolErrorKind

CHECKSUM = "sha256:" + "a" * 64
ECHO = m.ToolInfo("echo", "Echoes", {"type": "object"}, None, 5000)
REF = m.BundleRef("tools", 3, CHECKSUM, 120, "/api/bundles/tools/versions/3/archive")

# (model instance, the exact JSON its to_wire gives)
EXAMPLES: list[tuple[Any, dict[str, Any]]] = [
    (m.BundleRef("tools", None, CHECKSUM), {"name": "tools", "version": None, "checksum": CHECKSUM}),
    (
        m.BundleRef("tools", 2, CHECKSUM, tools=("echo", "add")),
        {"name": "tools", "version": 2, "checksum": CHECKSUM, "tools": ["echo", "add"]},
    ),
    (
        REF,
        {
            "name": "tools",
            "version": 3,
            "checksum": CHECKSUM,
            "size": 120,
            "archiveUrl": "/api/bundles/tools/versions/3/archive",
        },
    ),
    (
        ECHO,
        {
            "name": "echo",
            "description": "Echoes",
            "inputSchema": {"type": "object"},
            "outputSchema": None,
            "timeoutMs": 5000,
        },
    ),
    (
        m.HelloParams("0.1.0", "dep-1", m.BundleRef("tools", 3, CHECKSUM), (ECHO,), 64),
        {
            "connectorVersion": "0.1.0",
            "deploymentId": "dep-1",
            "bundle": {"name": "tools", "version": 3, "checksum": CHECKSUM},
            "tools": [ECHO.to_wire()],
            "concurrency": 64,
        },
    ),
    (
        m.HelloParams(None, None, None),
        {"connectorVersion": None, "deploymentId": None, "bundle": None, "tools": [], "concurrency": None},
    ),
    (
        m.HelloResult("conn_1", "dep-1", "org-1", 30.0, REF),
        {
            "connectorId": "conn_1",
            "deploymentId": "dep-1",
            "orgId": "org-1",
            "heartbeatSeconds": 30.0,
            "assignedBundle": REF.to_wire(),
        },
    ),
    (
        m.CallParams("call_1", "echo", {"n": 1}, 300),
        {"callId": "call_1", "name": "echo", "arguments": {"n": 1}, "timeoutMs": 300},
    ),
    (m.CallResult({"n": 1}, 0.25), {"output": {"n": 1}, "durationMs": 0.25}),
    (m.CallResult(None, None), {"output": None, "durationMs": None}),
    (
        m.ErrorData("tool_error", "bad_city", {"field": "city"}),
        {"kind": "tool_error", "code": "bad_city", "details": {"field": "city"}},
    ),
    (
        m.RpcError(-32001, "city is empty", m.ErrorData("tool_error", "bad_city", None)),
        {
            "code": -32001,
            "message": "city is empty",
            "data": {"kind": "tool_error", "code": "bad_city", "details": None},
        },
    ),
    (m.RpcError(-32601, "Method not found: x"), {"code": -32601, "message": "Method not found: x"}),
    (
        m.RestError("tool_error", "boom", {"toolCode": "x"}),
        {"error": {"code": "tool_error", "message": "boom", "toolCode": "x"}},
    ),
    (m.BundleUpdated(REF), REF.to_wire()),
    (
        m.ToolsUpdated(m.BundleRef("tools", 4, CHECKSUM), (ECHO,)),
        {"bundle": {"name": "tools", "version": 4, "checksum": CHECKSUM}, "tools": [ECHO.to_wire()]},
    ),
    (m.SecretsUpdated(), {}),
    (m.ConnectorDraining(), {}),
    (
        m.LogEntry("2026-11-30T00:00:00Z", "echo", "call_1", "warn", "careful"),
        {"at": "2026-11-30T00:00:00Z", "tool": "echo", "callId": "call_1", "level": "warn", "message": "careful"},
    ),
    (
        m.ToolsLog((m.LogEntry("2026-11-30T00:00:00Z", "echo", None, "info", "hi"),)),
        {"entries": [{"at": "2026-11-30T00:00:00Z", "tool": "echo", "callId": None, "level": "info", "message": "hi"}]},
    ),
    (m.LogsSubscribe(True), {"on": True}),
    (m.LogsSubscribe(False), {"on": False}),
    (m.ReauthParams("a.b.c"), {"token": "a.b.c"}),
    (m.ReauthResult(1796000000), {"expiresAt": 1796000000}),
]


@pytest.mark.parametrize("model,wire", EXAMPLES, ids=lambda value: type(value).__name__)
def test_to_wire_is_the_documented_json_and_from_wire_inverts_it(model, wire):
    assert model.to_wire() == wire
    # Through a real JSON string, as it travels.
    assert type(model).from_wire(json.loads(json.dumps(wire))) == model


def test_models_are_frozen():
    with pytest.raises(AttributeError):
        REF.name = "other"


@pytest.mark.parametrize(
    "model",
    [
        m.HelloParams(None, "dep", None),
        m.CallParams("c", "echo", {}, None),
        m.ReauthParams("t"),
        m.ToolsLog(()),
        m.LogsSubscribe(True),
        m.SecretsUpdated(),
        m.ConnectorDraining(),
        m.BundleUpdated(REF),
        m.ToolsUpdated(None, ()),
    ],
)
def test_frames_carry_the_method_and_parse_back(model):
    frame = (
        m.request_frame(7, model)
        if model.METHOD in (jsonrpc.HELLO, jsonrpc.TOOLS_CALL, jsonrpc.CONNECTOR_REAUTH)
        else m.notification_frame(model)
    )
    message = jsonrpc.parse_message(frame)
    assert message.method == model.METHOD
    assert type(model).from_wire(message.params) == model


def test_result_and_error_frames():
    ok = jsonrpc.parse_message(m.result_frame("r1", m.CallResult(1, 2.0)))
    assert isinstance(ok, jsonrpc.Response) and m.CallResult.from_wire(ok.result) == m.CallResult(1, 2.0)
    error = m.RpcError.from_tool_error(ToolCallError(ToolErrorKind.TOOL_TIMEOUT, "too slow"))
    failed = jsonrpc.parse_message(m.error_frame("r2", error))
    assert isinstance(failed, jsonrpc.Response) and m.RpcError.from_wire(failed.error) == error


def test_the_method_names_of_part_two():
    assert (
        m.SecretsUpdated.METHOD,
        m.ToolsLog.METHOD,
        m.LogsSubscribe.METHOD,
        m.ConnectorDraining.METHOD,
        m.ReauthParams.METHOD,
    ) == ("secrets.updated", "tools.log", "logs.subscribe", "connector.draining", "connector.reauth")


# ------------------------------------------------------------------------------------ bad fields
BAD: list[tuple[Any, Any, str]] = [
    (m.BundleRef, "tools", "bundle must be an object"),
    (m.BundleRef, {"version": 1, "checksum": CHECKSUM}, "bundle.name must be a non-empty string"),
    (m.BundleRef, {"name": "t", "version": "1", "checksum": CHECKSUM}, "bundle.version must be an integer"),
    (m.BundleRef, {"name": "t", "version": True, "checksum": CHECKSUM}, "bundle.version must be an integer"),
    (m.BundleRef, {"name": "t", "version": 1}, "bundle.checksum must be a non-empty string"),
    (m.BundleRef, {"name": "t", "version": 1, "checksum": CHECKSUM, "size": -1}, "bundle.size must be an integer ≥ 0"),
    (m.BundleRef, {"name": "t", "version": 1, "checksum": CHECKSUM, "archiveUrl": 5}, "bundle.archiveUrl"),
    (m.BundleRef, {"name": "t", "version": 1, "checksum": CHECKSUM, "tools": "echo"}, "bundle.tools must be a list"),
    (m.BundleRef, {"name": "t", "version": 1, "checksum": CHECKSUM, "tools": [1]}, "bundle.tools must be a list of"),
    (m.ToolInfo, {"description": "x"}, "tool.name must be a non-empty string"),
    (m.ToolInfo, {"name": "e", "description": 3}, "tool.description must be a string"),
    (m.ToolInfo, {"name": "e", "inputSchema": []}, "tool.inputSchema must be a JSON Schema object"),
    (m.ToolInfo, {"name": "e", "outputSchema": "x"}, "tool.outputSchema must be a JSON Schema object"),
    (m.ToolInfo, {"name": "e", "timeoutMs": 0}, "tool.timeoutMs must be an integer ≥ 1"),
    (m.HelloParams, [], "connector.hello must be an object"),
    (m.HelloParams, {"connectorVersion": 1}, "connector.hello.connectorVersion"),
    (m.HelloParams, {"deploymentId": ""}, "connector.hello.deploymentId"),
    (m.HelloParams, {"bundle": {"name": "t"}}, "connector.hello.bundle.checksum"),
    (m.HelloParams, {"tools": {}}, "connector.hello.tools must be a list"),
    (m.HelloParams, {"tools": [{"name": "a"}, {"name": 2}]}, "connector.hello.tools[1].name"),
    (m.HelloParams, {"concurrency": -1}, "connector.hello.concurrency must be an integer ≥ 1"),
    (m.HelloResult, {"orgId": "o"}, "connector.hello result.connectorId"),
    (m.HelloResult, {"connectorId": "c"}, "connector.hello result.orgId"),
    (m.HelloResult, {"connectorId": "c", "orgId": "o", "heartbeatSeconds": "30"}, "result.heartbeatSeconds"),
    (
        m.HelloResult,
        {"connectorId": "c", "orgId": "o", "assignedBundle": {"name": "t"}},
        "connector.hello result.assignedBundle.checksum",
    ),
    (m.CallParams, None, "tools/call params must be an object"),
    (m.CallParams, {"name": "echo"}, "tools/call.callId must be a non-empty string"),
    (m.CallParams, {"callId": "c"}, "tools/call.name must be a non-empty string"),
    (m.CallParams, {"callId": "c", "name": "e", "timeoutMs": -5}, "tools/call.timeoutMs must be an integer ≥ 1"),
    (m.CallParams, {"callId": "c", "name": "e", "timeoutMs": 1.5}, "tools/call.timeoutMs"),
    (m.CallParams, {"callId": "c", "name": "e", "timeoutMs": True}, "tools/call.timeoutMs"),
    (m.CallResult, [], "tools/call result must be an object"),
    (m.CallResult, {"durationMs": 1}, "tools/call result.output is missing"),
    (m.CallResult, {"output": 1, "durationMs": "1"}, "tools/call result.durationMs must be a non-negative number"),
    (m.ErrorData, {"code": "x"}, "error.data.kind must be a non-empty string"),
    (m.ErrorData, {"kind": "boom"}, "error.data.kind must be one of"),
    (m.ErrorData, {"kind": "tool_error", "code": 5}, "error.data.code must be a string"),
    (m.RpcError, {"message": "m"}, "error.code must be an integer"),
    (m.RpcError, {"code": 1}, "error.message must be a string"),
    (m.RpcError, {"code": 1, "message": "m", "data": {"kind": "nope"}}, "error.data.kind"),
    (m.RestError, {"code": "x"}, "body.error must be an object"),
    (m.RestError, {"error": {"message": "m"}}, "body.error.code"),
    (m.RestError, {"error": {"code": "x"}}, "body.error.message must be a string"),
    (m.BundleUpdated, {"name": "t"}, "bundle.updated.checksum"),
    (m.ToolsUpdated, {"bundle": 3, "tools": []}, "tools.updated.bundle must be an object"),
    (m.ToolsUpdated, {"bundle": None, "tools": [3]}, "tools.updated.tools[0] must be an object"),
    (m.SecretsUpdated, [], "secrets.updated must be an object"),
    (m.ConnectorDraining, "x", "connector.draining must be an object"),
    (m.ToolsLog, {}, "tools.log.entries must be a list"),
    (
        m.ToolsLog,
        {"entries": [{"at": "t", "tool": "e", "level": "loud", "message": "m"}]},
        "tools.log.entries[0].level must be one of",
    ),
    (m.ToolsLog, {"entries": [{"at": "t", "tool": "e", "level": "info"}]}, "tools.log.entries[0].message"),
    (m.ToolsLog, {"entries": [{"tool": "e", "level": "info", "message": "m"}]}, "tools.log.entries[0].at"),
    (m.ToolsLog, {"entries": [{"at": "t", "level": "info", "message": "m"}]}, "tools.log.entries[0].tool"),
    (
        m.ToolsLog,
        {"entries": [{"at": "t", "tool": "e", "level": "info", "message": "m", "callId": 3}]},
        "tools.log.entries[0].callId",
    ),
    (m.LogsSubscribe, {"on": "yes"}, "logs.subscribe.on must be true or false"),
    (m.LogsSubscribe, {}, "logs.subscribe.on"),
    (m.ReauthParams, {}, "connector.reauth.token must be a non-empty string"),
    (m.ReauthParams, {"token": 5}, "connector.reauth.token"),
    (m.ReauthResult, {}, "connector.reauth result.expiresAt must be an integer"),
    (m.ReauthResult, {"expiresAt": "soon"}, "connector.reauth result.expiresAt"),
]


@pytest.mark.parametrize("model,wire,words", BAD, ids=[f"{b[0].__name__}-{i}" for i, b in enumerate(BAD)])
def test_each_bad_field_is_named_with_the_protocol_error(model, wire, words):
    with pytest.raises(m.InvalidMessage) as caught:
        model.from_wire(wire)
    assert isinstance(caught.value, jsonrpc.ProtocolError) and caught.value.code == jsonrpc.INVALID_PARAMS
    assert words in caught.value.message, caught.value.message
    assert caught.value.field in caught.value.message


# ------------------------------------------------------------------------------------ behaviour
def test_tool_info_defaults_and_manifest_descriptor():
    from edge_protocol.manifest import ToolDescriptor

    assert m.ToolInfo.from_wire({"name": "e"}) == m.ToolInfo("e", "", {}, None, 30_000)
    descriptor = ToolDescriptor("echo", "Echoes", {"type": "object"}, "dist/echo.js", None, 5000)
    assert m.ToolInfo.from_manifest(descriptor) == ECHO
    # `entry` is a manifest detail the platform does not need: extra keys are ignored, not sent.
    assert m.ToolInfo.from_wire({**ECHO.to_wire(), "entry": "dist/echo.js"}) == ECHO


def test_a_call_without_arguments_gets_an_empty_object():
    assert m.CallParams.from_wire({"callId": "c", "name": "e"}) == m.CallParams("c", "e", {}, None)


def test_bundle_ref_url_falls_back_to_the_route_template():
    assert m.BundleRef("@acme/tools", 2, CHECKSUM).url == "/api/bundles/@acme/tools/versions/2/archive"
    assert REF.url == REF.archive_url
    assert m.BundleRef("t", 2, CHECKSUM).label() == "t v2" and m.BundleRef("t", None, CHECKSUM).label() == "t"


def test_rpc_error_and_tool_error_convert_both_ways():
    error = ToolCallError(ToolErrorKind.INVALID_ARGUMENTS, "bad", details=[{"path": "/n", "message": "x"}])
    rpc = m.RpcError.from_tool_error(error)
    assert rpc.to_wire() == {
        "code": -32602,
        "message": "bad",
        "data": {"kind": "invalid_arguments", "code": "invalid_arguments", "details": [{"path": "/n", "message": "x"}]},
    }
    back = rpc.to_tool_error()
    assert (back.kind, back.message, back.code, back.details) == (error.kind, "bad", "invalid_arguments", error.details)
    # Without data (a connector refusing the request itself), the kind comes from the JSON-RPC code.
    assert m.RpcError(-32002, "late").to_tool_error().kind is ToolErrorKind.TOOL_TIMEOUT
    assert m.RpcError(-32600, "odd").to_tool_error().kind is ToolErrorKind.TOOL_ERROR


def test_a_reauth_token_never_shows_in_a_repr():
    assert "secret-token" not in repr(m.ReauthParams("secret-token"))


def test_a_manifest_is_checked_against_the_tools_the_platform_recorded():
    recorded = m.BundleRef("tools", 2, CHECKSUM, tools=("echo", "add"))
    assert recorded.tools_mismatch(["add", "echo"]) is None
    why = recorded.tools_mismatch(["echo", "steal_secrets"])
    assert why is not None and "unexpected steal_secrets" in why and "missing add" in why
    assert m.BundleRef("tools", 2, CHECKSUM).tools_mismatch(["anything"]) is None  # nothing recorded: an older platform
