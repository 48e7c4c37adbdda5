"""The dev loop's kept esbuild context (`bundler/incremental.py`): the same bytes and the same errors as
the command-line esbuild, one Node.js process for every save, and the command line when it cannot run."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.errors import BuildError
from bundler.esbuild import Esbuild, find_esbuild
from bundler.incremental import IncrementalEsbuild, javascript_api
from tests.fixtures.projects.support import installed_npm_deps, make_project, tool_source


@pytest.fixture
def incremental() -> Iterator[IncrementalEsbuild]:
    kept = IncrementalEsbuild()
    yield kept
    kept.close()


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(
        tmp_path / "p",
        node_modules=installed_npm_deps(),
        files={
            "src/lib/text.ts": 'import slugify from "slugify";\nexport const slug = (s: string) => slugify(s);\n',
            "src/tools/a.ts": 'import { slug } from "../lib/text";\n'
            + tool_source("a", extra="  note: slug('A b'),\n"),
            "src/tools/b.ts": 'import { slug } from "../lib/text";\n'
            + tool_source("b", extra="  note: slug('C d'),\n"),
        },
    )


def _same_build(project: Path, incremental: IncrementalEsbuild, out: Path) -> None:
    kept = build_project(project, out / "kept", incremental=incremental)
    fresh = build_project(project, out / "fresh")
    assert kept.checksum == fresh.checksum and kept.manifest.files == fresh.manifest.files
    kept_meta, fresh_meta = (json.loads((r.out_dir / "metafile.json").read_text()) for r in (kept, fresh))
    assert sorted(kept_meta["inputs"]) == sorted(fresh_meta["inputs"])
    assert len(kept_meta["outputs"]) == len(fresh_meta["outputs"])


def test_a_kept_context_builds_the_same_bytes_as_the_command_line_save_after_save(project, incremental, tmp_path):
    _same_build(project, incremental, tmp_path / "one")
    process = incremental._process
    assert process is not None and process.poll() is None
    (project / "src/tools/a.ts").write_text(
        'import { slug } from "../lib/text";\n' + tool_source("a", extra="  note: slug('E f'),\n")
    )
    _same_build(project, incremental, tmp_path / "two")
    assert incremental._process is process  # the same context rebuilt


def test_errors_read_as_the_command_line_gives_them_and_the_context_survives(project, incremental):
    good = (project / "src/tools/a.ts").read_text()
    (project / "src/tools/a.ts").write_text(good.replace("export default {", "export default {{"))
    errors = []
    for kwargs in ({"incremental": incremental}, {}):
        with pytest.raises(BuildError) as caught:
            build_project(project, **kwargs)
        errors.append((caught.value.message, caught.value.hint))
    assert errors[0] == errors[1] and errors[0][0].startswith("src/tools/a.ts:")

    (project / "src/tools/a.ts").write_text(good)
    assert [t.name for t in build_project(project, incremental=incremental).manifest.tools] == ["a", "b"]


def test_without_the_javascript_api_of_its_version_the_command_line_builds(project, incremental, tmp_path, monkeypatch):
    found = find_esbuild(project)
    assert javascript_api(found) is not None
    lone = tmp_path / "bin" / "esbuild"  # a binary with no npm package of its version beside it
    lone.parent.mkdir()
    shutil.copy2(found.path, lone)
    assert javascript_api(Esbuild(str(lone), "0.0.0-nowhere", "ESBUILD_BINARY_PATH")) is None

    monkeypatch.setattr("bundler.incremental.javascript_api", lambda esbuild: None)
    built = build_project(project, tmp_path / "out", incremental=incremental)
    assert incremental._process is None  # no context was started: the command line built it
    assert built.checksum == build_project(project, tmp_path / "again").checksum
