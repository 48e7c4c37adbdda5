"""Routing (the registry), the call round trip, the validation cache and the recent-call log, without sockets."""

from __future__ import annotations

import asyncio
import gc

import orjson
import pytest

from edge_protocol import jsonrpc
from edge_protocol.link import CallAnswered, PlatformLink
from edge_protocol.messages import CallParams, CallResult, ToolInfo
from mock_platform.call_roundtrip import ToolCaller, ToolSets, ValidatorCache
from mock_platform.errors import ApiError
from mock_platform.recent_calls import RECENT_CALLS_PER_ORG, RecentCalls
from mock_platform.registry import ConnectorRecord, Registry, least_busy

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


def record(
    registry: Registry, name: str, org: str = "org-1", deployment: str | None = None, tools=("echo",), concurrency=8
) -> ConnectorRecord:
    new = ConnectorRecord(
        name,
        org,
        deployment,
        since=name,
        concurrency=concurrency,
        tools={tool: ToolInfo(tool, input_schema=SCHEMA) for tool in tools},
    )
    registry.add(new)
    return new


def refusal(registry: Registry, tool: str = "echo", deployment: str | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        registry.choose("org-1", tool, deployment)
    return caught.value


def test_no_connector_is_503_connector_unavailable():
    failed = refusal(Registry())
    assert (failed.status, failed.code) == (503, "connector_unavailable")
    assert failed.message.startswith("connector unavailable")


def test_a_tool_no_connector_has_is_404():
    registry = Registry()
    record(registry, "a", tools=("other",))
    assert (refusal(registry).status, refusal(registry).code) == (404, "tool_not_found")


def test_another_orgs_connector_is_invisible():
    registry = Registry()
    record(registry, "a", org="org-2")
    assert refusal(registry).status == 503
    assert registry.of_org("org-1") == [] and len(registry.of_org("org-2")) == 1


def test_deployment_routing():
    registry = Registry()
    record(registry, "a")
    target = record(registry, "b", deployment="dep-1")
    assert registry.choose("org-1", "echo", "dep-1") is target
    failed = refusal(registry, deployment="dep-2")
    assert failed.status == 503 and "dep-2" in failed.message
    assert refusal(registry, tool="nope", deployment="dep-1").status == 404


def test_least_busy_relative_to_concurrency_and_ties_take_turns():
    registry = Registry()
    small, large = record(registry, "small", concurrency=2), record(registry, "large", concurrency=64)
    small.pending["x"] = object()
    large.pending.update({str(i): object() for i in range(8)})  # 8/64 < 1/2
    assert registry.choose("org-1", "echo") is large
    small.pending.clear()
    large.pending.clear()
    picks = [registry.choose("org-1", "echo").connector_id for _ in range(6)]
    assert sorted(picks) == ["large"] * 3 + ["small"] * 3
    assert least_busy([small], 99) is small


def test_one_deployment_may_have_several_holders_and_draining_ones_get_no_new_calls():
    registry = Registry()
    first = record(registry, "first", deployment="dep-1")
    assert not registry.admits("org-1", "dep-1") and registry.admits("org-1", "dep-1", replicas=2)
    second = record(registry, "second", deployment="dep-1")
    assert registry.holders("org-1", "dep-1") == [first, second]
    first.draining = True
    assert {registry.choose("org-1", "echo", "dep-1").connector_id for _ in range(4)} == {"second"}
    assert {registry.choose("org-1", "echo").connector_id for _ in range(4)} == {"second"}
    second.draining = True
    failed = refusal(registry, deployment="dep-1")
    assert failed.status == 503 and "draining" in failed.message
    registry.remove(first)
    assert registry.holders("org-1", "dep-1") == [second] and first.closed
    registry.remove(second)
    assert registry.by_id == {} and registry.by_deployment == {} and registry.by_org == {}


def test_describe_is_the_connectors_listing_entry():
    registry = Registry()
    entry = record(registry, "a", deployment="dep-1")
    described = entry.describe()
    assert described["connectorId"] == "a" and described["tools"] == ["echo"] and described["inFlight"] == 0
    assert described["draining"] is False and described["bundle"] is None


# ------------------------------------------------------------------------------------ the round trip
class FakeShell:
    """The connection's side of a round trip: frames go to `sent`, ids come from a real PlatformLink."""

    def __init__(self) -> None:
        self.link = PlatformLink(opened_at=0.0, token_expires_at=None)
        self.sent: list[str] = []

    def call_frame(self, params: CallParams) -> tuple[str, str]:
        return self.link.call(params)

    async def send(self, frame: str) -> None:
        self.sent.append(frame)


async def test_a_round_trip_sends_tools_call_and_returns_the_answer():
    registry, recent = Registry(), RecentCalls()
    caller = ToolCaller(registry, recent)
    entry = record(registry, "a", deployment="dep-1")
    entry.shell = FakeShell()
    entry.validators = {"echo": ValidatorCache().get(SCHEMA)}
    call = asyncio.create_task(caller.call_tool("org-1", "echo", {"n": 1}, timeout_ms=300))
    while not entry.shell.sent:
        await asyncio.sleep(0)
    request = jsonrpc.parse_message(entry.shell.sent[0])
    assert isinstance(request, jsonrpc.Request) and request.method == "tools/call"
    assert request.params["arguments"] == {"n": 1} and request.params["timeoutMs"] == 300
    caller.answered(entry, CallAnswered(str(request.id), result=CallResult({"n": 1}, 0.5)))
    result = await call
    assert result["output"] == {"n": 1} and result["deploymentId"] == "dep-1"
    assert result["callId"] == request.params["callId"] and entry.pending == {}
    assert recent.latest("org-1", 1)[0]["outcome"] == "ok"


async def test_invalid_arguments_never_leave_the_platform():
    registry = Registry()
    caller = ToolCaller(registry, RecentCalls())
    entry = record(registry, "a")
    entry.shell = FakeShell()
    entry.validators = {"echo": ValidatorCache().get(SCHEMA)}
    with pytest.raises(ApiError) as caught:
        await caller.call_tool("org-1", "echo", {"n": "one"})
    assert (caught.value.status, caught.value.code) == (422, "invalid_arguments")
    assert caught.value.extra["details"] == [{"path": "/n", "message": "'one' is not of type 'integer'"}]
    assert entry.shell.sent == []


def test_dropping_a_link_fails_its_calls_in_flight_at_once():
    loop = asyncio.new_event_loop()
    try:
        gone = ConnectorRecord("a", "org-1", "dep-1", since="a")
        waiting = loop.create_future()
        gone.pending["1"] = waiting
        ToolCaller.fail_pending(gone)
        assert isinstance(waiting.exception(), ApiError)
        assert waiting.exception().code == "connector_unavailable" and gone.pending == {}
    finally:
        loop.close()


def test_validators_are_compiled_once_per_schema_and_bad_schemas_skip_validation():
    cache = ValidatorCache()
    first = cache.get({"type": "object", "properties": {"n": {"type": "integer"}}})
    again = cache.get({"properties": {"n": {"type": "integer"}}, "type": "object"})  # same schema, other key order
    assert first is again and first is not None
    assert not first.is_valid({"n": "x"})
    assert cache.get({"type": 12}) is None


def test_links_announcing_the_same_tools_share_one_tool_set_that_lives_as_long_as_they_do():
    sets = ToolSets(ValidatorCache())
    tools = (ToolInfo("echo", input_schema=SCHEMA), ToolInfo("add", description="adds"))
    same = (ToolInfo("echo", input_schema=dict(reversed(list(SCHEMA.items())))), ToolInfo("add", description="adds"))
    first, second = sets.get(tools), sets.get(same)
    assert first is second and set(first.tools) == {"echo", "add"}
    assert not first.validators["echo"].is_valid({"n": "x"})
    other = sets.get((ToolInfo("echo", input_schema=SCHEMA), ToolInfo("add", description="adds two numbers")))
    assert other is not first and len(sets) == 2
    del first, second, other
    gc.collect()
    assert len(sets) == 0  # no link holds them any more: nothing kept for a peer announcing new lists


def test_recent_calls_are_bounded_and_newest_first():
    recent = RecentCalls()
    for i in range(RECENT_CALLS_PER_ORG + 10):
        recent.record("org-1", f"call_{i}", "echo", None, 0.0, None if i % 2 else "tool_error")
    calls = recent.latest("org-1", 1000)
    assert len(calls) == RECENT_CALLS_PER_ORG
    assert calls[0]["callId"] == f"call_{RECENT_CALLS_PER_ORG + 9}"
    assert calls[1]["outcome"] == "error" and calls[1]["errorCode"] == "tool_error"
    assert calls[0]["outcome"] == "ok" and calls[0]["errorCode"] is None
    assert recent.latest("org-2", 10) == []


def test_the_validator_cache_is_bounded_and_keeps_the_recently_used():
    cache = ValidatorCache(capacity=8)
    kept = cache.get(SCHEMA)
    for n in range(50):  # a peer registering ever new schemas
        cache.get({"type": "object", "properties": {f"p{n}": {"type": "integer"}}})
        assert cache.get(SCHEMA) is kept  # used again every time: never the one evicted
    assert len(cache) == 8
    first = {"type": "object", "properties": {"p0": {"type": "integer"}}}
    evicted = cache.get(first)  # long gone: compiled again, and still a working validator
    assert evicted is not None and not evicted.is_valid({"p0": "x"})
    assert len(cache) == 8


def test_the_hub_caches_at_most_1024_validators():
    from mock_platform.call_roundtrip import MAX_CACHED_VALIDATORS

    cache = ValidatorCache()
    for n in range(MAX_CACHED_VALIDATORS + 200):
        cache.get({"type": "object", "properties": {f"p{n}": {"type": "string"}}})
    assert MAX_CACHED_VALIDATORS == 1_024 and len(cache) == MAX_CACHED_VALIDATORS


async def test_a_call_that_does_not_fit_in_one_frame_is_refused_before_sending():
    from edge_protocol.limits import MAX_CALL_BODY_BYTES, MAX_FRAME_BYTES

    registry = Registry()
    caller = ToolCaller(registry, RecentCalls())
    entry = record(registry, "a")
    entry.shell = FakeShell()
    # Arguments that passed the body limit grow when encoded again: 1e9 is written 1000000000.0.
    count = MAX_CALL_BODY_BYTES // 8  # 2 M numbers: 8 MB in the body, 27 MB as a frame
    body = b'{"arguments":{"n":[' + b",".join([b"1e9"] * count) + b"]}}"
    assert len(body) < MAX_CALL_BODY_BYTES
    arguments = orjson.loads(body)["arguments"]
    with pytest.raises(ApiError) as caught:
        await caller.call_tool("org-1", "echo", arguments)
    assert (caught.value.status, caught.value.code) == (413, "arguments_too_large")
    assert f"{MAX_FRAME_BYTES:,}" in caught.value.message
    assert entry.shell.sent == [] and entry.pending == {}


async def test_arguments_that_cannot_be_encoded_are_invalid_not_a_server_error():
    registry = Registry()
    caller = ToolCaller(registry, RecentCalls())
    entry = record(registry, "a")
    entry.shell = FakeShell()
    deep = orjson.loads("[" * 600 + "]" * 600)  # parses (orjson reads 1024 levels), does not encode (255)
    with pytest.raises(ApiError) as caught:
        await caller.call_tool("org-1", "echo", {"n": 1, "deep": deep})
    assert (caught.value.status, caught.value.code) == (422, "invalid_arguments")
    assert entry.shell.sent == []


async def test_a_connectors_oversized_error_reaches_the_caller_capped():
    from edge_protocol.calls import TRUNCATED
    from edge_protocol.errors import ToolCallError, ToolErrorKind

    registry = Registry()
    caller = ToolCaller(registry, RecentCalls())
    entry = record(registry, "a")
    entry.shell = FakeShell()
    call = asyncio.create_task(caller.call_tool("org-1", "echo", {"n": 1}, timeout_ms=2000))
    while not entry.shell.sent:
        await asyncio.sleep(0)
    request = jsonrpc.parse_message(entry.shell.sent[0])
    error = ToolCallError(ToolErrorKind.TOOL_ERROR, "m" * 100_000, "boom", {"blob": "d" * 200_000})
    caller.answered(entry, CallAnswered(str(request.id), error=error))
    with pytest.raises(ApiError) as caught:
        await call
    assert caught.value.message.endswith(TRUNCATED) and caught.value.extra["details"]["truncated"] is True
