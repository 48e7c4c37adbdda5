"""The dev loop from a second terminal (`call`, `status`, `sim` find the running `dev` by themselves),
stable ports, and a dev loop that keeps rebuilding after an upload failed.

Real everything: `edge-connector dev` subprocesses with their embedded platforms and runtimes, real npm
install, esbuild and Node.js; the commands of the "second terminal" run as separate processes.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from edge_connector.testing import wait_until
from edge_connector.testing.platform import PlatformProcess
from edge_connector.testing.waiting import free_port
from tests.support.dev import CLI, ECHO_TOOL, DevProcess, clean_env, scaffold

pytestmark = pytest.mark.slow


def _second_terminal(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=project, env=env, capture_output=True, text=True, timeout=90)


def _stop(dev: DevProcess) -> int:
    if dev.process.poll() is None:
        dev.process.send_signal(signal.SIGINT)
    return dev.process.wait(60)


def test_two_dev_sessions_each_reached_from_their_project(tmp_path: Path) -> None:
    alpha = scaffold(tmp_path / "alpha", "alpha-tools")
    beta = tmp_path / "beta"
    shutil.copytree(alpha, beta, symlinks=True, ignore=shutil.ignore_patterns(".edge"))
    (beta / "edge.json").write_text(json.dumps({**json.loads((beta / "edge.json").read_text()), "name": "beta-tools"}))
    env = clean_env(tmp_path / "config")

    # alpha's port is taken by someone else: dev takes the next free one and says so in one line.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    busy_port = busy.getsockname()[1]
    devs = [
        DevProcess(alpha, env, "--port", str(busy_port), "--health-port", str(free_port())),
        DevProcess(beta, env, "--port", str(free_port()), "--health-port", str(free_port())),
    ]
    try:
        for dev in devs:
            assert isinstance(wait_until(dev.ready_url, timeout=240, message="dev to be ready"), str), dev.text()
        moved = devs[0].find(rf"Port {busy_port} is in use; the embedded platform listens on (\d+) instead\.")
        assert moved, devs[0].text()
        assert devs[0].ready_url() == f"http://127.0.0.1:{moved.group(1)}"

        for project, name in ((alpha, "alpha-tools"), (beta, "beta-tools")):
            session = json.loads((project / ".edge" / "dev.json").read_text())
            # From inside the project (a subfolder, even): no flag, no token variable.
            called = _second_terminal(project / "src", env, "call", "echo_version", "{}", "--json")
            assert called.returncode == 0, called.stdout + called.stderr
            answer = json.loads(called.stdout)
            assert answer["output"] == {"edit": 0}
            assert answer["deploymentId"] == session["deploymentId"]  # this project's own session
            status = _second_terminal(project, env, "status", "--json")
            assert status.returncode == 0, status.stderr
            assert json.loads(status.stdout)["bundle"]["name"] == name
            assert session["healthUrl"].startswith("http://127.0.0.1:")

        assert _stop(devs[0]) == 0, devs[0].text()[-2000:]
        assert not (alpha / ".edge" / "dev.json").exists()
        gone = _second_terminal(alpha, env, "call", "echo_version", "{}")
        assert gone.returncode == 1
        assert "No edge-connector dev session is running in" in gone.stderr
        assert "dev" in gone.stderr and "Traceback" not in gone.stderr
        # beta is untouched by alpha's end.
        still = _second_terminal(beta, env, "call", "echo_version", "{}", "--json")
        assert still.returncode == 0, still.stderr
    finally:
        busy.close()
        for dev in devs:
            _stop(dev)


def test_a_failed_upload_prints_one_line_and_the_next_save_rebuilds(tmp_path: Path) -> None:
    project = scaffold(tmp_path / "proj", "flaky-tools")
    port = free_port()
    platform = PlatformProcess(tmp_path / "platform-data", extra_args=["--port", str(port)]).start()
    env = clean_env(tmp_path / "config")
    dev = DevProcess(project, env, "--platform", platform.url, "--health-port", str(free_port()))
    tool = project / "src" / "tools" / "echo_version.ts"

    def answers(edit: int) -> bool:
        done = _second_terminal(project, env, "call", "echo_version", "{}", "--json")
        return done.returncode == 0 and json.loads(done.stdout)["output"] == {"edit": edit}

    try:
        assert isinstance(wait_until(dev.ready_url, timeout=240, message="dev to be ready"), str), dev.text()
        platform.stop()
        tool.write_text(ECHO_TOOL.format(n=1))
        wait_until(lambda: dev.find(r"✗ upload failed: .*"), timeout=60, message="the upload failure line")
        assert "Traceback" not in dev.text()
        assert dev.process.poll() is None  # dev keeps running

        platform.start()  # same port, same data: the dev login and the deployment are still there
        tool.write_text(ECHO_TOOL.format(n=2))
        wait_until(
            lambda: dev.find(r"✓ v\d+ live in \d+ ms from save"), timeout=90, message="a rebuild after the failure"
        )
        wait_until(lambda: answers(2), timeout=30, message="edit 2 to answer")
    finally:
        code = _stop(dev)
        platform.stop()
    assert code == 0, dev.text()[-2000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{platform.url}/healthz", timeout=2)
