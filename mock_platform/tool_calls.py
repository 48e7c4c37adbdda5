"""`POST /api/tools/{tool}/call` (an agent calling a tool) and `GET /api/calls` (recent calls).

The hot path of the platform: the body is parsed with orjson and the answer built by hand rather
than through pydantic models, and nothing is logged per call at info level.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from .auth import Principal, current_principal
from .errors import ApiError
from .hub import CallFailed, hub_of

router = APIRouter()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _call_request(raw: bytes) -> tuple[Any, str | None, int | None]:
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_request", f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "Request body must be an object {arguments, deploymentId?, timeoutMs?}")
    arguments = body.get("arguments", {})
    deployment_id = body.get("deploymentId")
    timeout_ms = body.get("timeoutMs")
    if deployment_id is not None and (not isinstance(deployment_id, str) or not deployment_id):
        raise ApiError(400, "invalid_request", "deploymentId must be a non-empty string")
    if timeout_ms is not None and (isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0):
        raise ApiError(400, "invalid_request", "timeoutMs must be a positive integer (milliseconds)")
    return arguments, deployment_id, timeout_ms


@router.post("/api/tools/{tool}/call")
async def call_tool(tool: str, request: Request, principal: Principal = Depends(current_principal)) -> Response:
    arguments, deployment_id, timeout_ms = _call_request(await request.body())
    try:
        result = await hub_of(request).call_tool(principal.org_id, tool, arguments, deployment_id, timeout_ms)
    except CallFailed as failed:
        return _json(failed.body(), failed.status)
    return _json(result)


@router.get("/api/calls")
async def recent_calls(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    principal: Principal = Depends(current_principal),
) -> Response:
    return _json({"calls": hub_of(request).recent_calls(principal.org_id, limit)})
