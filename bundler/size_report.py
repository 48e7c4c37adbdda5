"""What made a bundle big: esbuild's metafile, inlined bytes grouped by npm package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_protocol.archive import too_large_message
from edge_protocol.limits import MAX_ARCHIVE_BYTES

from .errors import BuildError


@dataclass(frozen=True)
class InlinedInput:
    #: an npm package name, or a project-relative source path for your own files
    label: str
    bytes: int


def package_label(input_path: str) -> str:
    """`node_modules/@scope/pkg/lib/x.js` → `@scope/pkg`; a path outside node_modules stays itself."""
    marker = "node_modules/"
    position = input_path.rfind(marker)
    if position < 0:
        return input_path
    parts = input_path[position + len(marker) :].split("/")
    return "/".join(parts[:2]) if parts[0].startswith("@") and len(parts) > 1 else parts[0]


def largest_inlined_inputs(metafile: dict[str, Any], limit: int = 10) -> list[InlinedInput]:
    """The `limit` largest contributors to the output, by bytes inlined, grouped by npm package."""
    totals: dict[str, int] = {}
    for output in (metafile.get("outputs") or {}).values():
        for path, info in (output.get("inputs") or {}).items():
            label = package_label(path)
            totals[label] = totals.get(label, 0) + int(info.get("bytesInOutput", 0))
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [InlinedInput(label, size) for label, size in ranked[:limit]]


def human_bytes(size: int) -> str:
    for unit, step in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} B"


def too_large_error(archive_size: int, metafile: dict[str, Any], limit: int = MAX_ARCHIVE_BYTES) -> BuildError:
    """The error for an archive over the limit, listing the ten largest inlined inputs."""
    largest = largest_inlined_inputs(metafile)
    width = max((len(item.label) for item in largest), default=0)
    lines = [f"bundle archive is {archive_size:,} bytes, over the limit of {limit:,} bytes (50 MB)"]
    if largest:
        lines.append("largest inlined inputs (uncompressed bytes in the bundle):")
        lines += [f"  {item.label.ljust(width)}  {item.bytes:>13,}  ({human_bytes(item.bytes)})" for item in largest]
    hint = too_large_message(archive_size, limit).split("; ", 1)[1]
    return BuildError("\n".join(lines), hint)
