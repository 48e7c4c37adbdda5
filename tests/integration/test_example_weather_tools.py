"""The example project builds with the real bundler and its own tests pass with the bundled Node.js."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.node import node_env, npm_command

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather-tools"
EXPECTED_TOOLS = {"get_forecast", "sun_times", "feels_like"}


@pytest.fixture(scope="module")
def example_copy(tmp_path_factory) -> Path:
    """A copy of the example with its locked dependencies installed (`npm ci`), outside the source tree."""
    project = tmp_path_factory.mktemp("example") / "weather-tools"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", ".edge"))
    result = subprocess.run(
        [*npm_command(), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=project, env=node_env(), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return project


def test_example_builds_and_the_manifest_lists_its_three_tools(example_copy: Path, tmp_path: Path) -> None:
    result = build_project(example_copy, tmp_path / "build")

    tools = {tool.name: tool for tool in result.manifest.tools}
    assert set(tools) == EXPECTED_TOOLS
    assert result.manifest.bundle == "weather-tools"
    assert tools["get_forecast"].timeoutMs == 10_000
    assert tools["feels_like"].inputSchema["properties"]["unit"] == {
        "enum": ["C", "F"], "description": "Unit of temperature, dewPoint and the answer",
    }
    # The npm dependency is inlined: a runtime has no node_modules to require it from.
    sun_times = (result.out_dir / tools["sun_times"].entry).read_text()
    assert "getTimes" in sun_times
    assert 'require("suncalc")' not in sun_times
    assert result.archive_path.is_file() and result.archive_size < 100_000


def test_example_tests_pass_with_npm_test(example_copy: Path) -> None:
    result = subprocess.run(
        [*npm_command(), "test"], cwd=example_copy, env=node_env(), capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "# fail 0" in output or "ℹ fail 0" in output
    for suite in EXPECTED_TOOLS:
        assert suite in output
