"""The dev loop's kept Node.js indexer (`bundler/index_server.py`): same results as a fresh one, shared
chunks loaded once, and a tool that ends or breaks the process costs only that build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.errors import BuildError
from bundler.index_server import IndexServer
from tests.fixtures.projects.support import installed_npm_deps, make_project, tool_source

#: Imported by both tools, so esbuild puts it in a shared chunk; it counts how often it is evaluated.
SHARED = "(globalThis as any).sharedLoads = ((globalThis as any).sharedLoads ?? 0) + 1;\nexport const tag = 'v1';\n"


def _tool(name: str, note: str = "") -> str:
    return (
        'import { tag } from "../lib/shared";\n'
        "export default {\n"
        f'  name: "{name}",\n'
        f"  description: `{name}{note} ${{tag}} loads=${{(globalThis as any).sharedLoads}}`,\n"
        '  inputSchema: { type: "object" },\n'
        "  async run() { return { tag }; },\n"
        "};\n"
    )


@pytest.fixture
def indexer() -> Iterator[IndexServer]:
    server = IndexServer()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path) -> Path:
    return make_project(
        tmp_path / "p",
        node_modules=installed_npm_deps(),
        files={"src/lib/shared.ts": SHARED, "src/tools/a.ts": _tool("a"), "src/tools/b.ts": _tool("b")},
    )


def _descriptions(project: Path, indexer: IndexServer | None) -> dict[str, str]:
    manifest = build_project(project, indexer=indexer).manifest
    return {tool.name: tool.description for tool in manifest.tools}


def test_a_kept_indexer_reads_what_a_fresh_one_reads_and_loads_unchanged_chunks_once(project, indexer):
    assert _descriptions(project, indexer) == _descriptions(project, None) == {"a": "a v1 loads=1", "b": "b v1 loads=1"}
    process = indexer._process
    assert process is not None and process.poll() is None

    # A save of one tool: its new code is read; the shared chunk (same bytes) is not evaluated again.
    (project / "src/tools/a.ts").write_text(_tool("a", note=" edited"))
    assert _descriptions(project, indexer) == {"a": "a edited v1 loads=1", "b": "b v1 loads=1"}
    # A save of the shared code: new bytes, a new chunk, evaluated once more.
    (project / "src/lib/shared.ts").write_text(SHARED.replace("'v1'", "'v2'"))
    assert _descriptions(project, indexer) == {"a": "a edited v2 loads=2", "b": "b v2 loads=2"}
    assert indexer._process is process  # one Node.js for all of it


def test_a_tool_ending_the_process_fails_that_build_only(tmp_path, indexer):
    project = make_project(
        tmp_path / "p",
        node_modules=installed_npm_deps(),
        files={
            "src/tools/a.ts": tool_source("a"),
            "src/tools/quitter.ts": "process.exit(3);\n" + tool_source("quitter"),
        },
    )
    with pytest.raises(BuildError) as caught:
        build_project(project, indexer=indexer)
    assert caught.value.message == "src/tools/quitter.ts: ends the Node.js process while being loaded (exit code 3)"
    assert "process.exit()" in caught.value.hint

    (project / "src/tools/quitter.ts").write_text(tool_source("quitter"))  # fixed: the next build starts afresh
    assert sorted(t.name for t in build_project(project, indexer=indexer).manifest.tools) == ["a", "quitter"]


def test_a_tool_printing_on_stdout_cannot_end_the_build(tmp_path, indexer):
    noisy = 'console.log(\'{"done": "x"}\'); process.stdout.write("garbage");\nsetInterval(() => {}, 1000);\n'
    project = make_project(
        tmp_path / "p", node_modules=installed_npm_deps(), files={"src/tools/noisy.ts": noisy + tool_source("noisy")}
    )
    for _ in range(2):
        assert [t.name for t in build_project(project, indexer=indexer).manifest.tools] == ["noisy"]
