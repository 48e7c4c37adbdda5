"""JSON-RPC 2.0 framing of the connector protocol (SPEC.md §7), and the error kinds on the wire."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_protocol import jsonrpc
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.limits import MAX_FRAME_BYTES


def test_request_notification_and_responses_round_trip():
    request = jsonrpc.parse_message(jsonrpc.request(1, "tools/call", {"callId": "c", "name": "echo"}))
    assert isinstance(request, jsonrpc.Request) and request.id == 1 and request.params["name"] == "echo"
    note = jsonrpc.parse_message(jsonrpc.notification("bundle.updated", {"name": "b"}))
    assert isinstance(note, jsonrpc.Notification) and note.method == "bundle.updated"
    ok = jsonrpc.parse_message(jsonrpc.result("x", {"output": 1}))
    assert isinstance(ok, jsonrpc.Response) and ok.result == {"output": 1} and ok.error is None
    failed = jsonrpc.parse_message(jsonrpc.error(2, {"code": -32601, "message": "nope"}))
    assert isinstance(failed, jsonrpc.Response) and failed.error == {"code": -32601, "message": "nope"}


def test_frames_are_one_line_of_compact_json():
    frame = jsonrpc.request(1, "m", {"a": [1, 2]})
    assert "\n" not in frame and json.loads(frame) == {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "m",
        "params": {"a": [1, 2]},
    }


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{", jsonrpc.PARSE_ERROR),
        ("", jsonrpc.PARSE_ERROR),
        ("null", jsonrpc.INVALID_REQUEST),
        ('{"id": 1, "method": "m"}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": true, "method": "m"}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1.5, "method": "m"}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": 5}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "method": "m", "params": [1]}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "result": 1}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1, "error": "bad"}', jsonrpc.INVALID_REQUEST),
        ('{"jsonrpc": "2.0", "id": 1}', jsonrpc.INVALID_REQUEST),
    ],
)
def test_malformed_frames_raise_protocol_errors_with_the_standard_code(frame, code):
    with pytest.raises(jsonrpc.ProtocolError) as caught:
        jsonrpc.parse_message(frame)
    assert caught.value.code == code
    assert caught.value.error["code"] == code


def test_a_malformed_request_keeps_its_id_for_the_error_reply():
    with pytest.raises(jsonrpc.ProtocolError) as caught:
        jsonrpc.parse_message('{"jsonrpc": "2.0", "id": 42, "method": "m", "params": 3}')
    assert caught.value.request_id == 42


def test_oversized_frames_are_refused_before_parsing():
    with pytest.raises(jsonrpc.ProtocolError, match=str(MAX_FRAME_BYTES)):
        jsonrpc.parse_message(" " * (MAX_FRAME_BYTES + 1))


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_protocol_error(data):
    try:
        jsonrpc.parse_message(data)
    except jsonrpc.ProtocolError:
        pass


@pytest.mark.parametrize(
    ("kind", "rpc", "http"),
    [
        (ToolErrorKind.TOOL_NOT_FOUND, -32601, 404),
        (ToolErrorKind.INVALID_ARGUMENTS, -32602, 422),
        (ToolErrorKind.TOOL_ERROR, -32001, 502),
        (ToolErrorKind.TOOL_TIMEOUT, -32002, 504),
        (ToolErrorKind.OVERLOADED, -32003, 503),
        (ToolErrorKind.TOOL_CRASHED, -32004, 502),
    ],
)
def test_error_kinds_map_to_rpc_codes_and_http_statuses(kind, rpc, http):
    error = ToolCallError(kind, "m", "own_code", {"x": 1})
    wire = error.to_rpc_error()
    assert wire == {"code": rpc, "message": "m", "data": {"kind": kind.value, "code": "own_code", "details": {"x": 1}}}
    back = ToolCallError.from_rpc_error(wire)
    assert (back.kind, back.message, back.code, back.details) == (kind, "m", "own_code", {"x": 1})
    assert kind.http_status == http


def test_an_error_without_data_falls_back_to_its_code():
    assert ToolCallError.from_rpc_error({"code": -32002, "message": "late"}).kind is ToolErrorKind.TOOL_TIMEOUT
    assert ToolCallError.from_rpc_error({"code": -1, "message": "?"}).kind is ToolErrorKind.TOOL_ERROR
