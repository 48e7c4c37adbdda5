"""What both machines do with a received frame before their own rules: parse it, answer what is not a
message, and dispatch a request or a notification through the machine's table of methods."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .. import close_codes, jsonrpc
from ..limits import MAX_FRAME_BYTES
from ..messages import ConnectorPing, InvalidMessage, result_frame
from .events import Action, Close, Ignored, Send

BINARY_FRAME = "binary frames are not part of the protocol; send JSON text"

Link = TypeVar("Link")
#: A machine's handlers by JSON-RPC method; a handler's `InvalidMessage` names the field that is wrong.
RequestTable = Mapping[str, Callable[[Link, jsonrpc.Request], list[Action]]]
NotificationTable = Mapping[str, Callable[[Link, jsonrpc.Notification], list[Action]]]


def parse_frame(frame: str | bytes) -> jsonrpc.Message | list[Action]:
    """One received frame as a message, or the actions that answer a frame that is not one."""
    if not isinstance(frame, str):
        return [Send(jsonrpc.error(None, {"code": jsonrpc.INVALID_REQUEST, "message": BINARY_FRAME}))]
    if jsonrpc.oversized(frame):
        return [Close(close_codes.CLOSE_PROTOCOL_ERROR, f"frame larger than {MAX_FRAME_BYTES} bytes")]
    try:
        return jsonrpc.parse_message(frame)
    except jsonrpc.ProtocolError as exc:
        return [Send(jsonrpc.error(exc.request_id, exc.error))]


def error_reply(request_id: Any, code: int, message: str) -> Send:
    return Send(jsonrpc.error(request_id, {"code": code, "message": message}))


def dispatch_request(table: RequestTable[Link], link: Link, request: jsonrpc.Request) -> list[Action]:
    """The handler's actions; an unknown method or invalid params are answered with a JSON-RPC error."""
    handler = table.get(request.method)
    if handler is None:
        # The name is the peer's: a megabyte of it is not echoed back.
        return [error_reply(request.id, jsonrpc.METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")]
    try:
        return handler(link, request)
    except InvalidMessage as exc:
        return [Send(jsonrpc.error(request.id, exc.error))]


def dispatch_notification(table: NotificationTable[Link], link: Link, note: jsonrpc.Notification) -> list[Action]:
    """The handler's actions; an unknown or invalid notification changes nothing (it has no one to answer)."""
    handler = table.get(note.method)
    if handler is None:
        return [Ignored(f"unknown notification {note.method}")]
    try:
        return handler(link, note)
    except InvalidMessage as exc:
        return [Ignored(exc.message)]


def answer_ping(link: object, request: jsonrpc.Request) -> list[Action]:
    """`connector.ping`, either way: the answer `{}` is the proof of life."""
    return [Send(result_frame(request.id, ConnectorPing()))]
