"""What `edge-connector start` loads: the idle runtime's 60 MB RSS budget has no room for stray imports."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import edge_cli.app, edge_cli.commands.start, edge_runtime.runtime, edge_runtime.executor, edge_runtime.sync
heavy = sorted(m for m in ("cryptography", "jwt", "fastapi", "pydantic", "starlette", "uvicorn", "mock_platform")
               if m in sys.modules)
print(",".join(heavy))
"""


def test_the_runtime_process_loads_neither_the_platform_nor_cryptography():
    probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == ""
