"""The fast argument check against jsonschema, its judge: equal on every schema it reads, None on the rest."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from edge_protocol.argument_check import ArgumentsValidator, fast_check

NAMES = ["a", "b", "c"]
TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"]

#: Numbers and lengths from the same few values as the schemas' bounds, so that edges (a value equal to
#: its bound, a string exactly as long as its limit) come up often.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, 2, -1, 0.0, 1.0, 0.5, 2.5])
    | st.text(alphabet="ab1", max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*NAMES, "z"]), inner, max_size=3),
    max_leaves=8,
)


def _schemas(inner: st.SearchStrategy) -> st.SearchStrategy:
    numbers = st.sampled_from([0, 1, 2, 0.5, 1.0, -1])
    keywords = st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True),
            "minLength": st.integers(0, 2),
            "maxLength": st.integers(0, 2),
            "pattern": st.sampled_from(["^a", "b$", "[0-9]", "a*"]),
            "minimum": numbers,
            "maximum": numbers,
            "exclusiveMinimum": numbers,
            "exclusiveMaximum": numbers,
            "minItems": st.integers(0, 2),
            "maxItems": st.integers(0, 2),
            "items": inner,
            "properties": st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
            "required": st.lists(st.sampled_from(NAMES), max_size=3, unique=True),
            "additionalProperties": st.booleans() | inner,
            "description": st.just("annotation only"),
            "format": st.sampled_from(["email", "date-time"]),
            "enum": st.lists(st.text(alphabet="ab1", max_size=2), min_size=1, max_size=3),
            "const": st.text(alphabet="ab1", max_size=2),
        },
    )
    return keywords


schemas: st.SearchStrategy[Any] = st.recursive(
    st.just({}) | st.just(True) | _schemas(st.just({"type": "string"})), _schemas, max_leaves=6
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas, instance=json_values)
@example({"minimum": 1}, 1)
@example({"maximum": 1}, 1.0)
@example({"exclusiveMinimum": 1}, 1)
@example({"exclusiveMaximum": 0.5}, 0.5)
@example({"minLength": 2}, "ab")
@example({"maxLength": 1}, "ab")
@example({"minItems": 1}, [])
@example({"maxItems": 1}, [1, 2])
@example({"pattern": "b$"}, "ab")
@example({"pattern": "[0-9]"}, "a1")
@example({"type": "integer"}, 1.0)
@example({"type": "number"}, True)
@example({"enum": ["a", "1"]}, 1)
@example({"const": "a"}, "a")
@example({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x"})
@example({"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "null"}}, {"a": "x", "b": None})
def test_the_fast_check_agrees_with_jsonschema(schema, instance):
    check = fast_check(schema)
    assert check is not None, schema  # every generated schema is in the subset it reads
    assert check(instance) == Draft202012Validator(schema).is_valid(instance), (schema, instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"enum": ["a", 1]},
        {"enum": []},
        {"const": 1},
        {"$ref": "#/$defs/x", "$defs": {"x": {}}},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"type": "object", "properties": {"a": {"oneOf": [{}, {}]}}},
        {"type": "object", "patternProperties": {"^x": {}}},
        {"type": "array", "prefixItems": [{}], "items": {"type": "string"}},
        {"type": "strin"},
        {"minLength": 1.5},
        {"pattern": "("},
        {"$schema": "http://json-schema.org/draft-07/schema#"},
        {"uniqueItems": True},
        False,
    ],
)
def test_anything_else_is_left_to_jsonschema(schema):
    assert fast_check(schema) is None


def test_what_tools_declare_is_read():
    """The scaffold's and zod's usual output: an object of typed fields, some required, no extras."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1, "description": "City name"},
            "days": {"type": "integer", "minimum": 1, "maximum": 14, "default": 3},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["city"],
        "additionalProperties": False,
    }
    check = fast_check(schema)
    assert check is not None
    assert check({"city": "Oslo"}) and check({"city": "Oslo", "days": 3.0, "tags": ["x"]})
    assert not check({"city": ""}) and not check({"days": 2}) and not check({"city": "Oslo", "extra": 1})
    assert not check({"city": "Oslo", "days": True})  # a boolean is not an integer


def test_the_validator_answers_valid_fast_and_leaves_failures_to_jsonschema():
    full = Draft202012Validator({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    validator = ArgumentsValidator(full)
    assert validator.is_valid({"n": 1}) and not validator.is_valid({"n": "x"})
    assert [error.message for error in validator.iter_errors({})] == ["'n' is a required property"]
    assert validator.schema is full.schema
    # A schema it cannot read is jsonschema's alone.
    enum = ArgumentsValidator(Draft202012Validator({"enum": [1, 2]}))
    assert enum.is_valid(1) and not enum.is_valid(True)


#: Keyword values of every form, right and wrong, for the meta-schema side of `fast_check`.
any_json: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers(-2, 3) | st.floats(-2, 3) | st.text(max_size=3) | st.just([])
)
loose_schemas: st.SearchStrategy[Any] = st.recursive(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "minLength",
                "maximum",
                "pattern",
                "required",
                "title",
                "examples",
                "deprecated",
                "format",
                "$schema",
                "items",
                "additionalProperties",
            ]
        ),
        any_json
        | st.sampled_from(["string", "(", "https://json-schema.org/draft/2020-12/schema"])
        | st.lists(st.sampled_from(["a", "a", "string", "integer", 1]), max_size=3),
        max_size=4,
    ),
    lambda inner: (
        st.fixed_dictionaries({"properties": st.dictionaries(st.sampled_from(NAMES), inner, max_size=2)})
        | st.fixed_dictionaries({"items": inner, "additionalProperties": inner | st.booleans()})
    ),
    max_leaves=4,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=loose_schemas)
@example({"minLength": -1})
@example({"maxItems": 1.5})
@example({"pattern": "("})
@example({"type": ["string", "string"]})
@example({"type": []})
@example({"required": ["a", "a"]})
@example({"examples": 1})
@example({"$schema": "http://json-schema.org/draft-07/schema#"})
@example({"properties": {"a": {"title": 5}}})
@example({"additionalProperties": {"minimum": True}})
def test_a_schema_it_reads_is_valid_json_schema(schema):
    """The build takes `fast_check(schema) is not None` for "valid JSON Schema" without jsonschema."""
    if fast_check(schema) is not None:
        Draft202012Validator.check_schema(schema)
