"""`edge-connector dev` end to end: scaffold, dev, edit → live, broken build, second session, Ctrl-C.

Everything is real: the CLI subprocess starts a real mock platform and a real runtime, builds with
real esbuild after a real `npm install`, and the test calls tools through the platform's HTTP API.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from edge_connector.testing import wait_until
from tests.support.dev import CLI, ECHO_TOOL, DevProcess, clean_env, scaffold

EDITS = 10


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return scaffold(tmp_path / "proj", "dev-proj")


def _call(url: str, token: str, tool: str, arguments: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/api/tools/{tool}/call",
        json={"arguments": arguments or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def _edit_answers(url: str, token: str, n: int) -> bool:
    response = _call(url, token, "echo_version")
    return response.status_code == 200 and response.json()["output"] == {"edit": n}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_dev_loop_edit_break_fix_and_clean_stop(project: Path, tmp_path: Path):
    env = clean_env(tmp_path / "config")
    dev = DevProcess(project, env)
    try:
        ready = wait_until(dev.ready_url, timeout=240, message="dev to print Ready")
        assert isinstance(ready, str), dev.text()
        url = ready
        assert "Ready: dev-proj v" in dev.text()
        assert dev.find(r"health\s+http://127\.0\.0\.1:\d+/statusz")
        # One ready-to-paste call line per tool, run exactly as printed from the project folder:
        # no token variable, no --platform (the session file says where dev runs). The lines after
        # "Ready" arrive one by one: wait for it rather than read a half-printed block.
        call_line = wait_until(
            lambda: dev.find(r"(?m)^    (\S+) call make_slug '(.*)'$"), timeout=10, message="the make_slug call line"
        )
        assert call_line is not None
        executable, arguments = call_line.groups()
        session = json.loads((project / ".edge" / "dev.json").read_text())
        assert session["platformUrl"] == url
        token = json.loads(Path(session["tokenPath"]).read_text())["token"]
        assert token not in dev.text()  # tokens never reach the terminal
        pasted = subprocess.run(
            [executable, "call", "make_slug", arguments, "--json"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert pasted.returncode == 0, pasted.stdout + pasted.stderr
        assert "example" in pasted.stdout

        # A second dev session in the same folder says so and exits.
        second = subprocess.run([*CLI, "dev", str(project)], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "already running" in second.stderr

        # Ten edits: each new version answers without a restart; measure save → live.
        tool_file = project / "src" / "tools" / "echo_version.ts"
        runtime_lock = json.loads((project / ".edge" / "runtime" / "edge-runtime.lock").read_text())
        latencies = []
        for n in range(1, EDITS + 1):
            saved = time.perf_counter()
            tool_file.write_text(ECHO_TOOL.format(n=n))
            wait_until(
                functools.partial(_edit_answers, url, token, n),
                timeout=20,
                interval=0.01,
                message=f"edit {n} to be live",
            )
            latencies.append(time.perf_counter() - saved)
        # Saving back to content already uploaded (undo) serves that content again, not the newest version.
        tool_file.write_text(ECHO_TOOL.format(n=3))
        wait_until(lambda: _edit_answers(url, token, 3), timeout=20, message="undone edit to be live")
        tool_file.write_text(ECHO_TOOL.format(n=EDITS))
        wait_until(lambda: _edit_answers(url, token, EDITS), timeout=20, message="redone edit to be live")
        p50, worst = statistics.median(latencies), max(latencies)
        print(f"\nsave → live over {EDITS} edits: p50 {p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms")
        assert p50 <= 1.5, f"save → live p50 {p50:.2f}s (target 1 s)"
        assert dev.find(r"✓ v\d+ live in \d+ ms from save · ~echo_version")
        # Same runtime process throughout: hot swaps, no restart.
        lock_now = json.loads((project / ".edge" / "runtime" / "edge-runtime.lock").read_text())
        assert lock_now["pid"] == runtime_lock["pid"]
        # ... and the same worker too: dev's runtime reloads each version in place.
        assert "in place in 1 workers" in dev.text() and "Loaded bundle dev-proj" in dev.text()
        assert dev.text().count("Loaded bundle dev-proj") == 1, "a save started new workers"

        # A syntax error: printed with file:line:column, and the last good version keeps serving.
        tool_file.write_text(ECHO_TOOL.format(n=EDITS + 1).replace("return {", "return {{ oops"))
        wait_until(lambda: dev.find(r"build failed: .*echo_version\.ts:\d+:\d+"), timeout=20, message="build error")
        assert _edit_answers(url, token, EDITS)
        # Fixed: the new version answers.
        tool_file.write_text(ECHO_TOOL.format(n=EDITS + 2))
        wait_until(lambda: _edit_answers(url, token, EDITS + 2), timeout=20, message="fixed version to be live")
    finally:
        if dev.process.poll() is None:
            dev.process.send_signal(signal.SIGINT)
        code = dev.process.wait(60)
    assert code == 0, dev.text()[-3000:]
    # Nothing left behind: runtime gone, its lock released, the platform port closed.
    assert not _pid_alive(runtime_lock["pid"])
    assert not (project / ".edge" / "runtime" / "edge-runtime.lock").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)
