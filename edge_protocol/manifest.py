"""The bundle manifest (SPEC.md §3.2) and its content checksum."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .limits import (
    DEFAULT_TOOL_TIMEOUT_MS,
    MANIFEST_SCHEMA_VERSION,
    MAX_BUNDLE_FILES,
    MAX_BUNDLE_TOOLS,
    MAX_MANIFEST_BYTES,
    TOOL_NAME_RE,
)
from .sandbox import SandboxError, SandboxRequest

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHECKSUM = re.compile(r"^sha256:[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest that does not follow SPEC.md §3.2; the message names the offending field."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ToolDescriptor:
    name: str
    description: str
    inputSchema: dict[str, Any]
    entry: str
    outputSchema: dict[str, Any] | None = None
    timeoutMs: int = DEFAULT_TOOL_TIMEOUT_MS


@dataclass
class Manifest:
    bundle: str
    checksum: str
    files: list[FileEntry]
    tools: list[ToolDescriptor]
    createdAt: str
    version: int | None = None
    builder: dict[str, str] = field(default_factory=dict)
    schemaVersion: int = MANIFEST_SCHEMA_VERSION
    #: What the bundle asks of the runtime (SPEC.md §10-§11); written only when it asks for something.
    sandbox: SandboxRequest = field(default_factory=SandboxRequest)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Stable key order for humans and diffs; the checksum never depends on this file.
        order = ["schemaVersion", "bundle", "version", "checksum", "createdAt", "builder", "files", "tools"]
        result = {key: data[key] for key in order}
        if not self.sandbox.empty:
            result["sandbox"] = self.sandbox.to_wire()
        return result

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def tool(self, name: str) -> ToolDescriptor | None:
        return next((t for t in self.tools if t.name == name), None)

    def with_version(self, version: int | None) -> Manifest:
        data = self.to_dict()
        data["version"] = version
        return Manifest.from_dict(data)

    def ref(self) -> dict[str, Any]:
        """`{name, version, checksum}`: how the wire names a bundle."""
        return {"name": self.bundle, "version": self.version, "checksum": self.checksum}

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ManifestError("manifest.json must hold a JSON object")
        if data.get("schemaVersion") != MANIFEST_SCHEMA_VERSION:
            raise ManifestError(
                f"manifest.json has schemaVersion {data.get('schemaVersion')!r}; this edge-connector reads "
                f"{MANIFEST_SCHEMA_VERSION} (upgrade edge-connector or rebuild the bundle)"
            )
        bundle = data.get("bundle")
        if not isinstance(bundle, str) or not bundle:
            raise ManifestError("manifest.json: 'bundle' must be a non-empty string")
        checksum = data.get("checksum")
        if not isinstance(checksum, str) or not _CHECKSUM.match(checksum):
            raise ManifestError("manifest.json: 'checksum' must be 'sha256:' followed by 64 lowercase hex digits")
        version = data.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise ManifestError("manifest.json: 'version' must be null or a positive integer")
        # Linear in the number of files and tools, and both capped: this runs on every upload before
        # anything else is known about the archive.
        files = [_file_entry(item, i) for i, item in enumerate(_list(data, "files", MAX_BUNDLE_FILES))]
        paths: set[str] = set()
        for entry in files:
            if entry.path in paths:
                raise ManifestError(f"manifest.json: path {entry.path!r} is listed twice in 'files'")
            paths.add(entry.path)
        tools = [_tool(item, i, paths) for i, item in enumerate(_list(data, "tools", MAX_BUNDLE_TOOLS))]
        names: set[str] = set()
        for tool in tools:
            if tool.name in names:
                raise ManifestError(f"manifest.json: tool name {tool.name!r} is used by more than one tool")
            names.add(tool.name)
        builder = data.get("builder")
        builder = {} if builder is None else builder  # not `or {}`: an empty list must be refused too
        if not isinstance(builder, dict):
            raise ManifestError("manifest.json: 'builder' must be an object")
        try:
            sandbox = SandboxRequest.from_wire(data.get("sandbox"), "manifest.json sandbox")
        except SandboxError as exc:
            raise ManifestError(str(exc)) from None
        return cls(
            bundle=bundle,
            checksum=checksum,
            files=files,
            tools=tools,
            createdAt=str(data.get("createdAt", "")),
            version=version,
            builder={str(k): str(v) for k, v in builder.items()},
            sandbox=sandbox,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        if len(text) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest.json is {len(text):,} bytes, over the limit of {MAX_MANIFEST_BYTES:,}")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ManifestError(f"manifest.json is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        return cls.from_json(Path(path).read_bytes())

    def verify_checksum(self) -> None:
        """The manifest's own consistency: `checksum` is the one its `files` give."""
        expected = content_checksum(self.files)
        if expected != self.checksum:
            raise ManifestError(f"manifest.json: checksum {self.checksum} does not match its files ({expected})")


def _list(data: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ManifestError(f"manifest.json: '{key}' must be a list")
    if len(value) > limit:
        raise ManifestError(f"manifest.json lists {len(value):,} {key}, over the limit of {limit:,} per bundle")
    return value


def _file_entry(item: Any, index: int) -> FileEntry:
    if not isinstance(item, dict):
        raise ManifestError(f"manifest.json: files[{index}] must be an object")
    path, sha, size = item.get("path"), item.get("sha256"), item.get("size")
    if not isinstance(path, str) or not is_safe_relative_path(path):
        raise ManifestError(
            f"manifest.json: files[{index}].path {path!r} is not a safe relative path "
            "(relative, '/'-separated, no '..', no control characters)"
        )
    if not isinstance(sha, str) or not _HEX64.match(sha):
        raise ManifestError(f"manifest.json: files[{index}].sha256 must be 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"manifest.json: files[{index}].size must be a non-negative integer")
    return FileEntry(path, sha, size)


def _tool(item: Any, index: int, paths: set[str]) -> ToolDescriptor:
    if not isinstance(item, dict):
        raise ManifestError(f"manifest.json: tools[{index}] must be an object")
    name = item.get("name")
    if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
        raise ManifestError(f"manifest.json: tools[{index}].name {name!r} must match {TOOL_NAME_RE.pattern}")
    entry = item.get("entry")
    if not isinstance(entry, str) or entry not in paths:
        raise ManifestError(f"manifest.json: tool {name!r} has entry {entry!r}, which is not in 'files'")
    schema = item.get("inputSchema")
    if not isinstance(schema, dict):
        raise ManifestError(f"manifest.json: tool {name!r} needs an 'inputSchema' object")
    output = item.get("outputSchema")
    if output is not None and not isinstance(output, dict):
        raise ManifestError(f"manifest.json: tool {name!r} has an 'outputSchema' that is not an object")
    timeout = item.get("timeoutMs", DEFAULT_TOOL_TIMEOUT_MS)
    if timeout is None:
        timeout = DEFAULT_TOOL_TIMEOUT_MS
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise ManifestError(f"manifest.json: tool {name!r} has timeoutMs {timeout!r}; use a positive integer")
    return ToolDescriptor(
        name=name,
        description=str(item.get("description", "")),
        inputSchema=schema,
        entry=entry,
        outputSchema=output,
        timeoutMs=timeout,
    )


# Control characters (a newline above all) would make the checksum text of SPEC.md §3.2 ambiguous:
# one path holding "\n<hash>  other" could stand for two files.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_safe_relative_path(path: str) -> bool:
    """A forward-slash relative path with no `..`, no empty or `.` parts, no drive or root and no
    control characters."""
    if not path or path.startswith("/") or "\\" in path or ":" in path or _CONTROL.search(path):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def checksum_lines(files: Iterable[FileEntry]) -> str:
    """Exactly what `sha256sum` prints for the files, sorted by path (SPEC.md §3.2)."""
    return "".join(f"{f.sha256}  {f.path}\n" for f in sorted(files, key=lambda f: f.path.encode("utf-8")))


def content_checksum(files: Iterable[FileEntry]) -> str:
    return "sha256:" + hashlib.sha256(checksum_lines(files).encode("utf-8")).hexdigest()


def file_entry_for(root: Path, relative: str) -> FileEntry:
    """Hash one file under `root` in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(Path(root) / relative, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(relative, digest.hexdigest(), size)
