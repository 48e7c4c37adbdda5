"""A fast "valid" for a tool call's arguments, for the schemas most tools have.

jsonschema's validator costs 15–45 µs a call even for `{"type": "object", "properties": {"city":
{"type": "string"}}}`, and both the platform and the runtime check every call: about a tenth of the
CPU a whole call costs through the platform, the runtime and Node.js. `fast_check(schema)` turns a
schema written only with the keywords below into a plain predicate, or gives None for any other.

The predicate says only "certainly valid"; False sends the arguments to jsonschema, which stays the
one judge of what is invalid and words every failure (`ArgumentsValidator`). So a keyword read
wrongly here could only let through arguments jsonschema would refuse: a property-based test holds
the predicate equal to jsonschema on generated schemas and arguments.

Keywords: `type`, `properties`, `required`, `additionalProperties`, `items` (without `prefixItems`),
`minLength`, `maxLength`, `pattern`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
`minItems`, `maxItems`, `enum` and `const` of strings, and the annotations that assert nothing
(`title`, `description`, `default`, `examples`, `format`, ...). Other `enum`s and `const`s, `$ref`,
combinators and the rest go to jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

Check = Callable[[Any], bool]

#: Keywords that assert nothing about an instance (draft 2020-12 without format assertion), with the
#: type the meta-schema wants of their value (None: anything), so a schema read here is also a valid one.
_ANNOTATIONS: dict[str, type | None] = {
    "title": str,
    "description": str,
    "$comment": str,
    "format": str,
    "deprecated": bool,
    "readOnly": bool,
    "writeOnly": bool,
    "examples": list,
    "default": None,
}
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


#: JSON Schema's types as the platform and runtime see JSON (orjson / json give these Python types).
_TYPES: dict[str, Check] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: type(v) is int or (type(v) is float and v.is_integer()),
}


def fast_check(schema: Any) -> Check | None:
    """A predicate true only for instances `schema` certainly accepts; None when the schema uses
    anything this module does not read. A schema it reads is valid JSON Schema (draft 2020-12): every
    keyword's value has the form the meta-schema asks for (the build relies on it, `bundler.schema_check`)."""
    if schema is True or schema == {}:
        return lambda value: True
    if schema is False or not isinstance(schema, dict):
        return None
    checks: list[Check] = []
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            wanted = _ANNOTATIONS[key]
            if wanted is not None and type(value) is not wanted:
                return None
            continue
        if key in ("properties", "required", "additionalProperties"):
            continue
        if key == "$schema" and value == _DIALECT:
            continue
        check = _keyword(key, value, schema)
        if check is None:
            return None
        checks.append(check)
    objects = _object_check(schema)
    if objects is None:
        return None
    if objects is not _NOTHING:
        checks.append(objects)
    return _all(checks)


_NOTHING: Check = lambda value: True  # noqa: E731  (a marker: no object keyword in the schema)


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _NOTHING
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _keyword(key: str, value: Any, schema: dict[str, Any]) -> Check | None:
    if key == "type":
        return _type_check(value)
    if key == "items":
        return None if "prefixItems" in schema else _items_check(value)
    if key in ("minLength", "maxLength", "minItems", "maxItems"):
        return _size_check(key, value)
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return _bound_check(key, value)
    if key == "pattern":
        return _pattern_check(value)
    if key == "enum":
        return _strings_check(value)
    if key == "const":
        return _strings_check([value])
    return None


def _type_check(value: Any) -> Check | None:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n in _TYPES for n in names):
        return None
    if len(names) != len(set(names)):
        return None
    if len(names) == 1:
        return _TYPES[names[0]]
    tests = [_TYPES[name] for name in names]
    return lambda v: any(test(v) for test in tests)


def _items_check(value: Any) -> Check | None:
    each = fast_check(value)
    if each is None:
        return None
    return lambda v: type(v) is not list or all(each(item) for item in v)


def _size_check(key: str, limit: Any) -> Check | None:
    if type(limit) is not int or limit < 0:
        return None
    kind = str if key.endswith("Length") else list
    if key.startswith("min"):
        return lambda v: type(v) is not kind or len(v) >= limit
    return lambda v: type(v) is not kind or len(v) <= limit


def _bound_check(key: str, bound: Any) -> Check | None:
    if not _is_number(bound):
        return None
    holds: Callable[[Any], bool] = {
        "minimum": lambda v: v >= bound,
        "maximum": lambda v: v <= bound,
        "exclusiveMinimum": lambda v: v > bound,
        "exclusiveMaximum": lambda v: v < bound,
    }[key]
    return lambda v: not _is_number(v) or holds(v)


def _strings_check(values: Any) -> Check | None:
    """`enum` (or `const`) of strings only, as zod's `z.enum` writes it: a string equals a string and
    nothing else (jsonschema's equality differs from Python's only for numbers and booleans)."""
    if not isinstance(values, list) or not values or not all(type(value) is str for value in values):
        return None
    allowed = frozenset(values)
    return lambda v: type(v) is str and v in allowed


def _pattern_check(pattern: Any) -> Check | None:
    if not isinstance(pattern, str):
        return None
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    return lambda v: type(v) is not str or compiled.search(v) is not None


def _object_check(schema: dict[str, Any]) -> Check | None:
    """`properties`, `required` and `additionalProperties` together (the last needs the first)."""
    if "patternProperties" in schema:
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        return None
    if not all(isinstance(name, str) for name in required) or len(required) != len(set(required)):
        return None
    per_property: dict[str, Check] = {}
    for name, subschema in properties.items():
        each = fast_check(subschema)
        if each is None:
            return None
        if each is not _NOTHING:
            per_property[name] = each
    if additional is True or additional == {}:
        extra: Check | None = None
    else:
        extra = fast_check(additional) if additional is not False else (lambda value: False)
        if extra is None:
            return None
    if not per_property and not required and extra is None:
        return _NOTHING
    names = tuple(required)

    def object_holds(value: Any) -> bool:
        if type(value) is not dict:
            return True
        for name in names:
            if name not in value:
                return False
        for name, test in per_property.items():
            if name in value and not test(value[name]):
                return False
        if extra is not None:
            for name, item in value.items():
                if name not in properties and not extra(item):
                    return False
        return True

    return object_holds


class FullValidator(Protocol):
    """What `ArgumentsValidator` uses of a jsonschema validator."""

    schema: Any

    def is_valid(self, instance: Any) -> bool: ...

    def iter_errors(self, instance: Any) -> Iterator[Any]: ...


class ArgumentsValidator:
    """A jsonschema validator answered first by `fast_check` when the schema allows it."""

    __slots__ = ("full", "_fast")

    def __init__(self, full: FullValidator) -> None:
        self.full = full
        self._fast = fast_check(full.schema)

    @property
    def schema(self) -> Any:
        return self.full.schema

    def is_valid(self, instance: Any) -> bool:
        fast = self._fast
        return (fast is not None and fast(instance)) or self.full.is_valid(instance)

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        return self.full.iter_errors(instance)
