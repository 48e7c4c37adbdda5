"""`edge-connector --help` starts light: none of the heavy libraries is imported before a command needs it.

Read from `python -X importtime`, in a fresh interpreter, so whatever a command module imports at its top
shows up here. `rich.table` is not in the list: typer's own help formatter uses it; neither is pydantic
for a command's own `--help`, which typer itself loads (`typer._adapters`) once it parses a command.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "fastapi",
    "uvicorn",
    "pydantic",
    "jsonschema",
    "websockets",
    "jwt",
    "cryptography",
    "httpx",
    "mcp",
    "watchfiles",
    "asyncio",
    "bundler",
    "edge_runtime",
    "mock_platform",
)


def _imported_at_startup(*args: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edge_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "EC_DISABLE_TRAY": "1"},
    )
    modules = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "edge_cli.app" in modules, run.stderr[-2000:]
    return modules


@pytest.mark.parametrize("args", [("--help",), ("status", "--help"), ("call", "--help"), ("tail", "--help")])
def test_help_imports_no_heavy_module(args):
    modules = _imported_at_startup(*args)
    heavy = set(HEAVY) - ({"pydantic"} if args != ("--help",) else set())
    loaded = sorted(m for m in modules if m.split(".")[0] in heavy)
    assert not loaded, f"`edge-connector {' '.join(args)}` imports {loaded}: import them inside the command"
