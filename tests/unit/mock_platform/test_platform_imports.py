"""What a fresh platform loads: heavy libraries only some requests need wait for the first of them."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from mock_platform.serve import _server, build_config
_server(build_config(port=0, data_dir=sys.argv[1]))  # the app and server a `mock-platform` run serves
print(",".join(sorted(m for m in ("jsonschema", "mcp") if m in sys.modules)))
from mock_platform.call_roundtrip import ValidatorCache
ValidatorCache().get({"type": "object"})  # the first tool schema a connector announces
print("jsonschema" in sys.modules)
"""


def test_jsonschema_and_the_mcp_sdk_load_with_their_first_use_not_with_the_platform(tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data")], capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == ["", "True"]  # nothing heavy at start; jsonschema once needed
