"""The OpenAPI document states every status a route really answers (the API fuzzer holds it to that).

- Every operation that takes a body also documents the 400 a malformed body gets (FastAPI's own
  "error parsing the body", or a hand-parsed route's `invalid_request`).
- A 422 is the platform's error body (`errors.py`), not FastAPI's default `{"detail": [...]}`.
- Every operation behind the bearer dependencies (`auth.current_user`, `auth.current_principal`)
  declares the `bearer` security scheme and documents its 401 (no, expired or invalid token) and
  403 (`no_organization`, `user_token_required`), derived from the routes themselves so a new route
  cannot forget them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from .auth import current_principal, current_user
from .errors import app_routes
from .models import ErrorBody

BEARER = "bearer"
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_AUTH_REFUSALS = {
    "401": "no token, or an expired or invalid one (`unauthenticated`, `token_expired`, `token_invalid`)",
    "403": "the token may not use this route (`no_organization`, `user_token_required`, …)",
}


def bearer_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, lowercase method) of every documented route that needs a bearer token."""
    guarded = {current_user, current_principal}
    found: set[tuple[str, str]] = set()
    for route in app_routes(app.routes):
        if isinstance(route, APIRoute) and route.include_in_schema and _depends_on(route.dependant, guarded):
            found.update((route.path_format, method.lower()) for method in route.methods or ())
    return found


def _depends_on(dependant: Any, calls: set[Any]) -> bool:
    return any(sub.call in calls or _depends_on(sub, calls) for sub in dependant.dependencies)


def describe(document: dict[str, Any], bearer: Collection[tuple[str, str]] = ()) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, definition in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}).items()
    ):
        schemas.setdefault(name, definition)
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    if bearer:
        components.setdefault("securitySchemes", {})[BEARER] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "a user token (dev-login, /login) or, on connector routes, a deployment token",
        }
    bad_body = {"description": "the body is not what the route reads (e.g. not JSON)", "content": _ERROR_CONTENT}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("400", bad_body)
            if _FASTAPI_422 in str(responses.get("422", "")):
                # FastAPI documents its own `{"detail": [...]}`; `errors.py` answers the one error body.
                responses["422"] = {"description": "the request does not validate", "content": _ERROR_CONTENT}
            if (path, method) in bearer:
                operation.setdefault("security", [{BEARER: []}])
                for status, why in _AUTH_REFUSALS.items():
                    responses.setdefault(status, {"description": why, "content": _ERROR_CONTENT})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that adds the above (computed once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes),
                bearer_operations(app),
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
