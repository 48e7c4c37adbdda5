"""The connected connectors and the choice of one for a call: plain objects and pure decisions.

`ConnectorRecord` is what the platform knows of one link (who, which tools, how busy, draining or
not); `Registry` indexes records by organization and deployment and `Registry.choose` picks the one a
call goes to. Nothing here touches a socket or the clock, so it is tested with plain records.

A deployment may be held by several links at once (`holders`, a list): today the handshake admits
one per deployment (SPEC.md §7), and replicas (SPEC.md §14) only change how many `admits` allows.
A `draining` record keeps its calls in flight but gets no new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_protocol.messages import BundleRef, ToolInfo

from .errors import ApiError

CONNECTOR_UNAVAILABLE = "connector unavailable"


def unavailable(message: str = CONNECTOR_UNAVAILABLE) -> ApiError:
    return ApiError(503, "connector_unavailable", message)


def tool_not_found(message: str) -> ApiError:
    return ApiError(404, "tool_not_found", message)


@dataclass(eq=False)
class ConnectorRecord:
    """One connected connector, as routing and `/api/connectors` see it."""

    connector_id: str
    org_id: str
    deployment_id: str | None
    since: str
    connector_version: str | None = None
    concurrency: int = 64
    bundle: BundleRef | None = None
    # Read-only, and shared with every link announcing the same tool list (`call_roundtrip.ToolSets`).
    tools: dict[str, ToolInfo] = field(default_factory=dict)
    validators: dict[str, Any] = field(default_factory=dict)  # tool name → compiled inputSchema (or None)
    tool_set: Any = None  # what keeps the shared pair above alive
    pending: dict[str, Any] = field(default_factory=dict)  # JSON-RPC id → the caller's future
    announced_checksum: str | None = None  # the bundle we last told it to run
    draining: bool = False
    closed: bool = False
    calls_total: int = 0
    logs_subscribed: bool = False  # what `logs.subscribe` last told it (someone tails it)
    log_lines_received: int = 0  # tool console lines it forwarded (`tools.log`)
    shell: Any = None  # what sends it frames (the hub's connection); None in tests

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    @property
    def load(self) -> float:
        """Calls in flight relative to what it accepts at once."""
        return len(self.pending) / self.concurrency

    def serves(self, tool: str) -> bool:
        return not self.closed and tool in self.tools

    def describe(self) -> dict[str, Any]:
        """An entry of `GET /api/connectors` (a REST body, not a wire message)."""
        return {
            "connectorId": self.connector_id,
            "deploymentId": self.deployment_id,
            "since": self.since,
            "connectorVersion": self.connector_version,
            "bundle": self.bundle.to_wire() if self.bundle else None,
            "tools": sorted(self.tools),
            "inFlight": len(self.pending),
            "concurrency": self.concurrency,
            "callsTotal": self.calls_total,
            "draining": self.draining,
            "logsSubscribed": self.logs_subscribed,
            "logLinesReceived": self.log_lines_received,
        }


def least_busy(candidates: Sequence[ConnectorRecord], turn: int) -> ConnectorRecord:
    """The candidate with the lowest load; ties take turns (`turn` counts up), so idle connectors
    share the load instead of one of them getting every call."""
    if len(candidates) == 1:
        return candidates[0]
    loads = [record.load for record in candidates]
    lowest = min(loads)
    idle = [record for record, load in zip(candidates, loads, strict=True) if load == lowest]
    return idle[turn % len(idle)]


class Registry:
    def __init__(self) -> None:
        self.by_id: dict[str, ConnectorRecord] = {}
        self.by_org: dict[str, set[ConnectorRecord]] = {}
        self.by_deployment: dict[tuple[str, str], list[ConnectorRecord]] = {}
        self._turn = 0

    # ------------------------------------------------------------------------------ membership
    def add(self, record: ConnectorRecord) -> None:
        self.by_id[record.connector_id] = record
        self.by_org.setdefault(record.org_id, set()).add(record)
        if record.deployment_id is not None:
            self.by_deployment.setdefault((record.org_id, record.deployment_id), []).append(record)

    def remove(self, record: ConnectorRecord) -> None:
        record.closed = True
        self.by_id.pop(record.connector_id, None)
        org = self.by_org.get(record.org_id)
        if org is not None:
            org.discard(record)
            if not org:
                del self.by_org[record.org_id]
        if record.deployment_id is not None:
            key = (record.org_id, record.deployment_id)
            holders = self.by_deployment.get(key)
            if holders is not None and record in holders:
                holders.remove(record)
                if not holders:
                    del self.by_deployment[key]

    def holders(self, org_id: str, deployment_id: str) -> list[ConnectorRecord]:
        """The live links of a deployment."""
        return [r for r in self.by_deployment.get((org_id, deployment_id), ()) if not r.closed]

    def admits(self, org_id: str, deployment_id: str, replicas: int = 1) -> bool:
        """Whether one more link may hold this deployment (SPEC.md §7; §14 raises `replicas`)."""
        return len(self.holders(org_id, deployment_id)) < replicas

    def of_org(self, org_id: str) -> list[ConnectorRecord]:
        return sorted(self.by_org.get(org_id, ()), key=lambda record: record.since)

    def all(self) -> Iterable[ConnectorRecord]:
        return list(self.by_id.values())

    # ------------------------------------------------------------------------------ routing
    def choose(self, org_id: str, tool: str, deployment_id: str | None = None) -> ConnectorRecord:
        """The connector a call of `tool` goes to, or the `ApiError` the caller gets (503 / 404)."""
        if deployment_id is not None:
            holders = self.holders(org_id, deployment_id)
            if not holders:
                raise unavailable(f"{CONNECTOR_UNAVAILABLE}: deployment {deployment_id} is not connected")
            with_tool = [r for r in holders if tool in r.tools]
            if not with_tool:
                raise tool_not_found(f"Tool {tool!r} not found on deployment {deployment_id}")
        else:
            links = self.by_org.get(org_id, ())
            with_tool = [r for r in links if r.serves(tool)]
            if not with_tool:
                if not links:
                    raise unavailable(f"{CONNECTOR_UNAVAILABLE}: no connector of this organization is connected")
                raise tool_not_found(f"Tool {tool!r} not found on any connected connector")
        accepting = [r for r in with_tool if not r.draining]
        if not accepting:
            raise unavailable(f"{CONNECTOR_UNAVAILABLE}: every connector with {tool!r} is draining")
        self._turn += 1
        return least_busy(accepting, self._turn)
