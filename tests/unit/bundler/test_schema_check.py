"""Schema checks: jsonschema decides, and a schema once found valid is answered from the user cache."""

from __future__ import annotations

import pytest

from bundler import schema_check
from bundler.schema_check import VERDICTS_DIR, schema_problem


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_CONNECTOR_CACHE_DIR", str(tmp_path))
    schema_check._problem.cache_clear()
    yield tmp_path / VERDICTS_DIR
    schema_check._problem.cache_clear()


def forget_in_memory() -> None:
    """What a new build process starts with: the user cache only."""
    schema_check._problem.cache_clear()


def test_a_schema_of_common_keywords_needs_neither_jsonschema_nor_the_cache(cache, monkeypatch):
    monkeypatch.setattr(schema_check, "_check", lambda canonical: pytest.fail("jsonschema was asked"))
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "minLength": 1, "description": "where"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    assert schema_problem(schema) is None
    assert not cache.exists()


def test_any_other_valid_schema_is_remembered_and_then_answered_without_jsonschema(cache, monkeypatch):
    schema = {"type": "object", "properties": {"unit": {"enum": [1, 2]}}, "required": ["unit"]}
    assert schema_problem(schema) is None
    assert len(list(cache.iterdir())) == 1

    forget_in_memory()
    monkeypatch.setattr(schema_check, "_check", lambda canonical: pytest.fail("jsonschema was asked again"))
    # The same schema written with its keys in another order is the same schema.
    assert schema_problem({"required": ["unit"], "properties": {"unit": {"enum": [1, 2]}}, "type": "object"}) is None


def test_a_problem_is_found_afresh_every_time_and_never_remembered(cache):
    assert schema_problem({"type": 12}) == "type: 12 is not valid under any of the given schemas"
    forget_in_memory()
    assert schema_problem({"properties": {"a": {"type": "strin"}}}).startswith("properties/a/type: ")
    # A common keyword in a wrong form is jsonschema's to word, too.
    assert schema_problem({"title": 5}) == "title: 5 is not of type 'string'"
    assert not cache.exists()


def test_a_schema_that_changed_is_checked_again(cache, monkeypatch):
    assert schema_problem({"enum": [1]}) is None
    forget_in_memory()
    asked = []
    monkeypatch.setattr(schema_check, "_check", lambda canonical: asked.append(canonical))
    assert schema_problem({"enum": [1, 2]}) is None
    assert asked == ['{"enum":[1,2]}']


def test_a_cache_that_cannot_be_written_only_costs_the_check(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("EDGE_CONNECTOR_CACHE_DIR", str(blocker))  # mkdir under a file fails
    forget_in_memory()
    assert schema_problem({"const": 1}) is None
    assert schema_problem({"type": 1}) is not None
    forget_in_memory()
