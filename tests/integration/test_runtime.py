"""`edge-connector start` as a real process against a real mock platform, with real Node.js workers.

Covers SPEC.md §8 (lock, auth, connect, health, shutdown) and the runtime lines of issue 4's
"Bad input" and "Done when" lists. Backoff and heartbeat are shortened through the documented
environment variables (tests/support/runtime.FAST_ENV).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.bundles import JsTool, echo_tool, write_bundle
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess, write_token_file
from tests.support.waiting import free_port, wait_until

ORG = "org-test"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One platform for the module: each test works in its own organization (sim switches are per org)."""
    proc = PlatformProcess(tmp_path_factory.mktemp("platform") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def user_token(platform) -> str:
    unique = uuid.uuid4().hex[:12]
    return platform.user_token(email=f"{unique}@example.com", org_id=f"org-{unique}")


def install(tmp_path, platform, name="inst", tools=None, token=None, sandbox=None) -> Path:
    directory = tmp_path / name
    write_token_file(directory, token or user_token(platform), platform.url)
    write_bundle(directory, tools or [echo_tool()], version=1, sandbox=sandbox)
    return directory


def runtime(directory, platform, **env) -> RuntimeProcess:
    return RuntimeProcess(directory, env={"TOOL_RPC_URL": platform.ws_url, **env})


def api(platform, token: str) -> httpx.Client:
    return httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def create_deployment(platform, token: str, name: str = "edge-1") -> tuple[str, str]:
    with api(platform, token) as client:
        response = client.post("/api/deployments", json={"name": name})
        response.raise_for_status()
        body = response.json()
    return body["deploymentId"], body["secret"]


# ------------------------------------------------------------------------------------ health & reconnect
def test_healthz_503_then_200_then_503_across_a_disconnect_then_200_after_backoff(platform, tmp_path):
    token = user_token(platform)
    rt = runtime(install(tmp_path, platform, token=token), platform).start()
    try:
        status = rt.wait_healthy()
        assert status["state"] == "registered" and status["connects"] == 1
        assert status["bundle"]["name"] == "test-tools"
        assert [t["name"] for t in status["tools"]] == ["echo"]
        assert rt.get("/livez").status_code == 200
        with api(platform, token) as client:
            # Refuse the next 3 handshakes so the unhealthy window is long enough to observe for sure.
            assert client.post("/api/sim/reject", json={"count": 3}).status_code == 200
            assert client.post("/api/sim/disconnect", json={}).json() == {"disconnected": 1}
            rt.wait_unhealthy(timeout=5)
            rt.wait_for_log("Disconnected from platform server: platform restarting (close 1012)")
            status = rt.wait_healthy(timeout=20)
            assert status["connects"] == 2 and status["disconnects"] == 1
            assert "the platform refused the connection (HTTP 503" in rt.text
            # Re-registered: the platform routes calls to it again.
            connectors = client.get("/api/connectors").json()["connectors"]
            assert [c["tools"] for c in connectors] == [["echo"]]
            response = client.post("/api/tools/echo/call", json={"arguments": {"n": 1}})
            assert response.status_code == 200 and response.json()["output"] == {"n": 1}
        metrics = rt.get("/metrics").text
        assert "edge_connected 1.0" in metrics
        assert 'edge_tool_calls_total{outcome="ok",tool="echo"} 1.0' in metrics
        assert rt.status()["tools"][0]["calls"] == 1
    finally:
        rt.stop()


def test_platform_down_at_start_logs_econnrefused_with_the_url_then_connects_when_it_comes_up(tmp_path):
    port = free_port()
    url = f"ws://127.0.0.1:{port}/tool-rpc"
    data = tmp_path / "platform-data"
    early = PlatformProcess(data).start()  # only to get a token signed with this data dir's secret
    token = early.user_token()
    early.stop()
    directory = tmp_path / "inst"
    write_token_file(directory, token)
    write_bundle(directory, [echo_tool()], version=1)
    rt = RuntimeProcess(directory, env={"TOOL_RPC_URL": url}).start()
    platform = None
    try:
        rt.wait_for_log(f"Cannot connect to platform server {url}: ECONNREFUSED", count=2)
        assert rt.healthz() == 503
        status = rt.status()
        assert status["state"] in ("waiting", "connecting")
        assert status["reconnectAttempts"] >= 2 and "ECONNREFUSED" in status["lastError"]
        platform = PlatformProcess(data, extra_args=["--port", str(port)]).start()
        rt.wait_healthy(timeout=20)
    finally:
        rt.stop()
        if platform:
            platform.stop()


def test_platform_killed_mid_call_the_runtime_survives_and_retries(tmp_path):
    platform = PlatformProcess(tmp_path / "data").start()
    token = user_token(platform)
    slow = JsTool("slow", "await new Promise(r => setTimeout(r, 1500)); return 'done';")
    rt = runtime(install(tmp_path, platform, tools=[slow], token=token), platform).start()
    try:
        rt.wait_healthy()
        outcome: dict = {}

        def call() -> None:
            try:
                outcome["response"] = httpx.post(
                    f"{platform.url}/api/tools/slow/call",
                    json={"arguments": {}},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            except httpx.HTTPError as exc:
                outcome["error"] = exc

        caller = threading.Thread(target=call)
        caller.start()
        wait_until(lambda: rt.status()["inFlight"] == 1, 10, message="call in flight")
        platform.kill()
        caller.join(10)
        assert "error" in outcome  # the caller's connection died with the platform
        rt.wait_for_log("Disconnected from platform server")
        rt.wait_for_log("ECONNREFUSED")
        assert not rt.exited() and rt.healthz() == 503
    finally:
        rt.stop()
        platform.stop()


# ------------------------------------------------------------------------------------ lock
def test_two_runtimes_in_one_directory_and_a_stale_lock_after_kill_9(platform, tmp_path):
    directory = install(tmp_path, platform)
    first = runtime(directory, platform).start()
    try:
        first.wait_healthy()
        lock = json.loads((directory / "edge-runtime.lock").read_text())
        assert lock["pid"] == first.pid and lock["healthUrl"] == first.health_url
        second = runtime(directory, platform).start(wait_for_health_server=False)
        assert second.wait_exit() == 1
        assert f"Edge runtime already running (pid {first.pid})" in second.text
        assert "Traceback" not in second.text
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        third = runtime(directory, platform).start()
        try:
            third.wait_healthy()
            assert f"Took over a stale lock in {directory} left by pid {first.pid}" in third.text
            assert third.terminate() == 0
            assert not (directory / "edge-runtime.lock").exists()
        finally:
            third.stop()
    finally:
        first.stop()


# ------------------------------------------------------------------------------------ auth
def test_no_token_exits_1_saying_where_it_looked(platform, tmp_path):
    directory = tmp_path / "empty"
    rt = runtime(directory, platform).start(wait_for_health_server=False)
    assert rt.wait_exit() == 1
    assert "No authentication token found" in rt.text
    assert str(directory / "auth-token.json") in rt.text
    assert "edge-connector auth --browser" in rt.text and "DEPLOYMENT_SECRET" in rt.text
    assert "Traceback" not in rt.text


def test_expired_token_exits_1_with_the_reauth_commands(platform, tmp_path):
    token = platform.mint_token(sub="dev@example.com", orgId=ORG, expiresIn=-60)
    rt = runtime(install(tmp_path, platform, token=token), platform).start(wait_for_health_server=False)
    assert rt.wait_exit() == 1
    assert "Token has expired" in rt.text
    assert "edge-connector auth --browser" in rt.text and "edge-connector auth --token <new-token>" in rt.text
    assert token not in rt.text


def test_plain_ws_to_a_remote_host_is_refused_naming_the_switch(platform, tmp_path):
    # SPEC.md §9: no token or deployment secret in clear text to a host that is not loopback.
    directory = install(tmp_path, platform)
    rt = runtime(
        directory,
        platform,
        TOOL_RPC_URL="ws://platform.example.invalid:8000/tool-rpc",
        DEPLOYMENT_ID="dep-x",
        DEPLOYMENT_SECRET="ecs_not_sent",
    ).start(wait_for_health_server=False)
    assert rt.wait_exit() == 1
    assert "EC_ALLOW_INSECURE=1" in rt.text and "platform.example.invalid" in rt.text
    assert "ecs_not_sent" not in rt.text and "Traceback" not in rt.text


def test_org_less_token_exits_1(platform, tmp_path):
    token = platform.mint_token(sub="dev@example.com", expiresIn=3600)
    rt = runtime(install(tmp_path, platform, token=token), platform).start(wait_for_health_server=False)
    assert rt.wait_exit() == 1
    assert "No organization in token" in rt.text


def test_wrongly_signed_token_is_refused_at_the_handshake_and_retried(platform, tmp_path):
    forged = jwt.encode(
        {"sub": "dev@example.com", "orgId": ORG, "iat": int(time.time()), "exp": int(time.time()) + 3600},
        "not-the-platform-secret-at-all-0123456789",
        algorithm="HS256",
    )
    directory = install(tmp_path, platform, token=forged)
    rt = runtime(directory, platform).start()
    try:
        rt.wait_for_log("Token validation failed", count=2)
        assert rt.healthz() == 503 and not rt.exited()
        assert "Signature verification failed" in rt.status()["lastError"]
        # Saving a good token fixes the running runtime at its next attempt: no restart needed.
        write_token_file(directory, user_token(platform), platform.url)
        rt.wait_healthy()
        assert forged not in rt.text
    finally:
        rt.stop()


def test_a_token_expiring_while_connected_is_closed_4001_and_a_new_token_file_is_picked_up(platform, tmp_path):
    token = user_token(platform)
    org = jwt.decode(token, options={"verify_signature": False})["orgId"]
    # Long enough for a runtime to start and register on a busy machine, short enough to watch it expire.
    short = platform.mint_token(sub="dev@example.com", orgId=org, expiresIn=15)
    directory = install(tmp_path, platform, token=short)
    rt = runtime(directory, platform).start()
    try:
        rt.wait_healthy()
        rt.wait_for_log(
            "Disconnected from platform server: Token has expired: re-authenticate with "
            "edge-connector auth --browser or edge-connector auth --token <new-token>",
            timeout=30,
        )
        assert rt.healthz() == 503 and not rt.exited()
        write_token_file(directory, token, platform.url)  # what `edge-connector auth --token` does
        rt.wait_healthy()
    finally:
        rt.stop()


def test_client_credentials_connect_as_the_deployment_and_secrets_never_reach_a_log(platform, tmp_path):
    user = user_token(platform)
    deployment_id, secret = create_deployment(platform, user)
    directory = tmp_path / "inst"
    write_bundle(directory, [echo_tool()], version=1)
    rt = runtime(
        directory, platform, DEPLOYMENT_ID=deployment_id, DEPLOYMENT_SECRET=secret, EC_LOG_FORMAT="json"
    ).start()
    try:
        status = rt.wait_healthy()
        assert status["deploymentId"] == deployment_id
        assert status["settings"]["deploymentSecretSet"] is True
        with api(platform, user) as client:
            assert [c["deploymentId"] for c in client.get("/api/connectors").json()["connectors"]] == [deployment_id]
            client.post("/api/sim/disconnect", json={"deploymentId": deployment_id})
        rt.wait_for_log("Disconnected from platform server")
        rt.wait_healthy()
        assert rt.terminate() == 0
    finally:
        rt.stop()
    logs = rt.text + "".join(platform.output)
    assert secret not in logs
    assert "eyJ" not in logs  # no JWT of any kind
    for line in rt.text.splitlines():
        json.loads(line)  # EC_LOG_FORMAT=json: one object per line


def test_wrong_deployment_secret_exits_1_saying_the_credentials_are_invalid(platform, tmp_path):
    deployment_id, secret = create_deployment(platform, user_token(platform))
    wrong = "wrong-" + secret[::-1]
    directory = tmp_path / "inst"
    rt = runtime(directory, platform, DEPLOYMENT_ID=deployment_id, DEPLOYMENT_SECRET=wrong).start()
    assert rt.wait_exit() == 1
    assert f"Deployment credentials invalid: the platform refused DEPLOYMENT_ID {deployment_id}" in rt.text
    assert wrong not in rt.text and secret not in rt.text
    assert not (directory / "edge-runtime.lock").exists()


# ------------------------------------------------------------------------------------ duplicates
def test_a_duplicate_deployment_is_refused_409_and_keeps_retrying_at_the_maximum(platform, tmp_path):
    user = user_token(platform)
    deployment_id, secret = create_deployment(platform, user)
    env = {"DEPLOYMENT_ID": deployment_id, "DEPLOYMENT_SECRET": secret}
    first = runtime(install(tmp_path, platform, "a"), platform, **env).start()
    second = runtime(install(tmp_path, platform, "b"), platform, **env).start()
    try:
        first.wait_healthy()
        second.wait_for_log("Deployment already connected", count=2)
        assert not second.exited() and second.healthz() == 503
        assert first.healthz() == 200
        assert "retrying in" in second.text
    finally:
        second.stop()
        first.stop()


def test_a_frozen_runtime_does_not_lock_its_deployment_out(tmp_path):
    # Platform heartbeat 0.5 s: a link silent for two intervals is dropped.
    platform = PlatformProcess(tmp_path / "data", extra_args=["--heartbeat", "0.5"]).start()
    user = user_token(platform)
    deployment_id, secret = create_deployment(platform, user)
    env = {"DEPLOYMENT_ID": deployment_id, "DEPLOYMENT_SECRET": secret, "EC_BACKOFF_MAX": "0.5"}
    ghost = runtime(install(tmp_path, platform, "a"), platform, **env).start()
    successor = None
    try:
        ghost.wait_healthy()
        os.kill(ghost.pid, signal.SIGSTOP)  # a hung host: the socket stays open but nothing answers pings
        successor = runtime(install(tmp_path, platform, "b"), platform, **env).start()
        successor.wait_healthy(timeout=15)
        with api(platform, user) as client:
            connectors = client.get("/api/connectors").json()["connectors"]
        assert len(connectors) == 1 and connectors[0]["deploymentId"] == deployment_id
    finally:
        os.kill(ghost.pid, signal.SIGCONT)
        if successor:
            successor.stop()
        ghost.stop()
        platform.stop()


# ------------------------------------------------------------------------------------ calls & shutdown
def test_sim_disconnect_during_50_concurrent_calls_runs_none_twice_and_none_hangs(platform, tmp_path):
    token = user_token(platform)
    (tmp_path / "ledger").mkdir()
    ledger = tmp_path / "ledger" / "ledger.txt"
    tool = JsTool(
        "record",
        (
            "await new Promise(r => setTimeout(r, 300 + Math.floor(Math.random() * 1200)));"
            "require('fs').appendFileSync(input.ledger, ctx.callId + '\\n'); return { id: input.i };"
        ),
    )
    # The ledger lives outside the sandbox's scratch dir: the bundle asks to write there.
    sandbox = {"permissions": {"fsWrite": [str(ledger.parent)]}}
    rt = runtime(
        install(tmp_path, platform, tools=[tool], token=token, sandbox=sandbox), platform, EC_WORKERS="2"
    ).start()
    try:
        rt.wait_healthy()
        results: list = [None] * 50
        client = httpx.Client(
            base_url=platform.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            limits=httpx.Limits(max_connections=64),
        )

        def call(i: int) -> None:
            started = time.monotonic()
            response = client.post(
                "/api/tools/record/call", json={"arguments": {"ledger": str(ledger), "i": i}, "timeoutMs": 20000}
            )
            results[i] = (response.status_code, response.json(), time.monotonic() - started)

        callers = [threading.Thread(target=call, args=(i,)) for i in range(50)]
        for caller in callers:
            caller.start()
        wait_until(lambda: rt.status()["inFlight"] >= 10, 10, message="calls in flight")
        with api(platform, token) as admin:
            assert admin.post("/api/sim/disconnect", json={}).json()["disconnected"] == 1
        for caller in callers:
            caller.join(30)
        client.close()
        assert all(r is not None for r in results)
        ok = [r for r in results if r[0] == 200]
        failed = [r for r in results if r[0] != 200]
        assert failed, "the disconnect hit no call in flight"
        for status, body, elapsed in failed:
            assert status == 503 and body["error"]["code"] == "connector_unavailable", body
            assert body["error"]["message"].startswith("connector unavailable")
            assert elapsed < 10, "a dropped link must fail its calls at once, not at the 20 s deadline"
        assert sorted(body["output"]["id"] for _, body, _ in ok) == sorted(
            i for i, r in enumerate(results) if r[0] == 200
        )
        # Every call ran at most once: the tool's own ledger has no call id twice.
        wait_until(lambda: rt.status()["inFlight"] == 0, 10, message="runtime drained")
        ran = ledger.read_text().split() if ledger.exists() else []
        assert len(ran) == len(set(ran))
        assert len(ran) >= len(ok)
        rt.wait_healthy()
    finally:
        rt.stop()


def test_sigterm_drains_calls_in_flight_closes_1000_and_exits_0(platform, tmp_path):
    token = user_token(platform)
    # 2 s: long enough to see the drain on /api/connectors even on a loaded machine.
    slow = JsTool("slow", "await new Promise(r => setTimeout(r, 2000)); return 'finished';")
    directory = install(tmp_path, platform, tools=[slow], token=token)
    rt = runtime(directory, platform).start()
    outcome: dict = {}

    def call() -> None:
        outcome["response"] = httpx.post(
            f"{platform.url}/api/tools/slow/call",
            json={"arguments": {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    try:
        rt.wait_healthy()
        caller = threading.Thread(target=call)
        caller.start()
        wait_until(lambda: rt.status()["inFlight"] == 1, 10, message="call in flight")
        started = time.monotonic()
        assert rt.process is not None
        rt.process.send_signal(signal.SIGTERM)
        # SPEC.md §14: first `connector.draining`: the platform lists the connector as draining while
        # its call finishes.
        with api(platform, token) as client:
            wait_until(
                lambda: [c["draining"] for c in client.get("/api/connectors").json()["connectors"]] == [True],
                5,
                interval=0.05,
                message="the platform to see the runtime draining",
            )
        assert rt.wait_exit(15) == 0
        caller.join(10)
        assert time.monotonic() - started < 10
        response = outcome["response"]
        assert response.status_code == 200 and response.json()["output"] == "finished"
        assert "Stopping: finishing calls in flight" in rt.text and "Edge runtime stopped" in rt.text
        assert "Disconnected from platform server" not in rt.text
        assert not (directory / "edge-runtime.lock").exists()
        with api(platform, token) as client:
            wait_until(
                lambda: client.get("/api/connectors").json()["connectors"] == [],
                5,
                message="platform forgot the connector",
            )
    finally:
        rt.stop()


def test_health_port_in_use_is_a_clear_error(platform, tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rt = runtime(install(tmp_path, platform), platform, HEALTH_PORT=str(port)).start(wait_for_health_server=False)
        assert rt.wait_exit() == 1
    assert f"Health port {port} on 127.0.0.1 is already in use" in rt.text and "HEALTH_PORT" in rt.text


def test_a_bad_setting_is_refused_at_start(platform, tmp_path):
    rt = runtime(install(tmp_path, platform), platform, EC_WORKERS="many").start(wait_for_health_server=False)
    assert rt.wait_exit() == 1
    assert "Invalid setting EC_WORKERS: 'many'; allowed: a whole number" in rt.text


def test_status_command_reads_statusz(platform, tmp_path):
    directory = install(tmp_path, platform)
    rt = runtime(directory, platform).start()
    try:
        rt.wait_healthy()
        shown = subprocess.run(
            [sys.executable, "-m", "edge_cli", "status", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stderr
        assert "registered" in shown.stdout and "test-tools v1" in shown.stdout and "echo" in shown.stdout
        port = rt.health_url.rsplit(":", 1)[1]
        raw = subprocess.run(
            [sys.executable, "-m", "edge_cli", "status", "--port", port, "--json"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert json.loads(raw.stdout)["state"] == "registered"
    finally:
        rt.stop()
    gone = subprocess.run(
        [sys.executable, "-m", "edge_cli", "status", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert gone.returncode == 1 and "No edge runtime answered at" in gone.stderr


def test_a_frozen_platform_is_noticed_after_two_silent_heartbeats(tmp_path):
    platform = PlatformProcess(tmp_path / "data").start()
    rt = runtime(install(tmp_path, platform), platform, EC_HEARTBEAT="0.5").start()
    try:
        rt.wait_healthy()
        os.kill(platform.process.pid, signal.SIGSTOP)  # a half-open link: the socket stays, nothing answers
        try:
            rt.wait_for_log(
                "Disconnected from platform server: no heartbeat from the platform for 2 intervals (dead peer)",
                timeout=10,
            )
            assert rt.healthz() == 503
        finally:
            os.kill(platform.process.pid, signal.SIGCONT)
        rt.wait_healthy(timeout=20)
    finally:
        rt.stop()
        platform.stop()


def test_sigint_stops_like_sigterm(platform, tmp_path):
    directory = install(tmp_path, platform)
    rt = runtime(directory, platform).start()
    try:
        rt.wait_healthy()
        rt.process.send_signal(signal.SIGINT)
        assert rt.wait_exit() == 0
        assert "Edge runtime stopped" in rt.text and "Traceback" not in rt.text
        assert not (directory / "edge-runtime.lock").exists()
    finally:
        rt.stop()
