"""`POST /api/tools/{tool}/call` (an agent calling a tool) and `GET /api/calls` (recent calls).

The hot path of the platform. `CallFastPath` answers tool calls as a plain ASGI middleware, before
FastAPI's routing, dependency solving and response models (about half the platform's CPU per call
otherwise); the FastAPI route below shares the same `answer_call`, so both behave identically and
the route documents the endpoint in `/docs`. Bodies are parsed and answers built with orjson, and
nothing is logged per call at info level.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from edge_protocol.limits import MAX_CALL_BODY_BYTES

from .auth import Principal, current_user
from .errors import ApiError, json_integer, json_object_body
from .hub import hub_of
from .models import (
    AUTH_ERRORS,
    RecentCalls,
    ToolCallRequest,
    ToolCallResult,
    documented_body,
    error_responses,
    tool_call_error_responses,
)

router = APIRouter()

_CALL_PATH = re.compile(r"^/api/tools/([^/]+)/call$")
_JSON = (b"content-type", b"application/json")


def _call_request(raw: bytes) -> tuple[Any, str | None, int | None]:
    body = json_object_body(raw, "an object {arguments, deploymentId?, timeoutMs?}")
    arguments = body.get("arguments", {})
    deployment_id = body.get("deploymentId")
    timeout_ms = body.get("timeoutMs")
    if deployment_id is not None and (not isinstance(deployment_id, str) or not deployment_id):
        raise ApiError(400, "invalid_request", "deploymentId must be a non-empty string")
    if timeout_ms is not None:
        timeout_ms = json_integer(timeout_ms)
        if timeout_ms is None or timeout_ms <= 0:
            raise ApiError(400, "invalid_request", "timeoutMs must be a positive integer (milliseconds)")
    return arguments, deployment_id, timeout_ms


def arguments_too_large() -> ApiError:
    error = ApiError(
        413,
        "arguments_too_large",
        f"The call body is over {MAX_CALL_BODY_BYTES:,} bytes; a tool's arguments must fit in one "
        "message to the connector (send a reference to large data instead)",
        limit=MAX_CALL_BODY_BYTES,
    )
    error.headers = {"Connection": "close"}  # the rest of the body is not read
    return error


async def read_call_body(request: Request, limit: int = MAX_CALL_BODY_BYTES) -> bytes:
    """The body, refused at the first byte past `limit` (and at once when Content-Length says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise arguments_too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise arguments_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def deployment_not_found(deployment_id: str) -> ApiError:
    # Same answer for another org's deployment and for none at all (SPEC.md §9).
    return ApiError(
        404,
        "deployment_not_found",
        f"Deployment {deployment_id!r} not found in your organization (edge-connector deployment list)",
    )


async def answer_call(
    request: Request, tool: str, principal: Principal | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and extra headers of one tool call, whatever happens."""
    try:
        principal = principal or await current_user(request)
        arguments, deployment_id, timeout_ms = _call_request(await read_call_body(request))
        try:
            result = await hub_of(request).call_tool(principal.org_id, tool, arguments, deployment_id, timeout_ms)
        except ApiError as failed:
            # Only a deployment that is not connected needs the store: the hot path stays free of it.
            if (
                failed.code == "connector_unavailable"
                and deployment_id is not None
                and request.app.state.platform.store.get_deployment(principal.org_id, deployment_id) is None
            ):
                raise deployment_not_found(deployment_id) from None
            raise
    except ApiError as refusal:
        return refusal.status, orjson.dumps(refusal.body()), refusal.headers
    return 200, orjson.dumps(result), {}


class CallFastPath:
    """ASGI wrapper: `POST /api/tools/{tool}/call` straight to the hub; everything else to the app.

    `serve.py` puts it in front of the whole FastAPI app; `create_app` also installs it as a
    middleware, so an app made by `create_app` alone (tests, embedders) answers calls the same way.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _CALL_PATH.match(scope["path"])
            if match is not None:
                # In front of the whole app (serve.py) nothing has set the scope's app yet; as a
                # middleware inside it, Starlette has.
                scope.setdefault("app", self.app)
                status, body, headers = await answer_call(Request(scope, receive), unquote(match.group(1)))
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [
                            _JSON,
                            (b"content-length", str(len(body)).encode()),
                            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@router.post(
    "/api/tools/{tool}/call",
    response_model=ToolCallResult,
    tags=["tools"],
    openapi_extra=documented_body(ToolCallRequest, required=False),
    responses={**error_responses(400, *AUTH_ERRORS, 413), **tool_call_error_responses(404, 422, 502, 503, 504)},
)
async def call_tool(tool: str, request: Request, principal: Principal = Depends(current_user)) -> Response:
    """Call a tool as an agent would (served by `CallFastPath` when the app installs it)."""
    status, body, headers = await answer_call(request, tool, principal)
    return Response(body, status_code=status, media_type="application/json", headers=headers or None)


@router.get("/api/calls", response_model=RecentCalls, tags=["tools"], responses=error_responses(*AUTH_ERRORS))
async def recent_calls(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    principal: Principal = Depends(current_user),
) -> Response:
    return Response(
        orjson.dumps({"calls": hub_of(request).recent_calls(principal.org_id, limit)}), media_type="application/json"
    )
