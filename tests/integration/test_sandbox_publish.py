"""What a bundle asks for travels edge.json -> manifest -> platform, and `build`, `upload`, `bundle list` print it."""

from __future__ import annotations

import json
import uuid

import pytest

from edge_protocol.manifest import Manifest
from tests.fixtures.projects.support import make_project, tool_source
from tests.support.cli import Cli
from tests.support.platform import PlatformProcess

ASKS = {
    "env": ["MY_BASE"],
    "permissions": {"fsRead": ["/srv/data"], "childProcess": True},
    "secrets": {"required": ["WEATHER_API_KEY"]},
    "secretsInEnv": ["WEATHER_API_KEY"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("sandbox-publish") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_requests_are_built_into_the_manifest_uploaded_and_listed(tmp_path, server):
    cli = Cli(tmp_path, server.url)
    org_id = f"org-{uuid.uuid4().hex[:8]}"
    cli("auth", "--token", server.user_token(f"{org_id}@example.com", org_id))
    project = make_project(
        tmp_path / "p",
        files={
            "edge.json": json.dumps({"name": "asking-tools", **ASKS}),
            "src/tools/hello.ts": tool_source("hello"),
        },
    )

    built = cli("build", str(project)).stdout
    assert "Asks for  read /srv/data; child processes; host env MY_BASE; secrets WEATHER_API_KEY" in built
    manifest = Manifest.load(project / ".edge/build/manifest.json")
    assert manifest.sandbox.to_wire() == ASKS
    assert json.loads((project / ".edge/build/dist/sandbox.json").read_text()) == ASKS
    assert "dist/sandbox.json" in {f.path for f in manifest.files}  # covered by the checksum

    uploaded = cli("upload", str(project)).stdout
    assert "Uploaded asking-tools version 1" in uploaded and "Asks for  read /srv/data" in uploaded
    listed = cli.json("bundle", "list")
    assert listed["bundles"][0]["versions"][0]["sandbox"] == ASKS
    assert "child processes" in cli("bundle", "list").stdout

    # Changing only what the bundle asks for is a new version (the checksum covers it).
    (project / "edge.json").write_text(json.dumps({"name": "asking-tools"}))
    again = cli.json("upload", str(project))
    assert again["version"] == 2 and again["checksum"] != manifest.checksum
    assert "default sandbox" in cli("bundle", "list").stdout


def test_a_bad_request_fails_the_build_naming_the_key(tmp_path):
    cli = Cli(tmp_path, "http://127.0.0.1:9")
    project = make_project(
        tmp_path / "p",
        files={
            "edge.json": json.dumps({"name": "t", "env": ["DEPLOYMENT_SECRET"]}),
            "src/tools/hello.ts": tool_source("hello"),
        },
    )
    failed = cli("build", str(project), ok=False)
    assert failed.returncode == 1 and "may not pass DEPLOYMENT_SECRET" in failed.stderr
    assert "Traceback" not in failed.stderr
