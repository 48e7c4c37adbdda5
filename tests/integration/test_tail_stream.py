"""`WS /api/tail` and `edge-connector tail` against a real platform: refusals, the per-org limit,
drops of the stream (sim, platform restart) that the CLI reports and recovers from by itself."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.support.cli import Cli
from tests.support.platform import PlatformProcess
from tests.support.tail import TailProcess
from tests.support.waiting import free_port


def tail_url(platform: PlatformProcess, query: str = "") -> str:
    return platform.url.replace("http://", "ws://") + "/api/tail" + query


async def refusal(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    with pytest.raises(InvalidStatus) as caught:
        async with ws_connect(url, additional_headers=headers or {}, open_timeout=10):
            pass
    response = caught.value.response
    return response.status_code, json.loads(response.body)


def test_refusals_happen_before_the_upgrade_with_the_error_body(platform):
    org = f"org-{uuid.uuid4().hex[:8]}"
    user = platform.user_token(f"{org}@example.com", org)
    deployment = httpx.post(
        f"{platform.url}/api/deployments", json={"name": "d"}, headers={"Authorization": f"Bearer {user}"}, timeout=10
    ).json()["deploymentId"]
    deployment_token = platform.mint_token(sub="dep", orgId=org, deploymentId=deployment, expiresIn=600)

    async def scenario() -> None:
        status, body = await refusal(tail_url(platform))
        assert (status, body["error"]["code"]) == (401, "unauthenticated")
        status, body = await refusal(tail_url(platform), {"Authorization": "Bearer nonsense"})
        assert (status, body["error"]["code"]) == (401, "token_invalid")
        status, body = await refusal(tail_url(platform), {"Authorization": f"Bearer {deployment_token}"})
        assert (status, body["error"]["code"]) == (403, "user_token_required")
        status, body = await refusal(tail_url(platform, "?status=maybe"), {"Authorization": f"Bearer {user}"})
        assert (status, body["error"]["code"]) == (400, "invalid_request") and "ok or error" in body["error"]["message"]

    asyncio.run(scenario())


def test_at_most_ten_streams_per_organization_then_429(platform):
    org = f"org-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {platform.user_token(f'{org}@example.com', org)}"}
    other = {"Authorization": f"Bearer {platform.user_token('other@example.com', f'{org}-other')}"}

    async def scenario() -> None:
        open_streams = [await ws_connect(tail_url(platform), additional_headers=headers) for _ in range(10)]
        try:
            status, body = await refusal(tail_url(platform), headers)
            assert (status, body["error"]["code"]) == (429, "too_many_tails")
            assert "At most 10 live tails" in body["error"]["message"]
            async with ws_connect(tail_url(platform), additional_headers=other):
                pass  # another organization has its own ten
            await open_streams.pop().close()

            async def admitted() -> bool:
                try:
                    async with ws_connect(tail_url(platform), additional_headers=headers):
                        return True
                except InvalidStatus:
                    return False

            for _ in range(200):  # the platform notices the close asynchronously: poll with a deadline
                if await admitted():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("a closed stream did not free its slot")
        finally:
            for ws in open_streams:
                await ws.close()

    asyncio.run(scenario())


def test_a_browser_offers_its_token_as_a_subprotocol(platform):
    org = f"org-{uuid.uuid4().hex[:8]}"
    token = platform.user_token(f"{org}@example.com", org)

    async def scenario() -> None:
        async with ws_connect(
            tail_url(platform), subprotocols=[Subprotocol("edge-tail"), Subprotocol(f"bearer.{token}")]
        ) as ws:
            assert ws.subprotocol == "edge-tail"

    asyncio.run(scenario())


def test_tail_reports_a_dropped_stream_and_resumes_by_itself(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    platform = PlatformProcess(data, extra_args=["--port", str(port)]).start()
    tail = None
    try:
        org = f"org-{uuid.uuid4().hex[:8]}"
        cli = Cli(tmp_path, platform.url)
        cli("auth", "--token", platform.user_token(f"{org}@example.com", org))
        tail = TailProcess(cli, ["--json"]).start()
        # The platform side of the stream goes away (fault injection).
        assert "Closed 1 tail stream(s)" in cli("sim", "disconnect", "--tails").stdout
        tail.wait_stderr("Tail stream dropped")
        tail.wait_stderr("Tail stream back")
        # The platform restarts (same port, same data): the drop is reported, and the tail comes back.
        platform.stop()
        tail.wait_stderr("Tail stream dropped", count=2)
        platform = PlatformProcess(data, extra_args=["--port", str(port)]).start()
        tail.wait_stderr("Tail stream back", count=2, timeout=30)
        assert tail.stdout == []  # status lines never mix with the events on stdout
        assert tail.interrupt() == 0  # Ctrl-C exits 0
    finally:
        if tail is not None:
            tail.stop()
        platform.stop()


def test_tail_stops_with_the_reason_when_the_token_is_refused(tmp_path, platform):
    cli = Cli(tmp_path, platform.url)
    expired = platform.mint_token(sub="dev@example.com", orgId="org-x", expiresIn=-10)
    result = cli("tail", "--json", env={"EDGE_CONNECTOR_TOKEN": expired}, ok=None)
    assert result.returncode == 1 and "Token has expired" in result.stderr and "Traceback" not in result.stderr
    assert "edge-connector auth" in result.stderr and result.stdout == ""
