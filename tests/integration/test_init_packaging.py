"""The templates and the Node.js indexer really ship inside the wheel (not only in the source tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ["edge_protocol", "bundler", "edge_runtime", "mock_platform", "edge_cli", "edge_connector", "templates"]


@pytest.mark.slow
def test_wheel_ships_templates_and_indexer_and_init_works_from_it(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in PACKAGES:
        if (REPO / package).is_dir():
            shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path / "wheel")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "wheel").glob("edge_connector-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("ts", "js"):
        ext = template
        for path in (
            "gitignore",
            "package.json",
            "edge.json",
            f"src/lib/tool.{ext}",
            f"src/tools/make_slug.{ext}",
            f"test/make_slug.test.{ext}",
            "tests/test_tools.py",
        ):
            assert f"templates/{template}/{path}" in names, path
    assert "templates/ts/tsconfig.json" in names
    assert "bundler/indexer.cjs" in names
    # The pytest plugin ships too, registered for pytest to find on its own.
    assert {
        "edge_connector/__init__.py",
        "edge_connector/testing/__init__.py",
        "edge_connector/testing/stack.py",
    } <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "[pytest11]\nedge_connector = edge_connector.testing\n" in zipfile.ZipFile(wheel).read(entry_points).decode()

    # Scaffold from the unpacked wheel alone (no source tree on the path).
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # -S: no site-packages, so neither the editable install nor the source tree can stand in for the wheel.
    script = (
        "import sys, templates; from bundler.scaffold import scaffold_project; "
        "print(templates.__file__); print(len(scaffold_project(sys.argv[1], 'ts', 'from-wheel')))"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", script, str(tmp_path / "project")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(unpacked / "templates/__init__.py"), "8"]
    assert (tmp_path / "project/.gitignore").is_file()
