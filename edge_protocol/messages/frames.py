"""One text frame from one message model: the only way the link machines make frames."""

from __future__ import annotations

from typing import Any

from .. import jsonrpc
from .call import RpcError


def request_frame(request_id: Any, message: Any) -> str:
    """A request frame for a model with a `METHOD` (hello, tools/call, reauth)."""
    return jsonrpc.request(request_id, message.METHOD, message.to_wire())


def notification_frame(message: Any) -> str:
    return jsonrpc.notification(message.METHOD, message.to_wire())


def result_frame(request_id: Any, message: Any) -> str:
    return jsonrpc.result(request_id, message.to_wire())


def error_frame(request_id: Any, error: RpcError) -> str:
    return jsonrpc.error(request_id, error.to_wire())
