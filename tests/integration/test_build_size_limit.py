"""The 50 MB archive limit with a real, incompressible inlined dependency."""

from __future__ import annotations

import base64
import json
import os
import random
import time
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.errors import BuildError
from edge_protocol.limits import MAX_ARCHIVE_BYTES
from tests.fixtures.projects.support import installed_npm_deps, make_project, tool_source


def fake_package(node_modules: Path, name: str, payload_bytes: int) -> None:
    """An npm package whose entry is one big string of random base64 (gzip can shrink it only to ~76 %)."""
    folder = node_modules / name
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", "main": "index.js"}))
    blob = base64.b64encode(random.Random(name).randbytes(payload_bytes)).decode()
    (folder / "index.js").write_text(f'module.exports = "{blob}";\n')


def test_over_50_mb_fails_with_size_limit_and_largest_inlined_packages(tmp_path):
    deps = installed_npm_deps()
    project = make_project(
        tmp_path / "p",
        files={
            "src/tools/big.ts": 'import blob from "huge-blob";\nimport small from "small-blob";\nimport slugify from "slugify";\n'
            + tool_source("big", extra="  blobLength: blob.length + small.length + slugify('a b').length,\n"),
            "src/tools/tiny.ts": tool_source("tiny"),
        },
    )
    node_modules = project / "node_modules"
    node_modules.mkdir()
    for linked in ("esbuild", "@esbuild", "slugify"):
        os.symlink(deps / linked, node_modules / linked)
    fake_package(node_modules, "huge-blob", 54_000_000)  # ~72 MB of base64: packs to more than 52,428,800 bytes
    fake_package(node_modules, "small-blob", 300_000)
    (project / ".edge/build").mkdir(parents=True)
    (project / ".edge/build/manifest.json").write_text("{}")  # a previous build output must survive

    started = time.monotonic()
    with pytest.raises(BuildError) as caught:
        build_project(project)
    elapsed = time.monotonic() - started

    lines = caught.value.message.splitlines()
    size = int(lines[0].split(" bytes")[0].removeprefix("bundle archive is ").replace(",", ""))
    assert size > MAX_ARCHIVE_BYTES
    assert lines[0] == f"bundle archive is {size:,} bytes, over the limit of 52,428,800 bytes (50 MB)"
    assert lines[1] == "largest inlined inputs (uncompressed bytes in the bundle):"
    ranked = [line.split()[0] for line in lines[2:]]
    assert ranked[:2] == ["huge-blob", "small-blob"]  # grouped by npm package, largest first
    assert "slugify" in ranked and "src/tools/big.ts" in ranked
    assert len(ranked) <= 10
    assert caught.value.hint == "Reduce inlined dependencies or split the tools across bundles"
    assert (project / ".edge/build/manifest.json").read_text() == "{}"
    assert [p.name for p in (project / ".edge").iterdir()] == ["build"]
    # ~10 s on an idle machine, three times that on a busy shared one: printed, not asserted (the suite's
    # per-test timeout catches a build that hangs).
    print(f"the over-limit build took {elapsed:.1f}s")


def test_limit_is_a_parameter_so_the_report_lists_at_most_ten_groups(tmp_path):
    deps = installed_npm_deps()
    files = {
        f"src/tools/t{i}.ts": f'import p from "pkg-{i}";\n' + tool_source(f"t{i}", extra="  n: p.length,\n")
        for i in range(12)
    }
    project = make_project(tmp_path / "p", files=files)
    (project / "node_modules").mkdir()
    for linked in ("esbuild", "@esbuild"):
        os.symlink(deps / linked, project / "node_modules" / linked)
    for i in range(12):
        fake_package(project / "node_modules", f"pkg-{i}", 1000 * (i + 1))
    with pytest.raises(BuildError) as caught:
        build_project(project, max_archive_bytes=10_000)
    lines = caught.value.message.splitlines()
    assert "over the limit of 10,000 bytes" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == [f"pkg-{i}" for i in range(11, 1, -1)]
