"""`.dev.vars` in `edge-connector dev` (SPEC.md §11): saved values reach the running tools within a second."""

from __future__ import annotations

import functools
import json
import os
import re
import statistics
import time
import uuid
from pathlib import Path

import httpx

from tests.integration.test_dev_loop import CLI, DevProcess
from tests.support.waiting import wait_until

SECRET_TOOL = """import { defineTool } from "../lib/tool";

export default defineTool({
  name: "show_key",
  description: "Returns the dev key it sees",
  inputSchema: { type: "object", properties: {} },
  async run(_input, ctx) {
    return { key: ctx.secrets.DEV_KEY ?? null };
  },
});
"""


def _equals(read, expected) -> bool:
    return read() == expected


def test_dev_vars_edits_reach_the_tools_within_a_second(tmp_path: Path):
    import subprocess

    project = tmp_path / "proj"
    done = subprocess.run(
        [*CLI, "init", str(project), "--template", "ts", "--name", "vars-proj"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".dev.vars" in (project / ".gitignore").read_text()
    (project / "src" / "tools" / "show_key.ts").write_text(SECRET_TOOL)
    first = f"dev-{uuid.uuid4().hex}"
    (project / ".dev.vars").write_text(f"DEV_KEY={first}\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("EDGE_CONNECTOR_TOKEN", None)
    dev = DevProcess(project, env)
    try:
        ready = wait_until(
            lambda: dev.find(r"dashboard\s+(http://\S+)/") or dev.process.poll() is not None,
            timeout=240,
            message="dev to print Ready",
        )
        assert isinstance(ready, re.Match), dev.text()
        url = ready.group(1)
        token = json.loads((project / ".edge/runtime/auth-token.json").read_text())["token"]

        def key() -> str | None:
            response = httpx.post(
                f"{url}/api/tools/show_key/call",
                json={"arguments": {}},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            return response.json()["output"]["key"] if response.status_code == 200 else None

        wait_until(lambda: key() == first, timeout=20, message="the first .dev.vars value")
        latencies = []
        values = [first]
        for n in range(5):
            value = f"dev-{n}-{uuid.uuid4().hex}"
            values.append(value)
            saved = time.perf_counter()
            (project / ".dev.vars").write_text(f'# local only\nDEV_KEY="{value}"\n')
            wait_until(functools.partial(_equals, key, value), timeout=10, interval=0.01, message=f"save {n}")
            latencies.append(time.perf_counter() - saved)
        p50 = statistics.median(latencies)
        print(f"\n.dev.vars save → visible over 5 saves: p50 {p50 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
        # SPEC: within a second; the bound leaves room for a busy shared 2-core machine (as test_dev_loop does).
        assert p50 <= 1.5, f".dev.vars save → visible p50 {p50:.2f}s (target: within a second)"
        # Removing the name deletes the secret.
        (project / ".dev.vars").write_text("# nothing\n")
        wait_until(lambda: key() is None, timeout=10, message="the deleted key")
        for value in values:
            assert value not in dev.text()
    finally:
        dev.process.send_signal(2)
        try:
            dev.process.wait(timeout=30)
        except Exception:
            dev.process.kill()
