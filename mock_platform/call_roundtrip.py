"""One tool call from an agent to a connector and back (SPEC.md §5 `POST /api/tools/{tool}/call`).

`ToolCaller.call_tool` picks the connector (`Registry.choose`), checks the arguments against the
tool's `inputSchema`, sends `tools/call` through the connector's link with the deadline of
`edge_protocol.calls`, waits for the answer the hub hands back (`answered`) and records the outcome
in the recent-call log and the live tail (refusals included). Every refusal is an `ApiError` with the
status and body of SPEC.md §5.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from edge_protocol import jsonrpc
from edge_protocol.argument_check import ArgumentsValidator
from edge_protocol.calls import argument_problems, call_deadline_ms, capped_error, invalid_arguments
from edge_protocol.limits import MAX_FRAME_BYTES
from edge_protocol.link import CallAnswered
from edge_protocol.messages import CallParams, ToolInfo
from edge_protocol.tail import CallEvent

from .errors import ApiError
from .recent_calls import RecentCalls, now_iso
from .registry import ConnectorRecord, Registry, unavailable
from .tail_fanout import TailFanout

if TYPE_CHECKING:
    pass

log = logging.getLogger("mock_platform.calls")

#: Extra time the platform waits past a call's deadline for the connector's own `tool_timeout`.
DEADLINE_GRACE_SECONDS = 0.5
#: Distinct tool schemas whose compiled validators the hub keeps (item 11 of the security review).
MAX_CACHED_VALIDATORS = 1_024


class LinkShell(Protocol):
    """What the round trip needs of a connector's connection (the hub's `Connection`)."""

    def call_frame(self, params: CallParams) -> tuple[str, str]: ...

    async def send(self, frame: str) -> None: ...


class ValidatorCache:
    """Argument validators compiled once per distinct schema, shared by every link that registers it.

    Bounded (least recently used out first): the schemas come from connectors, and one entry per
    schema ever received would let a peer grow the platform's memory without end. Keys are the
    SHA-256 of the canonical schema, so a huge schema costs its validator, not a second copy.
    """

    def __init__(self, capacity: int = MAX_CACHED_VALIDATORS) -> None:
        self.capacity = capacity
        self._by_schema: OrderedDict[bytes, ArgumentsValidator | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_schema)

    def get(self, schema: Any) -> ArgumentsValidator | None:
        key = hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)).digest()
        if key in self._by_schema:
            self._by_schema.move_to_end(key)
            return self._by_schema[key]
        # jsonschema (~3 MiB with its dependencies) loads with the first schema a connector announces,
        # not with the platform: a platform whose connectors announced none does not need it.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        validator: ArgumentsValidator | None
        try:
            Draft202012Validator.check_schema(schema)
            validator = ArgumentsValidator(Draft202012Validator(schema))
        except SchemaError as exc:
            # The connector validates too; an unusable schema just means no platform-side check.
            log.warning("tool inputSchema is not valid JSON Schema (%s); arguments go unchecked", exc.message)
            validator = None
        self._by_schema[key] = validator
        if len(self._by_schema) > self.capacity:
            self._by_schema.popitem(last=False)  # links holding it keep their own reference
        return validator

    def for_tools(self, tools: tuple[ToolInfo, ...]) -> dict[str, ArgumentsValidator | None]:
        return {tool.name: self.get(tool.input_schema) for tool in tools}


class ToolSet:
    """The registry's view of one announced tool list: tools by name and their argument validators."""

    __slots__ = ("tools", "validators", "__weakref__")

    def __init__(self, tools: dict[str, ToolInfo], validators: dict[str, ArgumentsValidator | None]) -> None:
        self.tools = tools
        self.validators = validators


class ToolSets:
    """One shared, read-only `ToolSet` per distinct tool list among the live links.

    A fleet runs a few bundles, so its thousand links announce a few tool lists: one copy of each
    (schemas and all, ~2 KiB a tool) instead of one per link. An entry lives as long as a link holds it
    (weak values), so a peer announcing ever new lists grows nothing past its own links.
    """

    def __init__(self, validators: ValidatorCache) -> None:
        self._validators = validators
        self._by_list: weakref.WeakValueDictionary[bytes, ToolSet] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._by_list)

    def get(self, tools: tuple[ToolInfo, ...]) -> ToolSet:
        key = hashlib.sha256(orjson.dumps([tool.to_wire() for tool in tools], option=orjson.OPT_SORT_KEYS)).digest()
        shared = self._by_list.get(key)
        if shared is None:
            shared = ToolSet({tool.name: tool for tool in tools}, self._validators.for_tools(tools))
            self._by_list[key] = shared
        return shared


def _sized_call_frame(shell: LinkShell, params: CallParams) -> tuple[str, str]:
    """The call's frame, sized as encoded bytes before anything is sent: a call that does not fit in one
    frame is refused here (413) instead of making the connector close the link and fail every call on it.
    The body limit alone cannot promise that: re-encoding can grow arguments (`1e9` becomes `1000000000.0`)."""
    try:
        request_id, frame = shell.call_frame(params)
    except TypeError as exc:  # orjson: nested deeper than it encodes, an integer past 64 bits
        error = invalid_arguments(params.name, [{"path": "", "message": f"cannot be encoded as JSON ({exc})"}])
        raise ApiError(error.kind.http_status, error.kind.value, error.message, details=error.details) from None
    if jsonrpc.oversized(frame):
        size = len(frame.encode("utf-8", "surrogatepass"))
        raise ApiError(
            413,
            "arguments_too_large",
            f"The tool call is {size:,} bytes as a message to the connector; one message carries at most "
            f"{MAX_FRAME_BYTES:,} bytes (send a reference to large data instead)",
            limit=MAX_FRAME_BYTES,
        )
    return request_id, frame


def _expire(future: asyncio.Future[CallAnswered]) -> None:
    """A call's deadline (plus grace) passed with no answer."""
    if not future.done():
        future.set_exception(TimeoutError())


class ToolCaller:
    def __init__(self, registry: Registry, recent: RecentCalls, tail: TailFanout | None = None) -> None:
        self.registry = registry
        self.recent = recent
        self.tail = tail or TailFanout()

    async def call_tool(
        self, org_id: str, tool: str, arguments: Any, deployment_id: str | None = None, timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """Route one call; returns `{output, durationMs, deploymentId, callId}` or raises `ApiError`."""
        started = time.perf_counter()
        call_id = f"call_{uuid.uuid4().hex}"
        record: ConnectorRecord | None = None
        try:
            record = self.registry.choose(org_id, tool, deployment_id)
            validator = record.validators.get(tool)
            if validator is not None and not validator.is_valid(arguments):
                problems = argument_problems(validator.iter_errors(arguments))
                if problems:
                    error = invalid_arguments(tool, problems)
                    raise ApiError(error.kind.http_status, error.kind.value, error.message, details=error.details)
            deadline_ms = call_deadline_ms(timeout_ms, record.tools[tool].timeout_ms)
            result = await self._roundtrip(record, CallParams(call_id, tool, arguments, deadline_ms), deadline_ms)
        except ApiError as failed:
            self._record(org_id, call_id, tool, record, started, failed, deployment_id)
            raise
        self._record(org_id, call_id, tool, record, started, None, deployment_id)
        return {**result, "deploymentId": record.deployment_id, "connectorId": record.connector_id, "callId": call_id}

    async def _roundtrip(self, record: ConnectorRecord, params: CallParams, deadline_ms: int) -> dict[str, Any]:
        shell: LinkShell = record.shell
        request_id, frame = _sized_call_frame(shell, params)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CallAnswered] = loop.create_future()
        record.pending[request_id] = future
        record.calls_total += 1
        # A timer that fails the future, rather than `asyncio.wait_for`, which adds a second future
        # and its callbacks to every call.
        timer = loop.call_later(deadline_ms / 1000 + DEADLINE_GRACE_SECONDS, _expire, future)
        try:
            try:
                await shell.send(frame)
            except Exception:
                raise unavailable() from None
            try:
                answer = await future
            except TimeoutError:
                raise ApiError(
                    504, "tool_timeout", f"Tool {params.name!r} did not answer within {deadline_ms} ms"
                ) from None
        finally:
            timer.cancel()
            record.pending.pop(request_id, None)
        if answer.error is not None:
            error = capped_error(answer.error)  # the connector is not trusted with the caller's memory either
            if answer.refused:
                raise ApiError(error.kind.http_status, error.kind.value, error.message)
            extra: dict[str, Any] = {"details": error.details}
            if error.code and error.code != error.kind.value:
                extra["toolCode"] = error.code
            raise ApiError(error.kind.http_status, error.kind.value, error.message, **extra)
        assert answer.result is not None
        return {"output": answer.result.output, "durationMs": answer.result.duration_ms}

    @staticmethod
    def answered(record: ConnectorRecord, answer: CallAnswered) -> None:
        """The hub read an answer on `record`'s link; a late one (after the deadline) finds no caller."""
        future = record.pending.pop(answer.request_id, None)
        if future is not None and not future.done():
            future.set_result(answer)

    @staticmethod
    def fail_pending(record: ConnectorRecord) -> None:
        """The link is gone: its calls in flight fail now, never at their deadline."""
        pending, record.pending = record.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(unavailable())

    def _record(
        self,
        org_id: str,
        call_id: str,
        tool: str,
        record: ConnectorRecord | None,
        started: float,
        failed: ApiError | None,
        asked_deployment: str | None,
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        self.recent.record(
            org_id,
            call_id,
            tool,
            record.deployment_id if record else None,
            duration_ms,
            failed.code if failed else None,
            connector_id=record.connector_id if record else None,
        )
        if not self.tail.watching(org_id):
            return  # nobody tails this organization: no event is even built
        # The tail names the deployment a refused call asked for, when no connector took it.
        self.tail.publish_call(
            org_id,
            CallEvent(
                now_iso(),
                call_id,
                tool,
                record.deployment_id if record else asked_deployment,
                round(duration_ms, 3),
                failed.code if failed else "ok",
                (failed.extra.get("toolCode") or failed.code) if failed else None,
                failed.message if failed else None,
                record.connector_id if record else None,
            ),
        )
