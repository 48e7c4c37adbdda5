"""The publishing CLI (`auth --token`, `upload`, `bundle`, `deployment`) against a real platform, as a user runs it."""

from __future__ import annotations

import json
import os
import stat
import uuid

import httpx
import pytest

from edge_protocol.limits import MAX_ARCHIVE_BYTES
from tests.fixtures.projects.support import make_project, tool_source
from tests.support.bundles import echo_tool, make_archive
from tests.support.cli import Cli
from tests.support.platform import PlatformProcess
from tests.support.waiting import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("publish-cli") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def cli(tmp_path, server):
    return Cli(tmp_path, server.url)


def _login(cli: Cli, server: PlatformProcess) -> tuple[str, str]:
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    token = server.user_token(f"{org_id}@example.com", org_id)
    cli("auth", "--token", token)
    return org_id, token


def test_auth_token_saves_a_private_file_and_status_reads_it(cli, server):
    org_id, token = _login(cli, server)
    assert stat.S_IMODE(cli.token_path.stat().st_mode) == 0o600
    saved = json.loads(cli.token_path.read_text())
    assert saved["token"] == token and saved["platformUrl"] == server.url and saved["savedAt"]
    status = cli.json("auth", "status")
    assert status["orgId"] == org_id and status["sub"] == f"{org_id}@example.com"
    assert status["source"] == str(cli.token_path) and status["expired"] is False
    text = cli("auth", "status").stdout
    assert org_id in text and token not in text
    cli("auth", "logout")
    assert not cli.token_path.exists()
    missing = cli("auth", "status", ok=False)
    assert missing.returncode == 1 and "No authentication token found" in missing.stderr


def test_publish_flow_upload_list_set_default_assign(cli, server, tmp_path):
    _login(cli, server)
    archive, manifest = make_archive(tmp_path / "b1", [echo_tool(tag="v1")])
    archive2, manifest2 = make_archive(tmp_path / "b2", [echo_tool(tag="v2")])

    created = cli.json("deployment", "create", "edge-east")
    dep_id, secret = created["deploymentId"], created["secret"]
    assert dep_id.startswith("dep-") and secret
    listed = cli("deployment", "list", "--json").stdout
    assert dep_id in listed and secret not in listed
    text = cli("deployment", "create", "edge-west").stdout
    assert "DEPLOYMENT_ID=dep-" in text and "DEPLOYMENT_SECRET=" in text
    scaled = cli.json("deployment", "create", "edge-pool", "--replicas", "3")
    assert scaled["replicas"] == 3 and created["replicas"] == 1
    updated = cli("deployment", "update", scaled["deploymentId"], "--replicas", "5").stdout
    assert f"Deployment {scaled['deploymentId']} (edge-pool) now takes up to 5 connectors at once." in updated
    table = cli("deployment", "list").stdout
    assert "Replicas" in table
    # The pool's row: ID, Name, then its Replicas cell.
    (row,) = [line for line in table.splitlines() if scaled["deploymentId"] in line]
    assert [cell.strip() for cell in row.split("│")[1:4]] == [scaled["deploymentId"], "edge-pool", "5"], row
    by_id = {d["deploymentId"]: d for d in cli.json("deployment", "list")["deployments"]}
    assert by_id[scaled["deploymentId"]]["replicas"] == 5 and by_id[dep_id]["replicas"] == 1
    for bad in ("0", "101"):
        refused = cli("deployment", "update", dep_id, "--replicas", bad, ok=False)
        assert refused.returncode == 2 and "--replicas" in refused.stderr
    assert cli("deployment", "create", "x", "--replicas", "0", ok=False).returncode == 2

    first = cli.json("upload", "--archive", str(archive), "--set-default")
    assert (first["name"], first["version"], first["checksum"]) == ("test-tools", 1, manifest.checksum)
    assert first["uploaded"] is True and first["default"] is True
    again = cli("upload", "--archive", str(archive))
    assert "Unchanged, not sent again: test-tools version 1" in again.stdout
    second = cli("upload", "--archive", str(archive2), "--deployment", dep_id)
    assert "Uploaded test-tools version 2" in second.stdout and manifest2.checksum in second.stdout
    assert f"Deployment {dep_id} now runs test-tools@2" in second.stdout

    bundles = cli.json("bundle", "list")
    assert [v["version"] for v in bundles["bundles"][0]["versions"]] == [1, 2]
    assert bundles["default"] == {"name": "test-tools", "version": 1, "resolvedVersion": 1}
    assert bundles["assignments"][0]["deploymentId"] == dep_id and bundles["assignments"][0]["version"] == 2
    table = cli("bundle", "list").stdout
    assert "test-tools" in table and "Org default: test-tools@1" in table and "edge-east" in table

    cli("bundle", "set-default", "test-tools")
    assert cli.json("bundle", "list")["default"] == {"name": "test-tools", "version": None, "resolvedVersion": 2}
    cli("bundle", "assign", dep_id, "test-tools@1")
    deployments = {d["deploymentId"]: d for d in cli.json("deployment", "list")["deployments"]}
    assert deployments[dep_id]["resolvedBundle"]["version"] == 1
    unassigned = cli("bundle", "unassign", dep_id)
    assert "follows the org default again: test-tools@2" in unassigned.stdout

    missing = cli("bundle", "assign", dep_id, "nope@3", ok=False)
    assert missing.returncode == 1 and "Bundle 'nope@3' not found" in missing.stderr
    bad_ref = cli("bundle", "set-default", "test-tools@x", ok=False)
    assert bad_ref.returncode == 2

    rotated = cli.json("deployment", "rotate-secret", dep_id)
    assert rotated["secret"] != secret
    refused = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": dep_id, "client_secret": secret},
    )
    assert refused.status_code == 401
    foreign = cli("deployment", "rotate-secret", "dep-000000000000", ok=False)
    assert foreign.returncode == 1 and "not found" in foreign.stderr


def test_upload_builds_a_stale_project_and_skips_an_unchanged_one(cli, server, tmp_path):
    _login(cli, server)
    project = make_project(tmp_path / "proj", files={"src/tools/hello.ts": tool_source("hello")}, name="proj-tools")
    first = cli("upload", str(project), "--json")
    assert "building" in first.stderr
    result = json.loads(first.stdout)
    assert (result["name"], result["version"], result["uploaded"]) == ("proj-tools", 1, True)
    assert [t["name"] for t in result["tools"]] == ["hello"]

    unchanged = cli("upload", str(project), "--json")
    assert "building" not in unchanged.stderr
    assert json.loads(unchanged.stdout)["uploaded"] is False

    source = project / "src/tools/hello.ts"
    source.write_text(tool_source("hello", extra="  timeoutMs: 1234,\n"))
    os.utime(source, (source.stat().st_mtime + 5, source.stat().st_mtime + 5))
    rebuilt = cli("upload", str(project), "--json")
    assert "building" in rebuilt.stderr
    assert json.loads(rebuilt.stdout)["version"] == 2
    assert json.loads(rebuilt.stdout)["tools"][0]["timeoutMs"] == 1234


def test_upload_refuses_an_archive_over_50_mb_before_sending(cli, server, tmp_path):
    _login(cli, server)
    big = tmp_path / "big.tar.gz"
    with open(big, "wb") as handle:
        handle.truncate(MAX_ARCHIVE_BYTES + 1)  # sparse: the size check must come before reading
    result = cli("upload", "--archive", str(big), ok=False)
    assert result.returncode == 1
    assert "52,428,801 bytes, over the limit of 52,428,800 bytes (50 MB)" in result.stderr
    assert cli.json("bundle", "list")["bundles"] == []


def test_errors_speak_the_troubleshooting_page(cli, server):
    reauth = "edge-connector auth --browser or edge-connector auth --token <new-token>"

    none = cli("bundle", "list", ok=False)
    assert none.returncode == 1
    assert "No authentication token found" in none.stderr and str(cli.token_path) in none.stderr
    assert "edge-connector auth --token" in none.stderr and "Traceback" not in none.stderr

    expired = server.mint_token(sub="u@example.com", orgId="org-x", expiresIn=-30)
    refused = cli("auth", "--token", expired, ok=False)
    assert refused.returncode == 1 and "Token has expired" in refused.stderr and reauth in refused.stderr
    assert not cli.token_path.exists()
    # An expired token that is already in use (here from the environment): the platform's refusal.
    via_env = cli("bundle", "list", env={"EDGE_CONNECTOR_TOKEN": expired}, ok=False)
    assert via_env.returncode == 1 and "Token has expired" in via_env.stderr and reauth in via_env.stderr
    assert expired not in via_env.stderr

    orgless = server.mint_token(sub="u@example.com", expiresIn=600)
    no_org = cli("auth", "--token", orgless, ok=False)
    assert no_org.returncode == 1 and "No organization in token" in no_org.stderr and "orgId" in no_org.stderr
    no_org_env = cli("deployment", "list", env={"EDGE_CONNECTOR_TOKEN": orgless}, ok=False)
    assert "No organization in token" in no_org_env.stderr

    garbage = cli("auth", "--token", "hello", ok=False)
    assert garbage.returncode == 1 and "not a JWT" in garbage.stderr

    down = f"http://127.0.0.1:{free_port()}"
    valid = server.user_token("down@example.com", "org-down")
    unreachable = cli("bundle", "list", env={"EDGE_CONNECTOR_TOKEN": valid, "EDGE_PLATFORM_URL": down}, ok=False)
    assert unreachable.returncode == 1
    assert "Connection refused" in unreachable.stderr and down in unreachable.stderr
    assert "Is the platform running?" in unreachable.stderr


def test_environment_token_overrides_the_file(cli, server):
    _login(cli, server)
    other_org = f"org-{uuid.uuid4().hex[:8]}"
    other = server.user_token(f"{other_org}@example.com", other_org)
    status = cli.json("auth", "status", env={"EDGE_CONNECTOR_TOKEN": other})
    assert status["orgId"] == other_org and status["source"] == "EDGE_CONNECTOR_TOKEN"
    created = cli.json("deployment", "create", "ci-made", env={"EDGE_CONNECTOR_TOKEN": other})
    assert created["deploymentId"] not in cli("deployment", "list", "--json").stdout


def test_platform_url_flag_beats_the_environment(cli, server):
    _login(cli, server)
    wrong = f"http://127.0.0.1:{free_port()}"
    result = cli("deployment", "list", "--json", "--platform", server.url, env={"EDGE_PLATFORM_URL": wrong})
    assert json.loads(result.stdout)["deployments"] == []
