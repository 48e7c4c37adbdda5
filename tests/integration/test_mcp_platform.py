"""The platform's `/mcp` against clients nobody here wrote: the official SDK client in both protocol
eras, and raw HTTP requests of revision 2025-11-25 (initialize + session) and 2026-07-28 (no
initialize). Real platform, real connector runtime, real Node.js workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent, ToolListChangedNotification

from tests.support.bundles import make_archive
from tests.support.cli import Cli
from tests.support.inspector import InspectorUnavailable, inspector
from tests.support.mcp_tools import ECHO_JS, ECHO_OUTPUT, FAIL_JS, SHOUT_JS, mcp_command
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess
from tests.support.waiting import async_wait_until, wait_until

pytestmark = pytest.mark.timeout(180)

MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "1"},
}
ACCEPT = "application/json, text/event-stream"


@dataclass
class Stack:
    platform: PlatformProcess
    cli: Cli
    org_id: str
    token: str
    runtime: RuntimeProcess
    base: Path
    deployment_id: str
    deployment_secret: str

    @property
    def mcp_url(self) -> str:
        return f"{self.platform.url}/mcp"

    def client(
        self, mode: str = "legacy", token: str | None = None, statuses: list[int] | None = None, **kwargs
    ) -> Client:
        async def record(response: httpx.Response) -> None:
            if statuses is not None:
                statuses.append(response.status_code)

        http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token or self.token}"}, timeout=60, event_hooks={"response": [record]}
        )
        return Client(
            streamable_http_client(self.mcp_url, http_client=http),  # type: ignore[arg-type]
            mode=mode,
            read_timeout_seconds=60,
            **kwargs,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("mcp-platform")
    platform = PlatformProcess(base / "data").start()
    runtime = None
    try:
        cli = Cli(base, platform.url)
        org_id = f"org-{uuid.uuid4().hex[:8]}"
        token = platform.user_token(f"{org_id}@example.com", org_id)
        cli("auth", "--token", token)
        dep = cli.json("deployment", "create", "runner")
        archive, _ = make_archive(base / "bundle", [ECHO_JS, FAIL_JS], name="mcp-tools")
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
        yield Stack(platform, cli, org_id, token, runtime, base, dep["deploymentId"], dep["secret"])
    finally:
        if runtime is not None:
            runtime.stop()
        platform.stop()


def _error_of(result) -> dict:
    assert result.is_error, result
    return json.loads(result.content[0].text)["error"]


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_sdk_client_lists_and_calls_the_orgs_tools(stack: Stack, mode: str) -> None:
    async with stack.client(mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else MODERN)
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert list(tools) == ["echo", "fail"]
        assert tools["echo"].output_schema == ECHO_OUTPUT and tools["fail"].output_schema is None

        result = await client.call_tool("echo", {"text": "hello"})
        assert not result.is_error and result.structured_content == {"text": "hello"}
        assert isinstance(result.content[0], TextContent)
        assert json.loads(result.content[0].text) == {"text": "hello"}

        assert _error_of(await client.call_tool("fail", {})) == {
            "code": "bad_city",
            "kind": "tool_error",
            "message": "city is empty",
        }
        invalid = _error_of(await client.call_tool("echo", {"text": 5}))
        assert invalid["kind"] == "invalid_arguments" and "text" in invalid["message"]
        assert invalid["details"][0]["path"] == "/text"

        with pytest.raises(MCPError) as unknown:
            await client.call_tool("nope", {})
        assert unknown.value.error.code == -32602 and "Unknown tool: nope" in unknown.value.error.message


def test_no_token_is_401_pointing_at_the_protected_resource_metadata(stack: Stack) -> None:
    response = httpx.post(
        stack.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers={"Accept": ACCEPT}
    )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge == f'Bearer resource_metadata="{stack.platform.url}/.well-known/oauth-protected-resource"'
    document = httpx.get(f"{stack.platform.url}/.well-known/oauth-protected-resource").json()
    assert document["resource"] == stack.mcp_url and document["bearer_methods_supported"] == ["header"]
    # RFC 9728 §3.1: also at the well-known URL suffixed with the resource's path.
    assert httpx.get(f"{stack.platform.url}/.well-known/oauth-protected-resource/mcp").json() == document


async def test_an_expired_token_is_refused_with_401(stack: Stack) -> None:
    expired = stack.platform.mint_token(sub="someone@example.com", orgId=stack.org_id, expiresIn=-10)
    response = httpx.post(
        stack.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {expired}", "Accept": ACCEPT},
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    statuses: list[int] = []
    with pytest.raises(Exception):  # noqa: B017 -- the SDK client cannot connect: its first request got the 401
        async with stack.client("legacy", token=expired, statuses=statuses):
            pass
    assert statuses and set(statuses) == {401}


def test_a_foreign_origin_is_403_and_deployment_tokens_are_refused(stack: Stack) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    foreign = httpx.post(
        stack.mcp_url,
        json=body,
        headers={"Authorization": f"Bearer {stack.token}", "Accept": ACCEPT, "Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "origin_not_allowed"
    own = httpx.post(
        stack.mcp_url,
        json={**body, "params": {"_meta": ENVELOPE}},
        headers={
            "Authorization": f"Bearer {stack.token}",
            "Accept": ACCEPT,
            "Origin": stack.platform.url,
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/list",
        },
    )
    assert own.status_code == 200, own.text
    deployment_token = stack.platform.mint_token(
        sub="dep", orgId=stack.org_id, deploymentId=stack.deployment_id, expiresIn=60
    )
    refused = httpx.post(
        stack.mcp_url, json=body, headers={"Authorization": f"Bearer {deployment_token}", "Accept": ACCEPT}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "user_token_required"


def test_another_organization_sees_none_of_these_tools(stack: Stack) -> None:
    other = stack.platform.user_token("stranger@example.com", f"org-{uuid.uuid4().hex[:8]}")
    response = httpx.post(
        stack.mcp_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": ENVELOPE}},
        headers={
            "Authorization": f"Bearer {other}",
            "Accept": ACCEPT,
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/list",
        },
    )
    assert response.status_code == 200 and response.json()["result"]["tools"] == []


def test_raw_http_client_of_2026_07_28_without_initialize(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.token}", "Accept": ACCEPT, "MCP-Protocol-Version": MODERN}
    with httpx.Client(headers=headers, timeout=30) as http:
        listed = http.post(
            stack.mcp_url,
            headers={"Mcp-Method": "tools/list"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": ENVELOPE}},
        )
        assert listed.status_code == 200 and "mcp-session-id" not in listed.headers
        assert [tool["name"] for tool in listed.json()["result"]["tools"]] == ["echo", "fail"]
        called = http.post(
            stack.mcp_url,
            headers={"Mcp-Method": "tools/call", "Mcp-Name": "echo"},
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "raw"}, "_meta": ENVELOPE},
            },
        )
        result = called.json()["result"]
        assert result["structuredContent"] == {"text": "raw"} and result["isError"] is False
        assert result["resultType"] == "complete"
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "edge-connector-platform"
        # A request whose headers disagree with its body is the SDK's to refuse (the body read and replayed).
        mismatched = http.post(
            stack.mcp_url,
            headers={"Mcp-Method": "tools/call", "Mcp-Name": "fail"},
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "raw"}, "_meta": ENVELOPE},
            },
        )
        assert mismatched.status_code == 400 and mismatched.json()["id"] == 3
        assert "mcp-name header does not match" in mismatched.json()["error"]["message"]


def test_raw_http_client_of_2025_11_25_with_initialize_and_a_session(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.token}", "Accept": ACCEPT}
    with httpx.Client(headers=headers, timeout=30) as http:
        opened = http.post(
            stack.mcp_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            },
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["result"]["capabilities"]["tools"]["listChanged"] is True
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        assert (
            http.post(
                stack.mcp_url, headers=session, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
            ).status_code
            == 202
        )
        called = http.post(
            stack.mcp_url,
            headers=session,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fail", "arguments": {}}},
        )
        result = called.json()["result"]
        assert result["isError"] is True and json.loads(result["content"][0]["text"])["error"]["code"] == "bad_city"
        # A session belongs to whoever opened it: another identity gets the SDK's "not found".
        # A second member of the same org (SPEC §9: invited first).
        assert (
            http.post(
                f"{stack.platform.url}/api/org/invites",
                json={"email": "other@example.com"},
                headers={"Authorization": f"Bearer {stack.token}"},
            ).status_code
            == 201
        )
        other = stack.platform.user_token("other@example.com", stack.org_id)
        stolen = http.post(
            stack.mcp_url,
            headers={**session, "Authorization": f"Bearer {other}"},
            json={"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        )
        assert stolen.status_code == 404


# ------------------------------------------------------------------ edge-connector mcp (no DIR)
def _stdio(stack: Stack, token: str) -> StdioServerParameters:
    command = mcp_command("--platform", stack.platform.url)
    env = {**os.environ, "EDGE_CONNECTOR_TOKEN": token, "AUTH_TOKEN_PATH": str(stack.base / "no-token.json")}
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


async def test_stdio_server_of_the_orgs_tools_forwards_to_the_platform(stack: Stack) -> None:
    async with Client(_stdio(stack, stack.token), mode="legacy", read_timeout_seconds=60) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["echo", "fail"]
        assert (await client.call_tool("echo", {"text": "via"})).structured_content == {"text": "via"}
        assert _error_of(await client.call_tool("fail", {}))["code"] == "bad_city"
        assert _error_of(await client.call_tool("echo", {}))["kind"] == "invalid_arguments"
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("nope", {})
        assert unknown.value.error.code == -32602


def test_stdio_server_with_an_expired_token_says_so_and_exits_1(stack: Stack) -> None:
    expired = stack.platform.mint_token(sub="someone@example.com", orgId=stack.org_id, expiresIn=-10)
    params = _stdio(stack, expired)
    done = subprocess.run(
        [params.command, *params.args],
        env=params.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "Token has expired" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------- the MCP Inspector's CLI
@pytest.fixture(scope="module")
def mcp_inspector(tmp_path_factory):
    try:
        return inspector(tmp_path_factory.mktemp("inspector"))
    except InspectorUnavailable as exc:
        pytest.skip(str(exc))


def test_inspector_cli_lists_and_calls_through_the_platform(stack: Stack, mcp_inspector) -> None:
    target = [stack.mcp_url, "--transport", "http", "--header", f"Authorization: Bearer {stack.token}"]
    listed = mcp_inspector.json(*target, "--method", "tools/list")
    assert [tool["name"] for tool in listed["tools"]] == ["echo", "fail"]
    called = mcp_inspector.json(
        *target, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=inspected"
    )
    assert called["structuredContent"] == {"text": "inspected"} and called["isError"] is False
    refused = mcp_inspector.run(stack.mcp_url, "--transport", "http", "--method", "tools/list")
    # Without a token the Inspector reads the 401's challenge and asks for an (interactive) sign-in.
    assert refused.returncode != 0 and '"auth_required"' in refused.stderr


# ----------------------------------------------------- list_changed (last: it changes the org's tools)
@pytest.fixture
def bridge_log(tmp_path: Path):
    """The stderr of an `edge-connector mcp` bridge: its path and the open file the process writes."""
    path = tmp_path / "bridge.log"
    with open(path, "w") as errlog:
        yield path, errlog


async def test_swap_leave_and_join_reach_subscribed_clients_of_both_eras(stack: Stack, bridge_log) -> None:
    heard = anyio.Event()
    bridge_heard = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, ToolListChangedNotification):
            heard.set()

    async def on_bridge_message(message) -> None:
        if isinstance(message, ToolListChangedNotification):
            bridge_heard.set()

    async def names(client: Client) -> list[str]:
        return [tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools]

    runtime = None
    bridge_log_path, bridge_errlog = bridge_log
    async with (
        stack.client("legacy", message_handler=on_message) as legacy,
        stack.client(MODERN) as modern,
        # `edge-connector mcp` (no DIR): a stdio client of the org's tools, the platform behind it.
        Client(
            stdio_client(_stdio(stack, stack.token), errlog=bridge_errlog),
            mode="legacy",
            message_handler=on_bridge_message,
            read_timeout_seconds=60,
        ) as bridged,
    ):
        assert await names(legacy) == await names(bridged) == ["echo", "fail"]

        async def bridge_follows() -> bool:
            return "Following the platform's tool changes" in bridge_log_path.read_text()

        await async_wait_until(bridge_follows, timeout=60, message="the stdio bridge to listen upstream")
        async with modern.listen(tools_list_changed=True) as subscription:

            async def next_event() -> None:
                with anyio.fail_after(60):
                    async for _event in subscription:
                        return

            # A swap: a new version with one more tool, pushed to the connector, which reports it.
            archive, _ = make_archive(stack.base / "bundle-2", [ECHO_JS, FAIL_JS, SHOUT_JS], name="mcp-tools")
            stack.cli("upload", "--archive", str(archive), "--set-default")
            await next_event()
            with anyio.fail_after(60):
                await heard.wait()
            assert await names(legacy) == await names(modern) == ["echo", "fail", "shout"]
            assert (await modern.call_tool("shout", {"text": "new"})).structured_content == {"text": "NEW"}
            assert (await legacy.call_tool("shout", {"text": "old"})).structured_content == {"text": "OLD"}
            # The stdio bridge passed the platform's change on to its own client.
            with anyio.fail_after(60):
                await bridge_heard.wait()
            assert await names(bridged) == ["echo", "fail", "shout"]
            assert (await bridged.call_tool("shout", {"text": "via"})).structured_content == {"text": "VIA"}

            # A leave: the only connector stops; the org has no tools any more.
            heard = anyio.Event()
            stack.runtime.stop()
            await next_event()
            with anyio.fail_after(60):
                await heard.wait()
            assert await names(modern) == []

            # A join: a connector of the deployment comes back with the bundle.
            heard = anyio.Event()
            runtime = RuntimeProcess(
                stack.base / "install",
                env={
                    "TOOL_RPC_URL": stack.platform.ws_url,
                    "DEPLOYMENT_ID": stack.deployment_id,
                    "DEPLOYMENT_SECRET": stack.deployment_secret,
                },
            ).start()
            try:
                await next_event()
                with anyio.fail_after(60):
                    await heard.wait()
                assert await names(legacy) == ["echo", "fail", "shout"]
            finally:
                runtime.stop()
