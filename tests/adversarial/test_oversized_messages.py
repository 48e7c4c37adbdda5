"""One oversized message fails one call, never the link (issue 12, hole 7).

A real platform and a real runtime: a tool returns a result that does not fit in one frame (by its
bytes, or only once the JSON-RPC wrapper is counted), another throws an error with a megabyte of text
and details, and an agent sends arguments that grow past the frame when encoded again. Each of those
calls fails on its own (`tool_error` code `result_too_large`, capped error text, 413
`arguments_too_large`), a slow call that was in flight meanwhile answers, and a normal call on the
same link, with the same connector id, succeeds afterwards.
"""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from edge_protocol.calls import RESULT_TOO_LARGE, TRUNCATED
from edge_protocol.limits import MAX_CALL_BODY_BYTES, MAX_ERROR_MESSAGE_CHARS, MAX_FRAME_BYTES
from tests.support.bundles import JsTool, echo_tool, make_archive
from tests.support.platform import wait_platform_serves
from tests.support.runtime import RuntimeProcess, write_token_file
from tests.support.waiting import wait_until

TOOLS = [
    echo_tool(),
    JsTool("big", "return input.char.repeat(input.n);"),
    JsTool("slow", "await new Promise((r) => setTimeout(r, 1500)); return { done: true };"),
    JsTool(
        "loud_error",
        "throw new ToolError('boom', 'm'.repeat(1000000), { blob: 'd'.repeat(1000000) });",
    ),
]


@pytest.fixture
def stack(platform, tmp_path):
    token = platform.user_token("frames@example.com", "org-frames")
    api = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    archive, manifest = make_archive(tmp_path / "bundle", TOOLS, name="frame-tools")
    upload = api.post(
        "/api/bundles/frame-tools/versions",
        content=archive.read_bytes(),
        headers={"X-Bundle-Checksum": manifest.checksum},
    )
    assert upload.status_code == 201, upload.text
    deployment = api.post("/api/deployments", json={"name": "frames"}).json()["deploymentId"]
    assert api.put(f"/api/deployments/{deployment}/bundle", json={"name": "frame-tools"}).status_code == 200
    install = tmp_path / "install"
    write_token_file(install, token, platform.url)
    rt = RuntimeProcess(install, env={"TOOL_RPC_URL": platform.ws_url, "DEPLOYMENT_ID": deployment}).start()
    try:
        rt.wait_healthy()
        wait_platform_serves(api, deployment, "frame-tools")
        yield api, deployment, rt
    finally:
        rt.stop()
        api.close()


def _connector_ids(api: httpx.Client) -> list[str]:
    return [c["connectorId"] for c in api.get("/api/connectors").json()["connectors"]]


def test_an_oversized_answer_fails_only_its_call_and_the_link_survives(stack):
    api, deployment, rt = stack

    def call(tool: str, arguments: dict) -> httpx.Response:
        return api.post(f"/api/tools/{tool}/call", json={"arguments": arguments, "deploymentId": deployment})

    assert call("echo", {"n": 0}).status_code == 200
    before = _connector_ids(api)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(call, "slow", {})  # in flight on the same link through everything below
        wait_until(lambda: rt.status()["executor"]["inFlight"] >= 1, 10, message="the slow call in flight")

        # Bytes, not characters: 9 M "é" are 18 MB (the host's check).
        by_bytes = call("big", {"char": "é", "n": 9_000_000})
        # Fits alone (the host lets it through), not once the JSON-RPC wrapper is counted (the runtime's check).
        by_wrapper = call("big", {"char": "x", "n": MAX_FRAME_BYTES - 10})
        for reply in (by_bytes, by_wrapper):
            assert reply.status_code == 502, reply.text[:300]
            error = reply.json()["error"]
            assert (error["code"], error["toolCode"]) == ("tool_error", RESULT_TOO_LARGE), error
            assert error["details"]["limit"] == MAX_FRAME_BYTES and error["details"]["bytes"] > MAX_FRAME_BYTES

        loud = call("loud_error", {})
        assert loud.status_code == 502 and len(loud.content) < 20_000, len(loud.content)
        error = loud.json()["error"]
        assert error["toolCode"] == "boom" and error["message"].endswith(TRUNCATED)
        assert len(error["message"]) <= MAX_ERROR_MESSAGE_CHARS + len(TRUNCATED)
        assert error["details"]["truncated"] is True

        # Arguments under the body limit that grow past the frame when encoded again (1e9 → 1000000000.0).
        count = MAX_CALL_BODY_BYTES // 8
        body = b'{"deploymentId":"' + deployment.encode() + b'","arguments":{"n":[' + b",".join([b"1e9"] * count)
        body += b"]}}"
        grown = api.post("/api/tools/echo/call", content=body, headers={"Content-Type": "application/json"})
        assert grown.status_code == 413 and grown.json()["error"]["code"] == "arguments_too_large", grown.text[:300]

        assert slow.result(timeout=60).json().get("output") == {"done": True}
    assert call("echo", {"n": 1}).json()["output"] == {"n": 1}
    assert _connector_ids(api) == before, "the link was dropped and replaced"
    assert "Disconnected from platform server" not in rt.text
    assert "Traceback" not in rt.text
