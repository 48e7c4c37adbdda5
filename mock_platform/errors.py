"""How the platform refuses a request: `{"error": {"code", "message", ...}}` with an HTTP status.

Every route raises `ApiError` (or a subclass such as `auth.AuthError`); the handlers installed by
`install_error_handlers` turn it, FastAPI's validation errors and Starlette's HTTP errors into that
one body shape, so clients parse a single format (SPEC.md §5).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """A refusal with a stable machine code and a one-line human message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


def json_object_body(raw: bytes, shape: str = "a JSON object") -> dict[str, Any]:
    """Parse a request body read by hand (the routes that skip FastAPI's body models for speed)."""
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_request", f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", f"Request body must be {shape}")
    return body


#: The largest integer the platform takes from JSON: JavaScript's safe integer (tools are JavaScript,
#: and a JSON Schema `maximum` stays exact at this size). orjson reads a bigger literal as a float,
#: which `int()` would turn into an integer no answer can carry.
MAX_JSON_INTEGER = 2**53 - 1


def json_integer(value: Any) -> int | None:
    """`value` as JSON Schema's integer (5 or 5.0) within ±MAX_JSON_INTEGER, or None (`true`, `"5"`,
    5.5 and 1e19 are not integers here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_JSON_INTEGER:
        value = int(value)
    if isinstance(value, int) and abs(value) <= MAX_JSON_INTEGER:
        return value
    return None


def not_found(what: str, ident: str, code: str | None = None) -> ApiError:
    """404 for missing *and* foreign ids: another org's objects must be indistinguishable from none."""
    return ApiError(404, code or f"{what}_not_found", f"{what.replace('_', ' ').capitalize()} {ident!r} not found")


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for item in exc.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        message = "Invalid request: " + "; ".join(problems[:5])
        return JSONResponse({"error": {"code": "invalid_request", "message": message}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error" if exc.status_code >= 500 else "bad_request")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; a path served by several
            # routes (GET and POST /login) must list them all.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}},
            status_code=exc.status_code,
            headers=headers or None,
        )


def allowed_methods(request: Request) -> list[str]:
    """The methods of the most specific path template(s) matching the request's path."""
    matching = [
        route
        for route in app_routes(request.app.routes)
        if getattr(route, "methods", None)
        and getattr(route, "path_regex", None) is not None
        and route.path_regex.match(request.url.path)
    ]
    if not matching:
        return []
    literal = {id(route): len(re.sub(r"\{[^}]*\}", "", route.path)) for route in matching}
    best = max(literal.values())
    return sorted({method for route in matching if literal[id(route)] == best for method in route.methods})


def app_routes(routes: Any) -> list[Any]:
    """Every route of an app, included routers' routes flattened (FastAPI keeps those apart)."""
    flat: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        flat.extend(app_routes(inner.routes) if inner is not None else [route])
    return flat
