"""Ready-to-paste example arguments for a tool, from its `inputSchema` (the `call` lines `dev` prints)."""

from __future__ import annotations

from typing import Any


def example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """A plausible argument object for a ready-to-paste `call` line: required properties only."""
    properties = schema.get("properties") or {}
    example: dict[str, Any] = {}
    for name in schema.get("required") or []:
        example[name] = _example_value(properties.get(name) or {})
    return example


def _example_value(schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "examples" in schema and schema["examples"]:
        return schema["examples"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            middle = (low + high) / 2  # latitude -90..90 gives 0, not the pole
            return int(middle) if kind == "integer" or middle == int(middle) else middle
        return low if isinstance(low, (int, float)) else 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return example_arguments(schema)
    return "example"
