"""`connector.hello`, the connector's first message, and the platform's answer (SPEC.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jsonrpc
from .bundle import BundleRef, ToolInfo, tools_of
from .fields import Fields


@dataclass(frozen=True, slots=True)
class HelloParams:
    """`connector.hello`: the connector's first message (SPEC.md §7)."""

    METHOD: ClassVar[str] = jsonrpc.HELLO

    connector_version: str | None
    deployment_id: str | None
    bundle: BundleRef | None
    tools: tuple[ToolInfo, ...] = ()
    concurrency: int | None = None

    @classmethod
    def from_wire(cls, data: Any) -> HelloParams:
        fields = Fields.of(data, cls.METHOD)
        return cls(
            connector_version=fields.optional_string("connectorVersion"),
            deployment_id=fields.optional_string("deploymentId"),
            bundle=BundleRef.optional_from_wire(fields.get("bundle"), fields.at("bundle")),
            tools=tools_of(fields),
            concurrency=fields.optional_integer("concurrency"),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "connectorVersion": self.connector_version,
            "deploymentId": self.deployment_id,
            "bundle": self.bundle.to_wire() if self.bundle else None,
            "tools": [tool.to_wire() for tool in self.tools],
            "concurrency": self.concurrency,
        }


@dataclass(frozen=True, slots=True)
class HelloResult:
    """The platform's answer to `connector.hello`."""

    connector_id: str
    deployment_id: str | None
    org_id: str
    heartbeat_seconds: float | None = None
    assigned_bundle: BundleRef | None = None

    @classmethod
    def from_wire(cls, data: Any) -> HelloResult:
        fields = Fields.of(data, f"{jsonrpc.HELLO} result")
        heartbeat = fields.optional_number("heartbeatSeconds")
        return cls(
            connector_id=fields.string("connectorId"),
            deployment_id=fields.optional_string("deploymentId"),
            org_id=fields.string("orgId"),
            heartbeat_seconds=float(heartbeat) if heartbeat is not None else None,
            assigned_bundle=BundleRef.optional_from_wire(fields.get("assignedBundle"), fields.at("assignedBundle")),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "connectorId": self.connector_id,
            "deploymentId": self.deployment_id,
            "orgId": self.org_id,
            "heartbeatSeconds": self.heartbeat_seconds,
            "assignedBundle": self.assigned_bundle.to_wire() if self.assigned_bundle else None,
        }
