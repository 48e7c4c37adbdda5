"""`/mcp`'s pure decisions: the org's tool list (once per name, stable order) and the Origin rule."""

from __future__ import annotations

from mock_platform.mcp import org_tools, origin_allowed


def tool(name: str, description: str = "") -> dict:
    return {"name": name, "description": description, "inputSchema": {"type": "object"}}


def test_each_name_once_sorted_and_the_first_deployment_wins_a_disagreement() -> None:
    listed = org_tools(
        [
            ("dep-b", [tool("zeta"), tool("echo", "from b")]),
            ("dep-a", [tool("echo", "from a"), tool("alpha")]),
        ]
    )
    assert [t["name"] for t in listed] == ["alpha", "echo", "zeta"]
    assert next(t for t in listed if t["name"] == "echo")["description"] == "from a"
    # The same inputs in another order give the same answer (no flicker between requests).
    again = org_tools(
        [("dep-a", [tool("alpha"), tool("echo", "from a")]), ("dep-b", [tool("echo", "from b"), tool("zeta")])]
    )
    assert again == listed


def test_no_connected_deployment_lists_nothing_and_nameless_entries_are_ignored() -> None:
    assert org_tools([]) == []
    assert org_tools([("dep", [{"description": "no name"}])]) == []


def test_origin_absent_or_own_is_allowed_anything_else_is_not() -> None:
    own = "http://127.0.0.1:8000"
    assert origin_allowed(None, own)
    assert origin_allowed("http://127.0.0.1:8000", own) and origin_allowed("HTTP://127.0.0.1:8000/", own)
    assert not origin_allowed("http://evil.example", own)
    assert not origin_allowed("http://127.0.0.1:8001", own)
    assert not origin_allowed("null", own)
