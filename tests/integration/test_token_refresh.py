"""SPEC.md §16: a runtime on deployment credentials refreshes its token on the open link.

The platform runs with `--deployment-token-ttl 5`, so a token lives about 5 s and the link outlives
several of them while a caller keeps calling. 15 s of load covers three full token lifetimes (and about
six in-band refreshes, one every ~2.5 s): every expiry the old design turned into a 4001 close and a
failed call is crossed three times, which is what the test is about; 30 s would only repeat it on a
machine the test shares with others.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.bundles import echo_tool, write_bundle
from tests.support.platform import PlatformProcess
from tests.support.runtime import RuntimeProcess

TOKEN_TTL_SECONDS = 5
LOAD_SECONDS = 15.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = PlatformProcess(
        tmp_path_factory.mktemp("refresh") / "data", extra_args=["--deployment-token-ttl", str(TOKEN_TTL_SECONDS)]
    ).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_a_deployment_token_is_refreshed_in_band_under_load_without_a_failed_call_or_a_reconnect(platform, tmp_path):
    unique = uuid.uuid4().hex[:12]
    user = platform.user_token(email=f"{unique}@example.com", org_id=f"org-{unique}")
    with httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {user}"}, timeout=30) as api:
        created = api.post("/api/deployments", json={"name": "refreshing"})
        created.raise_for_status()
        deployment, secret = created.json()["deploymentId"], created.json()["secret"]
        granted = httpx.post(
            f"{platform.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": deployment, "client_secret": secret},
        )
        assert granted.json()["expires_in"] == TOKEN_TTL_SECONDS  # the flag reaches /oauth/token

        directory = tmp_path / "inst"
        write_bundle(directory, [echo_tool()], version=1)
        rt = RuntimeProcess(
            directory, env={"TOOL_RPC_URL": platform.ws_url, "DEPLOYMENT_ID": deployment, "DEPLOYMENT_SECRET": secret}
        ).start()
        try:
            connector_id = rt.wait_healthy()["connectorId"]
            calls, failures = 0, []
            deadline = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < deadline:
                response = api.post(
                    "/api/tools/echo/call", json={"arguments": {"n": calls}, "deploymentId": deployment}
                )
                calls += 1
                if response.status_code != 200 or response.json()["output"] != {"n": calls - 1}:
                    failures.append((response.status_code, response.text[:200]))
            assert failures == [], f"{len(failures)} of {calls} calls failed: {failures[:3]}"
            assert calls >= LOAD_SECONDS  # a steady load: at least one call a second, in practice hundreds

            status = rt.status()
            assert (status["connectorId"], status["connects"], status["disconnects"]) == (connector_id, 1, 0)
            log = rt.text
            assert log.count("Refreshed the deployment token on the open link") >= LOAD_SECONDS // TOKEN_TTL_SECONDS
            assert "Disconnected from platform server" not in log
            assert secret not in log
            assert [c["connectorId"] for c in api.get("/api/connectors").json()["connectors"]] == [connector_id]
        finally:
            rt.stop()
