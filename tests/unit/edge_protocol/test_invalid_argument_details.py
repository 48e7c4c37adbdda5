"""`invalid_arguments` details: one `{path, message}` per failing field, paths as JSON pointers."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from edge_protocol.calls import argument_problems, json_pointer

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1},
        "options": {
            "type": "object",
            "properties": {
                "units/system": {"enum": ["metric", "imperial"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["units/system"],
        },
    },
    "required": ["city", "days"],
}


def details_for(arguments):
    return argument_problems(Draft202012Validator(SCHEMA).iter_errors(arguments))


def test_json_pointer_escapes_tilde_and_slash_and_the_root_is_empty():
    assert json_pointer([]) == ""
    assert json_pointer(["a", 0, "b/c", "d~e"]) == "/a/0/b~1c/d~0e"


def test_each_failing_field_is_named_by_its_own_path():
    details = details_for({"days": 0, "options": {"tags": ["ok", 3]}})
    assert details == [
        {"path": "/city", "message": "'city' is a required property"},
        {"path": "/days", "message": "0 is less than the minimum of 1"},
        {"path": "/options/tags/1", "message": "3 is not of type 'string'"},
        {"path": "/options/units~1system", "message": "'units/system' is a required property"},
    ]


def test_valid_arguments_have_no_details_and_the_list_is_bounded():
    assert details_for({"city": "Oslo", "days": 2}) == []
    many = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(30)}}
    errors = Draft202012Validator(many).iter_errors({f"f{i}": i for i in range(30)})
    assert len(argument_problems(errors)) == 10
