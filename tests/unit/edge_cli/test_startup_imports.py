"""`edge-connector --help` starts light: none of the heavy libraries is imported before a command needs it.

Read from `python -X importtime`, in a fresh interpreter, so whatever a command module imports at its top
shows up here. Typer's pydantic coercion is kept out by `edge_cli.typer_params`, rich by the lazy consoles
and click's plain help formatter, httpx's own CLI (click, rich, pygments) by `edge_cli/__init__.py`.
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
    "rich",
    "click",
    "pygments",
)


def _imported_at_startup(*args: str, env: dict[str, str] | None = None) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "edge_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "EC_DISABLE_TRAY": "1", **(env or {})},
    )
    modules = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "edge_cli.app" in modules, run.stderr[-2000:]
    modules.add(f"stderr: {run.stderr.splitlines()[-1] if run.stderr else ''}")  # the command's last line
    return modules


@pytest.mark.parametrize("args", [("--help",), ("status", "--help"), ("call", "--help"), ("tail", "--help")])
def test_help_imports_no_heavy_module(args):
    modules = _imported_at_startup(*args)
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not loaded, f"`edge-connector {' '.join(args)}` imports {loaded}: import them inside the command"


def test_status_reads_the_runtime_with_the_standard_library(tmp_path):
    """`status` with no runtime listening: options parsed, settings read, one refused loopback connection."""
    from tests.support.waiting import free_port

    modules = _imported_at_startup("status", env={"HOME": str(tmp_path), "HEALTH_PORT": str(free_port())})
    assert any(m.startswith("stderr: Error: No edge runtime answered") for m in modules), sorted(modules)[-3:]
    loaded = sorted(m for m in modules if m.split(".")[0] in set(HEAVY) - {"edge_runtime"})
    assert not loaded, f"`edge-connector status` imports {loaded}"
    assert _other_commands(modules, "status") == []
    assert not {"http.client", "email", "rich"} & modules


def test_status_prints_a_running_runtime_without_an_http_library_or_rich(tmp_path):
    """`status` against a loopback server answering /statusz as the runtime does: read, printed, nothing heavy."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.dumps({"state": "registered", "ready": True, "version": "9.9.9", "tools": [{"name": "echo"}]})

    class Statusz(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/statusz" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Statusz) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            run = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "edge_cli", "status", "--port", str(server.server_port)],
                capture_output=True,
                text=True,
                timeout=120,
                env={"PATH": "/usr/bin:/bin", "EC_DISABLE_TRAY": "1", "HOME": str(tmp_path)},
            )
        finally:
            server.shutdown()
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Edge runtime 9.9.9" in run.stdout and "echo" in run.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    assert "edge_cli.commands.status" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in {*HEAVY, "http", "email"} - {"edge_runtime"})
    assert not loaded, f"`edge-connector status` imports {loaded}"


def test_call_loads_its_http_client_and_nothing_else_heavy(tmp_path):
    """`call` against a platform that is not there: the HTTP client is the one heavy import it needs."""
    from tests.support.waiting import free_port

    modules = _imported_at_startup(
        "call",
        "echo",
        "{}",
        "--platform",
        f"http://127.0.0.1:{free_port()}",
        env={"HOME": str(tmp_path), "EDGE_CONNECTOR_TOKEN": "a.b.c", "EC_HTTP_RETRY_BASE": "0.01"},
    )
    assert "httpx" in modules and any(m.startswith("stderr: Error: Connection refused") for m in modules)
    loaded = sorted(m for m in modules if m.split(".")[0] in set(HEAVY) - {"httpx", "edge_runtime"})
    assert not loaded, f"`edge-connector call` imports {loaded}"
    assert _other_commands(modules, "call") == []
    # The platform client's transport is the standard library's: httpx's own would load these three.
    assert not {"httpcore", "h11", "certifi"} & modules
    # --platform and EDGE_CONNECTOR_TOKEN given: neither edge.json nor the token file's place is looked up.
    assert "platformdirs" not in modules


def _other_commands(modules: set[str], command: str) -> list[str]:
    """Command modules imported besides `command`'s own: a run registers (and imports) only what it invokes."""
    return sorted(m for m in modules if m.startswith("edge_cli.commands.") and m != f"edge_cli.commands.{command}")


@pytest.mark.parametrize("command", ["status", "call", "tail", "build", "deployment"])
def test_a_command_imports_only_its_own_module(command):
    modules = _imported_at_startup(command, "--help")
    assert f"edge_cli.commands.{command}" in modules
    assert _other_commands(modules, command) == []


def test_the_root_help_lists_every_command():
    from edge_cli.app import COMMAND_MODULES

    modules = _imported_at_startup("--help")
    assert sorted(m for m in modules if m.startswith("edge_cli.commands.")) == sorted(
        f"edge_cli.commands.{name}" for name in COMMAND_MODULES
    )
