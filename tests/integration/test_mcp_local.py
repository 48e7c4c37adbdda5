"""`edge-connector mcp DIR` driven by the official MCP SDK client over stdio, in both protocol eras.

Real esbuild, real Node.js workers, the real SDK client: list, call, a tool error, invalid
arguments, an unknown tool, and a save that adds a tool, announced by `list_changed` and callable.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent, ToolListChangedNotification

from tests.support.inspector import InspectorUnavailable, inspector
from tests.support.mcp_tools import ECHO_OUTPUT, add_shout, mcp_command, write_project
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.timeout(180)


def _server(project: Path) -> StdioServerParameters:
    command = mcp_command(str(project))
    env = {k: v for k, v in os.environ.items() if k != "EDGE_CONNECTOR_TOKEN"}
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


def _error_of(result) -> dict:
    assert result.is_error, result
    return json.loads(result.content[0].text)["error"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "tools")


async def _check_tools(client: Client) -> None:
    listed = await client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert list(tools) == ["echo", "fail"]
    assert tools["echo"].output_schema == ECHO_OUTPUT
    assert tools["echo"].input_schema["required"] == ["text"]
    assert tools["fail"].output_schema is None
    assert tools["echo"].description == "Echo the text back"

    result = await client.call_tool("echo", {"text": "hello"})
    assert not result.is_error
    assert result.structured_content == {"text": "hello"}
    assert isinstance(result.content[0], TextContent)
    assert json.loads(result.content[0].text) == {"text": "hello"}

    assert _error_of(await client.call_tool("fail", {})) == {
        "code": "bad_city",
        "kind": "tool_error",
        "message": "city is empty",
    }

    invalid = _error_of(await client.call_tool("echo", {"text": 5}))
    assert invalid["kind"] == "invalid_arguments"
    assert "text" in invalid["message"] and invalid["details"][0]["path"] == "/text"

    with pytest.raises(MCPError) as unknown:
        await client.call_tool("nope", {})
    assert unknown.value.error.code == -32602
    assert "Unknown tool: nope" in unknown.value.error.message


async def test_legacy_client_lists_calls_and_hears_about_a_new_tool(project: Path) -> None:
    changed = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    async with Client(_server(project), mode="legacy", message_handler=on_message, read_timeout_seconds=60) as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_capabilities.tools is not None and client.server_capabilities.tools.list_changed
        await _check_tools(client)

        add_shout(project)
        with anyio.fail_after(60):
            await changed.wait()
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == ["echo", "fail", "shout"]
        shouted = await client.call_tool("shout", {"text": "quiet"})
        assert shouted.structured_content == {"text": "QUIET"}


async def test_2026_client_without_initialize_listens_for_changes(project: Path) -> None:
    async with Client(_server(project), mode="2026-07-28", read_timeout_seconds=60) as client:
        assert client.protocol_version == "2026-07-28"
        await _check_tools(client)
        async with client.listen(tools_list_changed=True) as subscription:
            add_shout(project)
            with anyio.fail_after(60):
                async for _event in subscription:
                    break
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == ["echo", "fail", "shout"]
        assert (await client.call_tool("shout", {"text": "a"})).structured_content == {"text": "A"}


async def test_a_broken_save_keeps_the_last_good_tools(project: Path, tmp_path: Path) -> None:
    changed = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    log_path = tmp_path / "mcp.log"
    with open(log_path, "w") as errlog:
        transport = stdio_client(_server(project), errlog=errlog)
        async with Client(transport, mode="legacy", message_handler=on_message, read_timeout_seconds=60) as client:
            (project / "src" / "tools" / "broken.js").write_text("export default {{{ not javascript")

            async def refused() -> bool:
                return "Build failed" in log_path.read_text()

            await async_wait_until(refused, timeout=60, message="the broken save to be built and refused")
            assert (await client.call_tool("echo", {"text": "still"})).structured_content == {"text": "still"}
            assert not changed.is_set()

            (project / "src" / "tools" / "broken.js").unlink()
            add_shout(project)
            with anyio.fail_after(60):
                await changed.wait()
            assert [t.name for t in (await client.list_tools()).tools] == ["echo", "fail", "shout"]
    log = log_path.read_text()
    assert "echoing still" in log  # the tool's console output went to stderr, not into the MCP stream


SECRET_TOOL = """export default {
  name: "show_key", description: "The dev key it sees", inputSchema: { type: "object" },
  async run(_input, ctx) { return { key: ctx.secrets.DEV_KEY ?? null }; },
};
"""


async def test_dev_vars_feed_ctx_secrets_and_an_edit_reaches_the_tools(project: Path) -> None:
    (project / "src" / "tools" / "show_key.js").write_text(SECRET_TOOL)
    (project / ".dev.vars").write_text("DEV_KEY=first\n")
    async with Client(_server(project), mode="legacy", read_timeout_seconds=60) as client:
        assert (await client.call_tool("show_key", {})).structured_content == {"key": "first"}
        (project / ".dev.vars").write_text("DEV_KEY=second\n")

        async def sees_the_edit() -> bool:
            return (await client.call_tool("show_key", {})).structured_content == {"key": "second"}

        await async_wait_until(sees_the_edit, timeout=60, message="the edited .dev.vars to reach the tool")


# ------------------------------------------------------------------------- the MCP Inspector's CLI
@pytest.fixture(scope="module")
def mcp_inspector(tmp_path_factory):
    try:
        return inspector(tmp_path_factory.mktemp("inspector"))
    except InspectorUnavailable as exc:
        pytest.skip(str(exc))


def test_inspector_cli_lists_and_calls_local_tools(project: Path, mcp_inspector) -> None:
    target = [*mcp_command(str(project), "--no-watch")]
    listed = mcp_inspector.json(*target, "--method", "tools/list")
    assert [tool["name"] for tool in listed["tools"]] == ["echo", "fail"]
    assert listed["tools"][0]["outputSchema"] == ECHO_OUTPUT
    called = mcp_inspector.json(
        *target, "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "text=inspected"
    )
    assert called["structuredContent"] == {"text": "inspected"} and called["isError"] is False
    # The Inspector exits non-zero on an isError result, after printing it.
    failed = mcp_inspector.run(*target, "--method", "tools/call", "--tool-name", "fail")
    assert failed.returncode != 0 and "tool_is_error" in failed.stderr
    result = json.loads(failed.stdout)
    assert result["isError"] is True and json.loads(result["content"][0]["text"])["error"]["code"] == "bad_city"


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("case", ["missing folder", "broken tool"])
def test_bad_project_is_one_line_on_stderr_exit_1_and_nothing_on_stdout(tmp_path: Path, case: str) -> None:
    if case == "missing folder":
        target, expected = tmp_path / "nowhere", "is not a folder"
    else:
        target = write_project(tmp_path / "tools")
        (target / "src" / "tools" / "echo.js").write_text("export default {{{ not javascript")
        expected = "The first build failed"
    done = subprocess.run(
        mcp_command(str(target)), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stdout == ""
    assert expected in done.stderr and "Traceback" not in done.stderr
