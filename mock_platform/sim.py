"""Fault injection (`/api/sim/*`, dev mode only): drop links or tail streams, refuse handshakes, slow the wire, mute pushes.

Every switch acts on the caller's organization only, so tests sharing a platform cannot disturb
each other and nobody can disturb another org.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from edge_protocol import close_codes

from .auth import Principal, current_user
from .errors import MAX_JSON_INTEGER, ApiError, json_integer, json_object_body
from .hub import hub_of
from .models import (
    AUTH_ERRORS,
    SimDisconnectRequest,
    SimDisconnectResult,
    SimLatencyRequest,
    SimLatencyResult,
    SimPushesRequest,
    SimPushesResult,
    SimRejectRequest,
    SimRejectResult,
    documented_body,
    error_responses,
)

router = APIRouter(prefix="/api/sim")


async def _body(request: Request) -> dict[str, Any]:
    if not request.app.state.platform.config.dev:
        raise ApiError(404, "not_found", "Fault injection is only available in dev mode")
    return json_object_body(await request.body())


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def _number(body: dict[str, Any], key: str, *, integer: bool) -> Any:
    value = body.get(key)
    if integer:
        value = json_integer(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        kind = f"a non-negative integer (at most {MAX_JSON_INTEGER})" if integer else "a non-negative number"
        raise ApiError(422, "invalid_request", f"'{key}' must be {kind}")
    return value


@router.post(
    "/disconnect",
    response_model=SimDisconnectResult,
    openapi_extra=documented_body(SimDisconnectRequest, required=False),
    responses=error_responses(404, 422, *AUTH_ERRORS),
)
async def disconnect(request: Request, principal: Principal = Depends(current_user)) -> Response:
    body = await _body(request)
    deployment_id = body.get("deploymentId")
    code = json_integer(body.get("code", close_codes.CLOSE_PLATFORM_RESTART))
    if deployment_id is not None and not isinstance(deployment_id, str):
        raise ApiError(422, "invalid_request", "'deploymentId' must be a string")
    if code is None or not (code == 1000 or 1001 <= code <= 1014 or 3000 <= code <= 4999):
        raise ApiError(422, "invalid_request", "'code' must be a WebSocket close code (1000-1014 or 3000-4999)")
    tails = body.get("tails", False)
    if not isinstance(tails, bool):
        raise ApiError(422, "invalid_request", "'tails' must be true or false")
    if tails:  # the platform side of `edge-connector tail` streams (and dashboard Live panels)
        count = await request.app.state.platform.tail.disconnect(principal.org_id, code)
    else:
        count = await hub_of(request).disconnect(principal.org_id, deployment_id, code)
    return _json({"disconnected": count})


@router.post(
    "/reject",
    response_model=SimRejectResult,
    openapi_extra=documented_body(SimRejectRequest),
    responses=error_responses(404, 422, *AUTH_ERRORS),
)
async def reject(request: Request, principal: Principal = Depends(current_user)) -> Response:
    count = _number(await _body(request), "count", integer=True)
    hub_of(request).sim(principal.org_id).reject_next = count
    return _json({"rejectNext": count})


@router.post(
    "/latency",
    response_model=SimLatencyResult,
    openapi_extra=documented_body(SimLatencyRequest),
    responses=error_responses(404, 422, *AUTH_ERRORS),
)
async def latency(request: Request, principal: Principal = Depends(current_user)) -> Response:
    ms = _number(await _body(request), "ms", integer=False)
    hub_of(request).sim(principal.org_id).latency_ms = float(ms)
    return _json({"latencyMs": ms})


@router.post(
    "/pushes",
    response_model=SimPushesResult,
    openapi_extra=documented_body(SimPushesRequest),
    responses=error_responses(404, 422, *AUTH_ERRORS),
)
async def pushes(request: Request, principal: Principal = Depends(current_user)) -> Response:
    enabled = (await _body(request)).get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(422, "invalid_request", "'enabled' must be true or false")
    hub = hub_of(request)
    hub.sim(principal.org_id).pushes_enabled = enabled
    if enabled:
        await hub.push_assignments(principal.org_id)  # catch up on what was held back
    return _json({"pushesEnabled": enabled})
