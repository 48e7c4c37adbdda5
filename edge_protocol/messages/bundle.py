"""A bundle and its tools as the wire names them, and the two messages that move them: the platform's
`bundle.updated` (run this one now) and the connector's `tools.updated` (this is what I run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import jsonrpc
from ..limits import DEFAULT_TOOL_TIMEOUT_MS
from ..routes import archive_path
from .fields import Fields


@dataclass(frozen=True, slots=True)
class BundleRef:
    """A bundle named on the wire: `{name, version, checksum}`, plus `size`, `archiveUrl` and `tools`
    (the tool names the platform recorded for that version) when the platform assigns it
    (`assignedBundle`, `bundle.updated`)."""

    name: str
    version: int | None
    checksum: str
    size: int | None = None
    archive_url: str | None = None
    tools: tuple[str, ...] | None = None

    @classmethod
    def from_wire(cls, data: Any, where: str = "bundle") -> BundleRef:
        fields = Fields.of(data, where)
        return cls(
            name=fields.string("name"),
            version=fields.optional_integer("version"),
            checksum=fields.string("checksum"),
            size=fields.optional_integer("size", minimum=0),
            archive_url=fields.optional_string("archiveUrl"),
            tools=_tool_names(fields),
        )

    @classmethod
    def optional_from_wire(cls, data: Any, where: str = "bundle") -> BundleRef | None:
        return None if data is None else cls.from_wire(data, where)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name, "version": self.version, "checksum": self.checksum}
        if self.size is not None:
            wire["size"] = self.size
        if self.archive_url is not None:
            wire["archiveUrl"] = self.archive_url
        if self.tools is not None:
            wire["tools"] = list(self.tools)
        return wire

    def tools_mismatch(self, manifest_tools: Iterable[str]) -> str | None:
        """Why a downloaded manifest is not the version the platform recorded, or None when its tool
        names are the recorded ones (or nothing was recorded: an older platform). A store whose archive
        was swapped under a version must not get its tools run (issue 12, hole 3)."""
        if self.tools is None:
            return None
        listed, recorded = set(manifest_tools), set(self.tools)
        if listed == recorded:
            return None
        parts = []
        if listed - recorded:
            parts.append("unexpected " + ", ".join(sorted(listed - recorded)[:10]))
        if recorded - listed:
            parts.append("missing " + ", ".join(sorted(recorded - listed)[:10]))
        return f"its manifest's tools are not the ones the platform recorded for this version ({'; '.join(parts)})"

    @property
    def url(self) -> str:
        """Where its archive is fetched: the `archiveUrl` given, else the route of SPEC.md §5."""
        if self.archive_url:
            return self.archive_url
        if self.version is None:
            raise ValueError(f"bundle {self.name} has no version, so no archive route")
        return archive_path(self.name, self.version)

    def label(self) -> str:
        return f"{self.name} v{self.version}" if self.version is not None else self.name


def _tool_names(fields: Fields) -> tuple[str, ...] | None:
    if fields.get("tools") is None:
        return None
    names = fields.items("tools")
    if not all(isinstance(name, str) for name in names):
        fields.fail("tools", "must be a list of tool names")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A tool as the platform learns it (hello, `tools.updated`): the manifest's descriptor minus its entry."""

    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    timeout_ms: int = DEFAULT_TOOL_TIMEOUT_MS

    @classmethod
    def from_wire(cls, data: Any, where: str = "tool") -> ToolInfo:
        fields = Fields.of(data, where)
        return cls(
            name=fields.string("name"),
            description=fields.optional_text("description") or "",
            input_schema=fields.optional_schema("inputSchema") or {},
            output_schema=fields.optional_schema("outputSchema"),
            timeout_ms=fields.optional_integer("timeoutMs") or DEFAULT_TOOL_TIMEOUT_MS,
        )

    @classmethod
    def from_manifest(cls, tool: Any) -> ToolInfo:
        """From `edge_protocol.manifest.ToolDescriptor` (the file's camelCase attributes)."""
        return cls(tool.name, tool.description, tool.inputSchema, tool.outputSchema, tool.timeoutMs)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "timeoutMs": self.timeout_ms,
        }


def tools_of(fields: Fields) -> tuple[ToolInfo, ...]:
    """The `tools` list of a hello or `tools.updated` (left out: none)."""
    return tuple(
        ToolInfo.from_wire(tool, fields.at(f"tools[{i}]")) for i, tool in enumerate(fields.optional_items("tools"))
    )


@dataclass(frozen=True, slots=True)
class BundleUpdated:
    """Platform → connector: the assigned bundle changed; sync now."""

    METHOD: ClassVar[str] = jsonrpc.BUNDLE_UPDATED

    bundle: BundleRef

    @classmethod
    def from_wire(cls, data: Any) -> BundleUpdated:
        return cls(BundleRef.from_wire(data, cls.METHOD))

    def to_wire(self) -> dict[str, Any]:
        return self.bundle.to_wire()


@dataclass(frozen=True, slots=True)
class ToolsUpdated:
    """Connector → platform after every swap: the bundle it now runs and its tools."""

    METHOD: ClassVar[str] = jsonrpc.TOOLS_UPDATED

    bundle: BundleRef | None
    tools: tuple[ToolInfo, ...] = ()

    @classmethod
    def from_wire(cls, data: Any) -> ToolsUpdated:
        fields = Fields.of(data, cls.METHOD)
        return cls(BundleRef.optional_from_wire(fields.get("bundle"), fields.at("bundle")), tools_of(fields))

    def to_wire(self) -> dict[str, Any]:
        return {"bundle": self.bundle.to_wire() if self.bundle else None, "tools": [t.to_wire() for t in self.tools]}
