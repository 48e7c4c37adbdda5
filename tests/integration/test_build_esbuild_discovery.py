"""Finding esbuild: ESBUILD_BINARY_PATH, the project's node_modules, else a first-use install into the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.errors import BuildError
from bundler.esbuild import PINNED_ESBUILD_VERSION, EsbuildNotFound, find_esbuild, platform_package
from tests.fixtures.projects.support import installed_npm_deps, make_project, tool_source

FIND = (
    "import json; from bundler.esbuild import find_esbuild; e = find_esbuild(); "
    "print(json.dumps([e.path, e.source, e.version]))"
)


def without_esbuild_override(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ESBUILD_BINARY_PATH"}
    env["EDGE_CONNECTOR_CACHE_DIR"] = str(cache)
    return env


def test_first_use_installs_the_pinned_esbuild_once_even_when_processes_race(tmp_path):
    cache = tmp_path / "cache"
    env = without_esbuild_override(cache)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", FIND],
            cwd=tmp_path,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=300) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    found = [json.loads(stdout) for stdout, _ in outputs]
    expected_path = cache / f"esbuild-{PINNED_ESBUILD_VERSION}/node_modules" / platform_package() / "bin/esbuild"
    assert found == [[str(expected_path), "cache", PINNED_ESBUILD_VERSION]] * 2
    announcements = [
        line for _, stderr in outputs for line in stderr.splitlines() if line.startswith("Installing esbuild")
    ]
    assert announcements == [
        f"Installing esbuild {PINNED_ESBUILD_VERSION} into {cache / 'esbuild-0.28.2'} (first use; later builds reuse it)"
    ]
    assert not [p.name for p in cache.iterdir() if "staging" in p.name]

    later = subprocess.run([sys.executable, "-c", FIND], cwd=tmp_path, env=env, text=True, capture_output=True)
    assert json.loads(later.stdout)[0] == str(expected_path)
    assert later.stderr == ""  # installed already: nothing to announce


def test_esbuild_binary_path_overrides_everything(tmp_path, monkeypatch):
    binary = installed_npm_deps() / platform_package() / "bin/esbuild"
    monkeypatch.setenv("ESBUILD_BINARY_PATH", str(binary))
    found = find_esbuild(tmp_path)
    assert (found.path, found.source, found.version) == (str(binary), "ESBUILD_BINARY_PATH", "0.28.2")

    monkeypatch.setenv("ESBUILD_BINARY_PATH", str(tmp_path / "no-such-esbuild"))
    with pytest.raises(EsbuildNotFound, match="ESBUILD_BINARY_PATH is set to .*no-such-esbuild.*which is not a file"):
        find_esbuild(tmp_path)
    project = make_project(tmp_path / "p", files={"src/tools/t.ts": tool_source("t")})
    with pytest.raises(BuildError, match="ESBUILD_BINARY_PATH is set to"):
        build_project(project)


def test_the_projects_own_esbuild_is_found_also_when_hoisted_to_a_parent(tmp_path, monkeypatch):
    monkeypatch.delenv("ESBUILD_BINARY_PATH", raising=False)
    monkeypatch.setenv("EDGE_CONNECTOR_CACHE_DIR", str(tmp_path / "must-stay-empty"))
    workspace = make_project(tmp_path / "workspace", node_modules=installed_npm_deps())
    member = workspace / "packages/tools"
    member.mkdir(parents=True)
    found = find_esbuild(member)
    assert found.source == "project"
    assert Path(found.path) == workspace / "node_modules" / platform_package() / "bin/esbuild"
    assert not (tmp_path / "must-stay-empty").exists()


def test_a_project_esbuild_shim_without_the_platform_package_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("ESBUILD_BINARY_PATH", raising=False)
    monkeypatch.setenv("EDGE_CONNECTOR_CACHE_DIR", str(tmp_path / "must-stay-empty"))
    real = installed_npm_deps() / platform_package() / "bin/esbuild"
    shim = tmp_path / "p/node_modules/.bin/esbuild"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    found = find_esbuild(tmp_path / "p")
    assert (found.path, found.source, found.version) == (str(shim), "project", "0.28.2")
