"""`edge-connector call` and `edge-connector sim` against a real platform with a real connector runtime."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support.bundles import JsTool, echo_tool, make_archive
from tests.support.cli import Cli
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess
from tests.support.waiting import wait_until

FAILING = JsTool("fail", 'throw new ToolError("bad_city", "city is empty", { field: "city" });')


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Platform + one connected runtime running a bundle with an echo and a failing tool."""
    base = tmp_path_factory.mktemp("call-sim")
    platform = PlatformProcess(base / "data").start()
    runtime = None
    try:
        cli = Cli(base, platform.url)
        org_id = f"org-{uuid.uuid4().hex[:8]}"
        cli("auth", "--token", platform.user_token(f"{org_id}@example.com", org_id))
        dep = cli.json("deployment", "create", "runner")
        archive, _ = make_archive(base / "bundle", [echo_tool(), FAILING])
        cli("upload", "--archive", str(archive), "--set-default")
        runtime = RuntimeProcess(
            base / "install",
            env={
                "TOOL_RPC_URL": platform.ws_url,
                "DEPLOYMENT_ID": dep["deploymentId"],
                "DEPLOYMENT_SECRET": dep["secret"],
            },
        ).start()
        wait_until(
            lambda: runtime.exited() or {t["name"] for t in runtime.status().get("tools", [])} >= {"echo", "fail"},
            30,
            message="the runtime to load the bundle",
        )
        runtime.wait_healthy(30)
        yield cli, dep["deploymentId"], runtime
    finally:
        if runtime is not None:
            runtime.stop()
        platform.stop()


def test_call_prints_the_output(stack):
    cli, dep_id, _ = stack
    result = cli("call", "echo", '{"city": "Paris", "n": 2}')
    assert json.loads(result.stdout) == {"city": "Paris", "n": 2}
    as_json = cli.json("call", "echo", '{"x": 1}', "--deployment", dep_id, "--timeout", "5")
    assert as_json["output"] == {"x": 1} and as_json["deploymentId"] == dep_id and as_json["durationMs"] >= 0


def test_a_tool_error_prints_code_and_message_and_exits_1(stack):
    cli, _, _ = stack
    result = cli("call", "fail", "{}", ok=False)
    assert result.returncode == 1
    assert "bad_city" in result.stderr and "city is empty" in result.stderr and "Traceback" not in result.stderr
    missing = cli("call", "no_such_tool", ok=False)
    assert missing.returncode == 1 and "tool_not_found" in missing.stderr
    bad_json = cli("call", "echo", "{not json", ok=False)
    assert bad_json.returncode == 2


def test_sim_commands_drive_the_platform(stack):
    cli, dep_id, runtime = stack
    assert cli.json("sim", "latency", "0") == {"latencyMs": 0}
    assert cli.json("sim", "reject", "0") == {"rejectNext": 0}
    assert cli.json("sim", "pushes", "off") == {"pushesEnabled": False}
    assert cli.json("sim", "pushes", "on") == {"pushesEnabled": True}
    assert cli("sim", "pushes", "maybe", ok=False).returncode == 2
    before = runtime.text.count("Disconnected from platform server")
    dropped = cli("sim", "disconnect", "--deployment", dep_id)
    assert "Closed 1 connection(s) with code 1012" in dropped.stdout
    runtime.wait_for_log("Disconnected from platform server", count=before + 1)
    token = json.loads(cli.token_path.read_text())["token"]

    def answered() -> bool:
        reply = httpx.post(
            f"{cli.env['EDGE_PLATFORM_URL']}/api/tools/echo/call",
            json={"arguments": {}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        return reply.status_code == 200

    wait_until(answered, 30, message="calls to work again after the reconnect")
