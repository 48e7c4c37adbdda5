"""Files holding secrets (autostart's env file, dev's token file): 0600, random O_EXCL temporary names,
never written through a link planted by someone else (issue 12, hole 12)."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from edge_runtime.envfile import read_env_file, write_env_file
from edge_runtime.private_files import write_private_file

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="symlinks and modes are POSIX here")


def test_a_link_at_the_old_predictable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    env_file = tmp_path / "install" / "edge-runtime.env"
    env_file.parent.mkdir()
    # The name the writer used to pick (pid-based) and the dev loop's fixed `.tmp` name.
    for name in (f".{env_file.name}.{os.getpid()}.tmp", "auth-token.tmp"):
        (env_file.parent / name).symlink_to(victim)
    write_env_file(env_file, {"DEPLOYMENT_SECRET": "ecs_secret"})
    write_private_file(env_file.parent / "auth-token.json", '{"token": "t"}')
    assert victim.read_text() == "precious"
    assert read_env_file(env_file) == {"DEPLOYMENT_SECRET": "ecs_secret"}
    for written in (env_file, env_file.parent / "auth-token.json"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    leftovers = sorted(p.name for p in env_file.parent.iterdir())
    assert leftovers == sorted(
        [f".{env_file.name}.{os.getpid()}.tmp", "auth-token.tmp", "auth-token.json", "edge-runtime.env"]
    )


def test_a_link_at_the_final_name_is_replaced_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "auth-token.json"
    target.symlink_to(victim)
    write_private_file(target, "secret")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text() == "secret"
