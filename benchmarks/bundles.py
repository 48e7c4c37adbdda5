"""Hand-made bundle archives for the benchmarks: an echo tool, optionally with incompressible ballast.

Built with `edge_protocol`'s own manifest/archive writers, so the platform and the runtime check
them exactly like a bundle from `edge-connector build`, without needing esbuild in the loop.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge_protocol.archive import write_archive
from edge_protocol.limits import MAX_ARCHIVE_BYTES
from edge_protocol.manifest import Manifest, ToolDescriptor, content_checksum, file_entry_for

ECHO_SCHEMA = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}

#: CommonJS, as a built tool file is (see the shared decisions): `module.exports.default` is the definition.
ECHO_JS = """\
"use strict";
const marker = %s;
module.exports.default = {
  name: "echo",
  description: "Return the input unchanged",
  inputSchema: %s,
  async run(input) {
    return marker === null ? input : { ...input, bundle: marker };
  },
};
"""

#: Leaves room under the 50 MB limit for the manifest, tar headers and gzip's framing of stored data.
ARCHIVE_HEADROOM_BYTES = 256 * 1024


@dataclass(frozen=True)
class BuiltBundle:
    archive: Path
    manifest: Manifest
    #: What the echo tool adds to its output as `bundle` (None: pure echo).
    marker: str | None = None

    @property
    def checksum(self) -> str:
        return self.manifest.checksum

    @property
    def size(self) -> int:
        return self.archive.stat().st_size


def make_echo_bundle(
    work: Path, name: str = "bench-echo", marker: str | None = None, ballast_bytes: int = 0
) -> BuiltBundle:
    """Write `work/<name>/{dist,manifest.json}` and `work/<name>.tar.gz`.

    `marker` is added to every echo output (so a caller can tell which bundle answered);
    `ballast_bytes` of random data go into `dist/ballast.bin`, which gzip cannot shrink.
    """
    root = Path(work) / name
    dist = root / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "echo.js").write_text(ECHO_JS % (json.dumps(marker), json.dumps(ECHO_SCHEMA)))
    relative = ["dist/echo.js"]
    if ballast_bytes:
        with open(dist / "ballast.bin", "wb") as out:
            remaining = ballast_bytes
            while remaining:
                chunk = min(remaining, 1 << 20)
                out.write(os.urandom(chunk))
                remaining -= chunk
        relative.append("dist/ballast.bin")
    files = [file_entry_for(root, path) for path in relative]
    manifest = Manifest(
        bundle=name,
        checksum=content_checksum(files),
        files=files,
        tools=[
            ToolDescriptor(
                name="echo",
                description="Return the input unchanged",
                inputSchema=ECHO_SCHEMA,
                entry="dist/echo.js",
                timeoutMs=10_000,
            )
        ],
        createdAt=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        builder={"edgeConnector": "benchmarks"},
    )
    (root / "manifest.json").write_text(manifest.to_json())
    archive = Path(work) / f"{name}.tar.gz"
    write_archive(root, manifest, archive)
    return BuiltBundle(archive, manifest, marker)


def largest_ballast(limit: int = MAX_ARCHIVE_BYTES) -> int:
    """Random bytes that still fit an archive under `limit` (gzip adds ~0.03 % to random data)."""
    return int((limit - ARCHIVE_HEADROOM_BYTES) / 1.0005)
