"""Checking a tool definition read by the Node.js indexer (the pure half; loading is in integration tests)."""

from __future__ import annotations

from bundler.indexing import check_definition, duplicate_name_problems


def loaded(**overrides):
    definition = {
        "name": "t",
        "description": "d",
        "inputSchema": {"type": "object"},
        "outputSchema": None,
        "timeoutMs": None,
        "runType": "function",
    }
    definition.update(overrides)
    return {"ok": True, "definition": definition}


def test_a_valid_definition():
    definition, problems = check_definition("src/tools/t.ts", loaded(timeoutMs=500, outputSchema={"type": "string"}))
    assert problems == []
    assert (definition.name, definition.timeout_ms, definition.output_schema) == ("t", 500, {"type": "string"})


def test_every_problem_is_reported_at_once():
    _, problems = check_definition(
        "s.ts", loaded(name="", description=None, runType="undefined", inputSchema={"type": 12}, timeoutMs=1.5)
    )
    expected_starts = [
        "s.ts: tool name '' is not allowed",
        's.ts: tool definition needs a "description" string',
        's.ts: "run" must be a function (got undefined)',
        's.ts: "inputSchema" is not a valid JSON Schema',
        's.ts: "timeoutMs" must be a positive whole number',
    ]
    assert len(problems) == len(expected_starts)
    for problem, start in zip(problems, expected_starts, strict=True):
        assert problem.startswith(start), problem
    assert all(p.startswith("s.ts: ") for p in problems)


def test_loader_problems_pass_through():
    assert check_definition("s.ts", {"ok": False, "problem": "has no default export"}) == (
        None,
        ["s.ts: has no default export"],
    )


def test_boolean_timeout_and_array_schema_are_refused():
    _, problems = check_definition("s.ts", loaded(timeoutMs=True, inputSchema=[]))
    assert problems == [
        's.ts: "inputSchema" must be a JSON Schema object (got [])',
        's.ts: "timeoutMs" must be a positive whole number of milliseconds (got true)',
    ]


def test_duplicate_names():
    assert duplicate_name_problems([("a", "x.ts"), ("b", "y.ts"), ("a", "z.ts")]) == [
        "tool name 'a' is defined by more than one file: x.ts, z.ts"
    ]
    assert duplicate_name_problems([("a", "x.ts"), ("A", "y.ts")]) == []
