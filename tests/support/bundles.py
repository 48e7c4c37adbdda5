"""Hand-written bundles for fast tests: CommonJS tool files + a real manifest, no esbuild.

`write_bundle(dir, tools)` lays out `manifest.json` + `dist/<name>.js` exactly as `build` would,
with checksums computed by `edge_protocol`; `pack_bundle` turns it into an upload-ready archive.
Tool bodies are the JavaScript of `run(input, ctx)` (an async function body).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_protocol.archive import write_archive
from edge_protocol.manifest import Manifest, content_checksum, file_entry_for

OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}


@dataclass
class JsTool:
    name: str
    body: str  # body of `async run(input, ctx) { … }`
    input_schema: dict[str, Any] = field(default_factory=lambda: dict(OBJECT_SCHEMA))
    timeout_ms: int | None = None
    prelude: str = ""  # module-level code before the definition (e.g. a throw to fail loading)
    description: str = ""
    output_schema: dict[str, Any] | None = None

    def source(self) -> str:
        definition = {
            "name": self.name,
            "description": self.description or f"test tool {self.name}",
            "inputSchema": self.input_schema,
            **({"timeoutMs": self.timeout_ms} if self.timeout_ms else {}),
            **({"outputSchema": self.output_schema} if self.output_schema else {}),
        }
        return (
            '"use strict";\n'
            "class ToolError extends Error {\n"
            "  constructor(code, message, details) { super(message); this.name = 'ToolError';"
            " this.code = code; this.details = details; }\n"
            "}\n"
            f"{self.prelude}\n"
            f"const definition = {json.dumps(definition)};\n"
            f"definition.run = async function run(input, ctx) {{\n{self.body}\n}};\n"
            "module.exports = { default: definition };\n"
        )


ECHO = JsTool("echo", "return input;")


def echo_tool(name: str = "echo", tag: str | None = None) -> JsTool:
    """Echoes its input; with `tag`, wraps it as {tag, input} so tests can tell bundles apart."""
    if tag is None:
        return JsTool(name, "return input;")
    return JsTool(name, f"return {{ tag: {json.dumps(tag)}, input }};")


def write_bundle(
    root: Path,
    tools: list[JsTool],
    *,
    name: str = "test-tools",
    version: int | None = None,
    extra_files: dict[str, bytes] | None = None,
    sandbox: dict[str, Any] | None = None,
) -> Manifest:
    """Write `root/manifest.json` and `root/dist/*.js`; returns the manifest. `sandbox` is what the
    bundle asks for (edge.json's `env`, `permissions`, `secrets`, `secretsInEnv`)."""
    root = Path(root)
    (root / "dist").mkdir(parents=True, exist_ok=True)
    for tool in tools:
        (root / "dist" / f"{tool.name}.js").write_text(tool.source(), encoding="utf-8")
    for relative, data in (extra_files or {}).items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    paths = sorted({f"dist/{t.name}.js" for t in tools} | set(extra_files or {}))
    files = [file_entry_for(root, p) for p in paths]
    manifest = Manifest.from_dict(
        {
            "schemaVersion": 1,
            "bundle": name,
            "version": version,
            "checksum": content_checksum(files),
            "createdAt": "2026-11-28T10:00:00Z",
            "builder": {"edgeConnector": "test"},
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files],
            "tools": [
                {
                    "name": t.name,
                    "description": t.description or f"test tool {t.name}",
                    "inputSchema": t.input_schema,
                    "outputSchema": t.output_schema,
                    "timeoutMs": t.timeout_ms or 30_000,
                    "entry": f"dist/{t.name}.js",
                }
                for t in tools
            ],
            **({"sandbox": sandbox} if sandbox else {}),
        }
    )
    (root / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def pack_bundle(root: Path, manifest: Manifest, out: Path) -> Path:
    """Pack a written bundle into a gzip'd tar archive at `out`."""
    write_archive(root, manifest, out)
    return out


def make_archive(
    work: Path,
    tools: list[JsTool],
    *,
    name: str = "test-tools",
    extra_files: dict[str, bytes] | None = None,
    sandbox: dict[str, Any] | None = None,
) -> tuple[Path, Manifest]:
    """Write a bundle under `work/src` and pack it to `work/<name>.tar.gz`."""
    manifest = write_bundle(work / "src", tools, name=name, extra_files=extra_files, sandbox=sandbox)
    return pack_bundle(work / "src", manifest, work / f"{name}.tar.gz"), manifest
