"""`edge-connector secret put|list|delete|bulk` and the required-secret warnings, as a user runs them."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.fixtures.projects.support import make_project, tool_source
from tests.support.cli import Cli
from tests.support.platform import PlatformProcess

VALUE = "sk-cli-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("secret-cli") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def cli(tmp_path, server):
    cli = Cli(tmp_path, server.url)
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    cli("auth", "--token", server.user_token(f"{org_id}@example.com", org_id))
    return cli


def test_put_from_stdin_list_delete_never_print_the_value(cli):
    put = cli("secret", "put", "API_KEY", input=VALUE + "\n")
    assert "Secret API_KEY set for the organization" in put.stdout and VALUE not in put.stdout + put.stderr
    dep = cli.json("deployment", "create", "edge-1")["deploymentId"]
    cli("secret", "put", "API_KEY", "--deployment", dep, input=VALUE + "-dep")
    listed = cli.json("secret", "list")
    assert [(s["name"], s["scope"]) for s in listed["secrets"]] == [("API_KEY", "org")]
    table = cli("secret", "list", "--deployment", dep).stdout
    assert "API_KEY" in table and "deployment" in table and VALUE not in table
    cli("secret", "delete", "API_KEY", "--deployment", dep)
    again = cli("secret", "delete", "API_KEY", "--deployment", dep, ok=False)
    assert again.returncode == 1 and "not found" in again.stderr and "Traceback" not in again.stderr


def test_empty_value_and_bad_name_are_clear_errors(cli):
    empty = cli("secret", "put", "API_KEY", input="", ok=False)
    assert empty.returncode == 2 and "empty" in empty.stderr
    bad = cli("secret", "put", "api-key", input="x", ok=False)
    assert bad.returncode == 1 and "not valid" in bad.stderr and "Traceback" not in bad.stderr


def test_bulk_reads_a_dotenv_file(cli, tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text(f'# keys\nAPI_KEY="{VALUE}"\nexport REGION=eu-west\nMULTI="a b"\n')
    done = cli("secret", "bulk", str(env_file))
    assert "Set 3 secrets for the organization: API_KEY, REGION, MULTI" in done.stdout and VALUE not in done.stdout
    assert {s["name"] for s in cli.json("secret", "list")["secrets"]} == {"API_KEY", "REGION", "MULTI"}
    env_file.write_text("bad-name=1\n")
    refused = cli("secret", "bulk", str(env_file), ok=False)
    assert refused.returncode == 1 and "'bad-name' is not a valid secret name" in refused.stderr


def test_assigning_a_bundle_warns_about_each_missing_required_secret(cli, tmp_path):
    project = make_project(
        tmp_path / "p",
        files={
            "edge.json": json.dumps({"name": "needs-keys", "secrets": {"required": ["API_KEY", "REGION"]}}),
            "src/tools/hello.ts": tool_source("hello"),
        },
    )
    dep = cli.json("deployment", "create", "edge-1")["deploymentId"]
    uploaded = cli("upload", str(project), "--set-default")
    for name in ("API_KEY", "REGION"):
        assert f"requires secret {name}, which is not set" in uploaded.stderr
        assert f"edge-connector secret put {name}" in uploaded.stderr
    cli("secret", "put", "API_KEY", input="k-123456")
    default = cli("bundle", "set-default", "needs-keys")
    assert "REGION" in default.stderr and "API_KEY" not in default.stderr
    cli("secret", "put", "REGION", "--deployment", dep, input="eu")
    assigned = cli("bundle", "assign", dep, "needs-keys")
    assert "Warning" not in assigned.stderr
    assert cli.json("bundle", "set-default", "needs-keys")["missingSecrets"] == ["REGION"]
