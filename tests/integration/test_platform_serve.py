"""Starting the platform: `edge-connector platform serve`, `run_in_thread` (for `dev`), option checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mock_platform.serve import build_config, run_in_thread
from tests.support.waiting import wait_until

EDGE_CONNECTOR = str(Path(sys.executable).parent / "edge-connector")


def test_cli_platform_serve_prints_the_listening_line_and_serves(tmp_path):
    process = subprocess.Popen(
        [EDGE_CONNECTOR, "platform", "serve", "--port", "0", "--data", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"mock-platform listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        assert httpx.get(match.group(1) + "/healthz").json() == {"status": "ok"}
        assert (tmp_path / "d" / "platform.db").exists()
    finally:
        process.terminate()
        assert process.wait(15) == 0


def test_run_in_thread_embeds_a_platform_and_stops_it(tmp_path):
    url, stop = run_in_thread(build_config(port=0, data_dir=tmp_path / "d"))
    try:
        token = httpx.post(f"{url}/api/auth/dev-login", json={"email": "emb@example.com"}).json()["token"]
        me = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["sub"] == "emb@example.com"
    finally:
        stop()
    wait_until(lambda: _refused(url), 10, message="the embedded platform to stop")


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_dev_mode_defaults_to_loopback_only():
    assert build_config(host="127.0.0.1").dev is True
    assert build_config(host="::1").dev is True
    assert build_config(host="0.0.0.0").dev is False
    assert build_config(host="0.0.0.0", dev=True).dev is True
    assert build_config(host="127.0.0.1", dev=False).dev is False


def test_the_deployment_token_lifetime_is_a_setting():
    assert build_config().deployment_token_ttl_seconds == 3600
    assert build_config(deployment_token_ttl=5).deployment_token_ttl_seconds == 5
    with pytest.raises(ValueError, match="--deployment-token-ttl must be a positive number"):
        build_config(deployment_token_ttl=0)


def test_handshake_rate_defaults_to_2000_per_second_and_must_be_positive():
    assert build_config().handshake_rate == 2000 and build_config(handshake_rate=50).handshake_rate == 50
    with pytest.raises(ValueError, match="--handshake-rate must be a positive number"):
        build_config(handshake_rate=-1)


def test_bad_options_are_usage_errors(tmp_path):
    for args in (
        ["--jwt-secret", "short"],
        ["--heartbeat", "0"],
        ["--deployment-token-ttl", "-1"],
        ["--handshake-rate", "0"],
    ):
        result = subprocess.run(
            [EDGE_CONNECTOR, "platform", "serve", "--port", "0", "--data", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
    busy = subprocess.Popen(
        [sys.executable, "-m", "mock_platform.serve", "--port", "0", "--data", str(tmp_path / "a")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = re.search(r":(\d+)$", busy.stdout.readline().strip()).group(1)
        clash = subprocess.run(
            [sys.executable, "-m", "mock_platform.serve", "--port", port, "--data", str(tmp_path / "b")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert clash.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in clash.stderr
    finally:
        busy.terminate()
        busy.wait(15)
