"""The hub's routing, validation cache, recent-call log and failure on drop, without sockets."""

from __future__ import annotations

import asyncio

import pytest

from mock_platform.config import PlatformConfig
from mock_platform.hub import RECENT_CALLS_PER_ORG, CallFailed, Hub, Link, ValidatorCache

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def hub() -> Hub:
    return Hub(PlatformConfig(), store=None, tokens=None, events=None)


def link(h: Hub, name: str, org: str = "org-1", deployment: str | None = None, tools=("echo",), concurrency=8) -> Link:
    new = Link(name, org, deployment, websocket=None, since=name, concurrency=concurrency)  # type: ignore[arg-type]
    h._set_tools(new, None, [{"name": tool, "inputSchema": SCHEMA} for tool in tools])
    h._register(new)
    return new


def test_no_connector_is_503_connector_unavailable():
    with pytest.raises(CallFailed) as caught:
        hub()._choose("org-1", "echo", None)
    assert (caught.value.status, caught.value.code) == (503, "connector_unavailable")
    assert caught.value.message.startswith("connector unavailable")


def test_a_tool_no_connector_has_is_404():
    h = hub()
    link(h, "a", tools=("other",))
    with pytest.raises(CallFailed) as caught:
        h._choose("org-1", "echo", None)
    assert (caught.value.status, caught.value.code) == (404, "tool_not_found")


def test_another_orgs_connector_is_invisible():
    h = hub()
    link(h, "a", org="org-2")
    with pytest.raises(CallFailed) as caught:
        h._choose("org-1", "echo", None)
    assert caught.value.status == 503
    assert h.connectors("org-1") == [] and len(h.connectors("org-2")) == 1


def test_deployment_routing():
    h = hub()
    link(h, "a")
    target = link(h, "b", deployment="dep-1")
    assert h._choose("org-1", "echo", "dep-1") is target
    with pytest.raises(CallFailed) as caught:
        h._choose("org-1", "echo", "dep-2")
    assert caught.value.status == 503 and "dep-2" in caught.value.message


def test_least_busy_relative_to_concurrency_and_ties_take_turns():
    h = hub()
    small, large = link(h, "small", concurrency=2), link(h, "large", concurrency=64)
    loop = asyncio.new_event_loop()
    try:
        small.pending["x"] = loop.create_future()
        large.pending.update({str(i): loop.create_future() for i in range(8)})  # 8/64 < 1/2
        assert h._choose("org-1", "echo", None) is large
        small.pending.clear()
        large.pending.clear()
        picks = [h._choose("org-1", "echo", None).connector_id for _ in range(6)]
        assert sorted(picks) == ["large"] * 3 + ["small"] * 3
    finally:
        loop.close()


def test_dropping_a_link_fails_its_calls_in_flight_at_once():
    h = hub()
    gone = link(h, "a", deployment="dep-1")
    loop = asyncio.new_event_loop()
    try:
        waiting = loop.create_future()
        gone.pending["1"] = waiting
        h._drop(gone)
        assert isinstance(waiting.exception(), CallFailed)
        assert waiting.exception().code == "connector_unavailable"
        assert h.links == {} and h.by_deployment == {} and h.by_org == {}
    finally:
        loop.close()


def test_validators_are_compiled_once_per_schema_and_bad_schemas_skip_validation():
    cache = ValidatorCache()
    first = cache.get({"type": "object", "properties": {"n": {"type": "integer"}}})
    again = cache.get({"properties": {"n": {"type": "integer"}}, "type": "object"})  # same schema, other key order
    assert first is again and first is not None
    assert not first.is_valid({"n": "x"})
    assert cache.get({"type": 12}) is None


def test_recent_calls_are_bounded_and_newest_first():
    h = hub()
    for i in range(RECENT_CALLS_PER_ORG + 10):
        h._record("org-1", f"call_{i}", "echo", None, 0.0, "ok" if i % 2 else "tool_error")
    calls = h.recent_calls("org-1", 1000)
    assert len(calls) == RECENT_CALLS_PER_ORG
    assert calls[0]["callId"] == f"call_{RECENT_CALLS_PER_ORG + 9}"
    assert calls[1]["outcome"] == "error" and calls[1]["errorCode"] == "tool_error"
    assert calls[0]["outcome"] == "ok" and calls[0]["errorCode"] is None
    assert h.recent_calls("org-2", 10) == []
