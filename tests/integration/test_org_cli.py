"""SPEC.md §9 through the real CLI: `auth --token -`, `org invite|members`, and the origin rule."""

from __future__ import annotations

import json
import subprocess

from tests.support.cli import EDGE_CONNECTOR, Cli


def _auth_from_stdin(cli: Cli, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGE_CONNECTOR, "auth", "--token", "-"],
        input=token + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=cli.env,
        cwd=cli.home,
    )


def test_invite_then_join_through_the_cli(platform, tmp_path):
    owner = Cli(tmp_path / "owner", platform.url)
    owner.home.mkdir()
    signed = _auth_from_stdin(owner, platform.user_token("owner@example.com", "org-cli"))
    assert signed.returncode == 0, signed.stderr
    assert "Logged in as owner@example.com (organization org-cli)" in signed.stdout
    assert json.loads(owner.token_path.read_text())["platformUrl"] == platform.url

    invited = owner("org", "invite", "Friend@Example.com")
    assert "Invited friend@example.com to organization org-cli as member" in invited.stdout
    members = json.loads(owner("org", "members", "--json").stdout)
    assert members == {
        "members": [{"email": "owner@example.com", "role": "owner"}],
        "invites": [{"email": "friend@example.com", "role": "member"}],
    }

    friend = Cli(tmp_path / "friend", platform.url)
    friend.home.mkdir()
    assert _auth_from_stdin(friend, platform.user_token("friend@example.com", "org-cli")).returncode == 0
    refused = friend("org", "invite", "third@example.com", ok=False)
    assert refused.returncode == 1 and "owner_required" in refused.stderr
    listed = friend("org", "members").stdout
    assert "owner@example.com" in listed and "friend@example.com" in listed


def test_a_cloned_project_cannot_collect_the_saved_token(platform, tmp_path):
    cli = Cli(tmp_path / "home", platform.url)
    cli.home.mkdir()
    assert _auth_from_stdin(cli, platform.user_token("victim@example.com", "org-victim")).returncode == 0
    project = tmp_path / "cloned"
    project.mkdir()
    (project / "edge.json").write_text(json.dumps({"name": "x", "platformUrl": "http://evil.example:18765"}))
    env = {k: v for k, v in cli.env.items() if k != "EDGE_PLATFORM_URL"}
    result = subprocess.run(
        [EDGE_CONNECTOR, "bundle", "list"], capture_output=True, text=True, timeout=120, env=env, cwd=project
    )
    assert result.returncode == 1
    origin = platform.url + ("" if platform.url.count(":") == 2 else ":80")
    assert (
        f"The saved token belongs to {origin}, not http://evil.example:18765; run edge-connector auth "
        "--platform http://evil.example:18765 or pass --platform"
    ) in " ".join(result.stderr.split())
    assert "eyJ" not in result.stderr + result.stdout
