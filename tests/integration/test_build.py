"""`build_project` with the real esbuild, real npm packages and real Node.js."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bundler.build import BuildResult, build_project, is_stale
from bundler.errors import BuildError
from edge_protocol.archive import read_archive
from edge_protocol.manifest import Manifest
from tests.fixtures.projects.support import installed_npm_deps, make_project, run_node, tool_source


@pytest.fixture(scope="session")
def npm_deps() -> Path:
    return installed_npm_deps()


@pytest.fixture
def good_project(tmp_path, npm_deps) -> Path:
    return make_project(tmp_path / "good", "good", node_modules=npm_deps)


def build_error(project: Path) -> BuildError:
    with pytest.raises(BuildError) as caught:
        build_project(project)
    return caught.value


# ------------------------------------------------------------------------------------ good builds
def test_builds_every_tool_with_its_metadata_read_in_node(good_project):
    result = build_project(good_project)

    manifest = Manifest.load(good_project / ".edge/build/manifest.json")
    assert manifest.bundle == "good-tools"  # edge.json's name wins over package.json's
    assert manifest.version is None
    assert manifest.builder["esbuild"] == "0.28.2" and manifest.builder["edgeConnector"]
    by_name = {t.name: t for t in manifest.tools}
    assert sorted(by_name) == ["echo", "make-slug", "parse_duration"]  # not the .test.ts, .d.ts or .md
    assert by_name["make-slug"].timeoutMs == 2500
    assert by_name["make-slug"].outputSchema == {
        "type": "object",
        "properties": {"slug": {"type": "string"}},
        "required": ["slug"],
    }
    assert by_name["echo"].inputSchema["required"] == ["text"]
    assert by_name["echo"].timeoutMs == 30_000 and by_name["echo"].outputSchema is None
    assert {t.entry for t in manifest.tools} == {"dist/echo.js", "dist/make-slug.js", "dist/duration.js"}
    # Code the tools share sits in chunks beside the entries, listed and checksummed like them.
    chunks = [f.path for f in manifest.files if f.path.startswith("dist/chunk-")]
    assert chunks and all(re.fullmatch(r"dist/chunk-[A-Z0-9]+\.js", path) for path in chunks)
    assert sorted(f.path for f in manifest.files if f.path not in chunks) == [
        "dist/duration.js",
        "dist/echo.js",
        "dist/make-slug.js",
        "dist/package.json",
    ]
    manifest.verify_checksum()
    assert result.checksum == manifest.checksum
    assert result.archive_path == good_project / ".edge/build/good-tools.tar.gz"
    assert result.archive_size == result.archive_path.stat().st_size
    assert [(t.name, t.source) for t in result.tools] == [
        ("parse_duration", "src/tools/duration.js"),
        ("echo", "src/tools/echo.ts"),
        ("make-slug", "src/tools/make-slug.ts"),
    ]
    for tool in result.tools:
        assert tool.size == (result.out_dir / tool.entry).stat().st_size > 0


def test_built_files_run_without_node_modules_because_dependencies_are_inlined(good_project, tmp_path):
    build_project(good_project)
    elsewhere = tmp_path / "installed"
    shutil.copytree(good_project / ".edge/build/dist", elsewhere / "dist")
    script = """
      const run = async () => {
        const load = async (name) => (await import(require("node:url").pathToFileURL(process.argv[1] + name).href)).default;
        const slug = await load("/make-slug.js");
        const dur = await load("/duration.js");
        const echo = await load("/echo.js");
        const out = [await slug.run({text: "Hello, Edge World"}), await dur.run({text: "2h"}),
                     await echo.run({text: "hi", loud: true})];
        try { await slug.run({text: "!!"}); } catch (e) { out.push([e.name, e.code]); }
        console.log(JSON.stringify(out));
      };
      run();
    """
    done = run_node(script, str(elsewhere / "dist"), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"slug": "hello-edge-world"},
        {"ms": 7_200_000},
        {"text": "HI!"},
        ["ToolError", "empty_slug"],
    ]


def test_checksum_is_what_sha256sum_gives_for_the_dist_files(good_project):
    result = build_project(good_project)
    paths = sorted(f.path for f in result.manifest.files)
    listing = subprocess.run(["sha256sum", *paths], cwd=result.out_dir, capture_output=True, check=True).stdout
    whole = subprocess.run(["sha256sum"], input=listing, capture_output=True, check=True).stdout.split()[0]
    assert result.checksum == "sha256:" + whole.decode()


def test_same_sources_twice_give_the_same_checksum_and_identical_archive_bytes(good_project, tmp_path):
    first = build_project(good_project)
    first_bytes = first.archive_path.read_bytes()
    second = build_project(good_project, tmp_path / "elsewhere")
    assert second.checksum == first.checksum
    assert second.archive_path.read_bytes() == first_bytes
    # and a rebuild into the same place replaces the output with identical content
    third = build_project(good_project)
    assert third.archive_path.read_bytes() == first_bytes


def test_archive_is_readable_by_the_protocol_reader(good_project, tmp_path):
    result = build_project(good_project)
    manifest = read_archive(result.archive_path, tmp_path / "unpacked", expected_checksum=result.checksum)
    assert manifest.to_dict() == result.manifest.to_dict()
    assert (tmp_path / "unpacked/dist/echo.js").read_bytes() == (result.out_dir / "dist/echo.js").read_bytes()


def test_external_packages_stay_imports_or_requires_and_target_lowers_syntax(tmp_path, npm_deps):
    # c.cjs is CommonJS bundled into an ES module: its require() of Node's built-ins and of an external
    # package must work there too (the build's createRequire banner), in the indexer as in a worker.
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "edge.json": json.dumps({"name": "ext", "external": ["ms"], "target": "node12"}),
            "src/tools/t.ts": 'import ms from "ms";\n' + tool_source("t", extra="  timeoutMs: ms('1s') ?? 5,\n"),
            "src/tools/c.cjs": (
                'const ms = require("ms"); const os = require("os");\n'
                "module.exports = { name: 'c', description: os.EOL === '\\n' ? 'unix' : 'other',"
                " inputSchema: { type: 'object' }, timeoutMs: ms('2s'), async run() { return {}; } };\n"
            ),
        },
    )
    result = build_project(project)
    built = (result.out_dir / "dist/t.js").read_text()
    assert 'from "ms"' in built
    assert "??" not in built  # node12 has no nullish coalescing: esbuild lowered it
    assert 'require("ms")' in (result.out_dir / "dist/c.js").read_text()
    by_name = {tool.name: tool for tool in result.manifest.tools}
    assert by_name["t"].timeoutMs == 1000
    assert by_name["c"].timeoutMs == 2000 and by_name["c"].description == "unix"


def test_build_output_folder_option_and_json_shape(good_project, tmp_path):
    result = build_project(good_project, tmp_path / "out")
    data = result.to_json()
    assert data["archive"] == str(tmp_path / "out/good-tools.tar.gz")
    assert data["checksum"] == result.checksum and data["bundle"] == "good-tools"
    assert {t["name"] for t in data["tools"]} == {"echo", "make-slug", "parse_duration"}
    assert not (good_project / ".edge").exists()


def test_build_refuses_to_replace_a_folder_that_is_not_a_build_output(good_project, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    error = build_error_with(good_project, precious)
    assert "not a build output" in error.message
    assert (precious / "thesis.txt").read_text() == "do not delete"


def build_error_with(project: Path, out: Path) -> BuildError:
    with pytest.raises(BuildError) as caught:
        build_project(project, out)
    return caught.value


def test_a_failed_build_keeps_the_last_good_output(good_project):
    good = build_project(good_project)
    manifest_before = (good.out_dir / "manifest.json").read_bytes()
    archive_before = good.archive_path.read_bytes()
    (good_project / "src/tools/echo.ts").write_text("export default {\n  name: 'echo',\n  oops oops\n};\n")
    build_error(good_project)
    assert (good.out_dir / "manifest.json").read_bytes() == manifest_before
    assert good.archive_path.read_bytes() == archive_before
    leftovers = [p.name for p in good.out_dir.parent.iterdir() if p.name not in ("build", ".build.lock")]
    assert leftovers == []  # no staging folder left behind


def test_two_builds_finishing_at_once_leave_one_complete_output(good_project):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: build_project(good_project), range(2)))
    assert results[0].checksum == results[1].checksum
    out = good_project / ".edge/build"
    read_archive(out / "good-tools.tar.gz", good_project / "check", expected_checksum=results[0].checksum)
    Manifest.load(out / "manifest.json").verify_checksum()
    assert sorted(p.name for p in out.parent.iterdir()) == [".build.lock", "build"]


# ------------------------------------------------------------------------------------ staleness
def test_is_stale_follows_sources_config_and_the_tools_folder(tmp_path, npm_deps):
    good_project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "edge.json": '{"name": "stale-check"}',
            "src/lib/text.ts": "export const greeting = 'hi';\n",
            "src/tools/echo.ts": 'import { greeting } from "../lib/text";\n'
            + tool_source("echo", extra="  timeoutMs: greeting.length,\n"),
        },
    )
    long_ago = time.time() - 10_000_000
    for path in [good_project, *good_project.rglob("*")]:
        if not path.is_symlink():
            os.utime(path, (long_ago, long_ago))
    assert is_stale(good_project)  # never built
    build_project(good_project)
    assert not is_stale(good_project)
    manifest = good_project / ".edge/build/manifest.json"

    past = iter(range(int(time.time()) - 1000, int(time.time()), 10))

    def changed_after_build(relative: str) -> None:
        """As if `relative` was saved a second after the build: age the build, not the source (no future
        mtimes); each call's build is later than the files earlier calls touched."""
        built_at = next(past)
        os.utime(manifest, (built_at, built_at))
        os.utime(good_project / relative, (built_at + 1, built_at + 1))

    for relative in ("src/lib/text.ts", "src/tools/echo.ts", "edge.json", "package.json"):
        changed_after_build(relative)
        assert is_stale(good_project), relative
        build_project(good_project)
        assert not is_stale(good_project), relative

    (good_project / "README.md").write_text("not an input")
    changed_after_build("README.md")
    assert not is_stale(good_project)

    (good_project / "src/tools/new_tool.ts").write_text(tool_source("new_tool"))
    changed_after_build("src/tools")  # adding a file changes the folder's mtime
    assert is_stale(good_project)


def test_is_stale_when_an_input_was_deleted(good_project):
    build_project(good_project)
    (good_project / "src/lib/text.ts").unlink()
    assert is_stale(good_project)


# ------------------------------------------------------------------------------------ bad input
def test_syntax_error_is_reported_as_file_line_column_and_esbuild_message(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/ok.ts": tool_source("ok"),
            "src/tools/broken.ts": 'export default {\n  name: "broken",\n  description: "x" 5,\n};\n',
        },
    )
    error = build_error(project)
    assert error.message == 'src/tools/broken.ts:3:20: Expected "}" but found "5"'
    assert "fix the code" in error.hint.lower()


def test_every_syntax_error_gets_its_own_line(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/a.ts": "export default {\n  name: 'a'\n  ;\n",
            "src/tools/b.js": "const x = ;\n",
        },
    )
    lines = build_error(project).message.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("src/tools/a.ts:3:3: ")
    assert lines[1] == 'src/tools/b.js:1:11: Unexpected ";"'


def test_unresolved_import_names_the_package_and_suggests_npm_install(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/t.ts": 'import pad from "left-pad-not-installed/lib/x";\nconsole.log(pad);\n' + tool_source("t"),
        },
    )
    error = build_error(project)
    assert error.message.startswith('src/tools/t.ts:1:17: Could not resolve "left-pad-not-installed/lib/x"')
    assert "package 'left-pad-not-installed' is not installed" in error.message
    assert error.hint.startswith("Run `npm install left-pad-not-installed` in ")


def test_unresolved_relative_import_is_reported_without_an_npm_hint(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/t.ts": 'import { x } from "../lib/missing";\nconsole.log(x);\n' + tool_source("t"),
        },
    )
    error = build_error(project)
    assert error.message == 'src/tools/t.ts:1:19: Could not resolve "../lib/missing"'
    assert "npm install" not in error.hint


def test_native_addon_is_refused_with_an_explanation(tmp_path, npm_deps):
    project = make_project(tmp_path / "p", "native-addon")
    (project / "node_modules").mkdir()
    shutil.copytree(project / "vendor/fake-native", project / "node_modules/fake-native")
    os.symlink(npm_deps / "esbuild", project / "node_modules/esbuild")
    os.symlink(npm_deps / "@esbuild", project / "node_modules/@esbuild")
    error = build_error(project)
    assert "node_modules/fake-native/index.js:2:" in error.message
    assert "native addon node_modules/fake-native/lib/fake_native.node cannot be bundled" in error.message
    assert "native addons cannot be shipped" in error.hint
    assert "pure-JavaScript or WebAssembly alternative" in error.hint


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "export const tool = { name: 'x' };\n",
            "src/tools/t.ts: has no default export; end it with `export default defineTool({...})`",
        ),
        ("export default 42;\n", "src/tools/t.ts: default export is number 42, not a tool definition object"),
        ("export default [1];\n", "src/tools/t.ts: default export is an array, not a tool definition object"),
        (
            tool_source("t").replace("  async run(input: unknown) { return { input }; },\n", "  run: 'soon',\n"),
            'src/tools/t.ts: "run" must be a function (got string); write `async run(input, ctx) { ... }`',
        ),
        (
            tool_source("t").replace('  inputSchema: { type: "object" },\n', ""),
            'src/tools/t.ts: tool definition needs an "inputSchema" (a JSON Schema object)',
        ),
        (
            tool_source("t").replace('description: "the t tool"', "description: 7"),
            'src/tools/t.ts: tool definition needs a "description" string (got 7)',
        ),
        (
            tool_source("1st-tool"),
            "src/tools/t.ts: tool name '1st-tool' is not allowed; it must match ^[a-zA-Z][a-zA-Z0-9_-]{0,63}$",
        ),
        (
            tool_source("t").replace('name: "t",', ""),
            'src/tools/t.ts: tool definition needs a "name" string (got nothing)',
        ),
        (
            tool_source("t", extra="  timeoutMs: -5,\n"),
            'src/tools/t.ts: "timeoutMs" must be a positive whole number of milliseconds (got -5)',
        ),
    ],
    ids=[
        "no-default",
        "number",
        "array",
        "run-not-function",
        "no-input-schema",
        "description",
        "bad-name",
        "no-name",
        "bad-timeout",
    ],
)
def test_invalid_definitions_are_refused_naming_the_source(tmp_path, npm_deps, source, expected):
    project = make_project(tmp_path / "p", node_modules=npm_deps, files={"src/tools/t.ts": source})
    assert build_error(project).message == expected


def test_input_schema_that_is_not_valid_json_schema(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/t.ts": tool_source("t", schema='{ type: "object", properties: { a: { type: "strnig" } } }'),
            "src/tools/u.ts": tool_source("u", extra='  outputSchema: { type: "object", required: "all" },\n'),
        },
    )
    lines = build_error(project).message.splitlines()
    assert lines[0].startswith(
        'src/tools/t.ts: "inputSchema" is not a valid JSON Schema (draft 2020-12) at properties/a/type: '
    )
    assert "'strnig' is not valid under any of the given schemas" in lines[0]
    assert lines[1].startswith(
        'src/tools/u.ts: "outputSchema" is not a valid JSON Schema (draft 2020-12) at required: '
    )


def test_two_tools_with_one_name(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/a.ts": tool_source("same"),
            "src/tools/b.ts": tool_source("same"),
            "src/tools/c.ts": tool_source("other"),
        },
    )
    error = build_error(project)
    assert error.message == "tool name 'same' is defined by more than one file: src/tools/a.ts, src/tools/b.ts"
    assert "unique" in error.hint


def test_tool_that_throws_while_being_loaded(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/boom.ts": 'const config = JSON.parse("{not json");\n' + tool_source("boom"),
            "src/tools/fine.ts": tool_source("fine"),
        },
    )
    error = build_error(project)
    assert error.message.startswith("src/tools/boom.ts: throws while being loaded: SyntaxError:")
    assert "\n" not in error.message  # only the bad tool is reported


def test_a_tool_that_ends_the_process_while_being_loaded_is_named(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/a.ts": tool_source("a"),
            "src/tools/quitter.ts": "process.exit(3);\n" + tool_source("quitter"),
        },
    )
    error = build_error(project)
    assert error.message == "src/tools/quitter.ts: ends the Node.js process while being loaded (exit code 3)"
    assert "process.exit()" in error.hint


def test_a_tool_printing_and_leaving_timers_at_load_time_does_not_break_indexing(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/noisy.ts": 'console.log("[]"); process.stdout.write("garbage");\nsetInterval(() => {}, 1000);\n'
            + tool_source("noisy"),
        },
    )
    assert [t.name for t in build_project(project).manifest.tools] == ["noisy"]


def test_no_tools_at_all(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p",
        node_modules=npm_deps,
        files={
            "src/tools/helper.test.ts": "export {};\n",
            "src/tools/README.md": "nothing",
        },
    )
    error = build_error(project)
    assert error.message == f"no tools found in {project.resolve() / 'src/tools'}"
    assert "one file per tool" in error.hint


def test_missing_tools_folder(tmp_path):
    project = make_project(tmp_path / "p")
    error = build_error(project)
    assert error.message == f"the tools folder {project.resolve() / 'src/tools'} does not exist"


def test_missing_edge_json_and_package_json(tmp_path):
    project = make_project(tmp_path / "p", name=None, files={"src/tools/t.ts": tool_source("t")})
    error = build_error(project)
    assert "has neither edge.json nor package.json" in error.message
    assert "edge-connector init" in error.hint


def test_missing_package_json_with_edge_json(tmp_path):
    project = make_project(tmp_path / "p", name=None, files={"edge.json": '{"name": "x"}', "src/tools/t.ts": ""})
    error = build_error(project)
    assert error.message == f"{project.resolve() / 'package.json'} is missing"
    assert "npm init -y" in error.hint


@pytest.mark.parametrize("broken", ["edge.json", "package.json"])
def test_malformed_json_names_the_file_and_the_place(tmp_path, broken):
    project = make_project(tmp_path / "p", files={"edge.json": '{"name": "x"}', "src/tools/t.ts": ""})
    (project / broken).write_text('{\n  "name": "x",\n}\n')
    error = build_error(project)
    assert (
        error.message
        == f"{project.resolve() / broken} is not valid JSON (line 3, column 1: Expecting property name enclosed in double quotes)"
    )
    assert error.hint == f"Fix the JSON syntax in {broken}"


def test_no_name_anywhere(tmp_path):
    project = make_project(tmp_path / "p", name=None, files={"package.json": "{}", "edge.json": "{}"})
    error = build_error(project)
    assert "no bundle name" in error.message
    assert '"name": "my-tools"' in error.hint


def test_invalid_bundle_name_and_settings_in_edge_json(tmp_path):
    project = make_project(tmp_path / "p", files={"edge.json": '{"name": "My Tools"}'})
    assert "\"name\" 'My Tools' is not a valid bundle name" in build_error(project).message
    (project / "edge.json").write_text('{"external": "ms"}')
    assert '"external" must be a list of package names' in build_error(project).message
    (project / "edge.json").write_text('{"toolsDir": "../elsewhere"}')
    assert '"toolsDir" must be a folder inside the project' in build_error(project).message
    (project / "edge.json").write_text("[]")
    assert build_error(project).message == f"{project.resolve() / 'edge.json'} must hold a JSON object"


def test_name_falls_back_to_package_json(tmp_path, npm_deps):
    project = make_project(
        tmp_path / "p", name="from-package", node_modules=npm_deps, files={"src/tools/t.ts": tool_source("t")}
    )
    result: BuildResult = build_project(project)
    assert result.manifest.bundle == "from-package"
    assert result.archive_path.name == "from-package.tar.gz"


def test_a_build_imports_jsonschema_only_for_a_new_uncommon_schema_and_never_rich(good_project, tmp_path, npm_deps):
    """A build's two largest imports: jsonschema only to check a schema beyond the common keywords, once
    (its verdict is remembered in the user cache); rich never (the table is plain lines)."""

    def imported_by_build(project: Path) -> set[str]:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "edge_cli", "build", str(project)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "EDGE_CONNECTOR_CACHE_DIR": str(tmp_path / "cache"), "NO_COLOR": "1"},
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Bundle " in run.stdout and "Checksum  sha256:" in run.stdout
        return {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}

    def heavy(modules: set[str]) -> set[str]:
        return {m.split(".")[0] for m in modules} & {"jsonschema", "rich"}

    assert heavy(imported_by_build(good_project)) == set()  # common keywords only, even on a first build
    enum_tool = tool_source("units", schema='{ type: "object", properties: { unit: { enum: [1, 2] } } }')
    uncommon = make_project(
        tmp_path / "uncommon", name="uncommon", files={"src/tools/units.ts": enum_tool}, node_modules=npm_deps
    )
    assert heavy(imported_by_build(uncommon)) == {"jsonschema"}
    assert heavy(imported_by_build(uncommon)) == set()
