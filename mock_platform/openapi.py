"""The OpenAPI document states every status a route really answers (the API fuzzer holds it to that).

Every operation that takes a body also documents the 400 a malformed body gets (FastAPI's own
"error parsing the body", or a hand-parsed route's `invalid_request`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .models import ErrorBody


def describe(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}).items()
    ):
        schemas.setdefault(name, definition)
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}"))
    bad_body = {
        "description": "the body is not what the route reads (e.g. not JSON)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("400", bad_body)
    return document


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with one that adds the above (computed once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
