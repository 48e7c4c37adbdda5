"""`edge-connector init` and `build` through the real CLI, with the real npm registry, npm test and esbuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bundler.esbuild import platform_package
from bundler.node import node_binary, node_env, npm_command
from tests.fixtures.projects.support import installed_npm_deps, run_node

CLI = str(Path(sys.executable).with_name("edge-connector"))


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


def npm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*npm_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=node_env())


def sha256sum_checksum(out_dir: Path) -> str:
    paths = sorted(str(p.relative_to(out_dir)) for p in (out_dir / "dist").rglob("*") if p.is_file())
    listing = subprocess.run(["sha256sum", *paths], cwd=out_dir, capture_output=True, check=True).stdout
    return (
        "sha256:"
        + subprocess.run(["sha256sum"], input=listing, capture_output=True, check=True).stdout.split()[0].decode()
    )


@pytest.mark.parametrize("template", ["ts", "js"])
def test_init_then_npm_test_then_build_works_and_the_checksum_is_reproducible(tmp_path, template):
    created = cli("init", "demo", "--template", template, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "demo"
    assert "Created tool project 'demo'" in created.stdout
    assert "npm test" in created.stdout and "edge-connector build" in created.stdout
    assert (project / "node_modules/slugify").is_dir() and (project / "node_modules/esbuild").is_dir()
    ignored = (project / ".gitignore").read_text().splitlines()
    # .dev.vars: local secrets of `dev`
    assert ignored == [
        "node_modules/",
        ".edge/",
        "__pycache__/",
        ".pytest_cache/",
        "# Local secrets for edge-connector dev (never commit them)",
        ".dev.vars",
    ]
    assert json.loads((project / "package.json").read_text())["name"] == "demo"
    assert json.loads((project / "edge.json").read_text())["name"] == "demo"
    assert (project / "tsconfig.json").is_file() == (template == "ts")

    tested = npm("test", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "pass 3" in tested.stdout and "fail 0" in tested.stdout

    built = cli("build", "demo", "--json", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    data = json.loads(built.stdout)
    assert data["bundle"] == "demo"
    assert data["archive"] == str(project / ".edge/build/demo.tar.gz") and Path(data["archive"]).is_file()
    assert [t["name"] for t in data["tools"]] == ["make_slug"]
    assert data["esbuild"] == "0.28.2"
    assert data["checksum"] == sha256sum_checksum(project / ".edge/build")

    again = json.loads(cli("build", "demo", "--json", cwd=tmp_path).stdout)
    assert again["checksum"] == data["checksum"]

    # The built tool runs on its own (slugify inlined) and reports ToolError as the hosts expect.
    script = """
      const tool = require(process.argv[1]).default;
      (async () => {
        const ok = await tool.run({text: "Edge Tools, Rock!"}, {callId: "c", log() {}});
        let error; try { await tool.run({text: "?"}, {callId: "c", log() {}}); } catch (e) { error = [e.name, e.code]; }
        console.log(JSON.stringify([tool.name, ok, error]));
      })();
    """
    ran = run_node(script, str(project / ".edge/build/dist/make_slug.js"), cwd=tmp_path)
    assert json.loads(ran.stdout) == ["make_slug", {"slug": "edge-tools-rock"}, ["ToolError", "empty_slug"]]
    # The zod schema is the single declaration: JSON Schema in the manifest, the type of run()'s input.
    manifest = json.loads((project / ".edge/build/manifest.json").read_text())
    assert manifest["tools"][0]["inputSchema"]["properties"]["separator"] == {
        "default": "-",
        "description": "Character between words (default '-')",
        "type": "string",
        "maxLength": 1,
    }
    if template == "ts":
        assert_typecheck_follows_the_zod_schema(project)


WRONG_USE = """import { z } from "zod";
import { defineTool } from "../lib/tool";
export default defineTool({
  name: "wrong_use",
  description: "uses its input as the wrong type",
  inputSchema: z.object({ count: z.number() }),
  outputSchema: z.object({ total: z.number() }),
  async run(input) { return { total: input.count.toUpperCase() }; },
});
"""


def assert_typecheck_follows_the_zod_schema(project: Path) -> None:
    tsc = [node_binary(), str(project / "node_modules/typescript/bin/tsc"), "--noEmit", "-p", str(project)]
    clean = subprocess.run(tsc, capture_output=True, text=True, timeout=300, env=node_env())
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (project / "src/tools/wrong_use.ts").write_text(WRONG_USE)
    wrong = subprocess.run(tsc, capture_output=True, text=True, timeout=300, env=node_env())
    assert wrong.returncode != 0
    assert "src/tools/wrong_use.ts(8," in wrong.stdout
    assert "Property 'toUpperCase' does not exist on type 'number'" in wrong.stdout


def test_build_prints_a_table_with_sizes_archive_and_checksum(tmp_path):
    assert cli("init", "proj", "--no-install", "--name", "table-tools", cwd=tmp_path).returncode == 0
    # Without node_modules the example's imports (slugify, zod) cannot resolve: the CLI says so, one line each.
    # (esbuild comes from ESBUILD_BINARY_PATH here: the project has no node_modules, and tests leave the user cache alone)
    esbuild = installed_npm_deps() / platform_package() / "bin/esbuild"
    failed = cli("build", "proj", cwd=tmp_path, env={"ESBUILD_BINARY_PATH": str(esbuild)})
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        "Error: src/tools/make_slug.ts:1:21: Could not resolve \"slugify\": package 'slugify' is not installed\n"
    )
    assert "Could not resolve \"zod\": package 'zod' is not installed" in failed.stderr
    assert "Run `npm install slugify zod` in " in failed.stderr
    assert "Traceback" not in failed.stderr
    assert npm("install", "--no-audit", "--no-fund", cwd=tmp_path / "proj").returncode == 0

    shown = cli("build", "proj", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Bundle table-tools" in shown.stdout
    assert "make_slug" in shown.stdout and "src/tools/make_slug.ts" in shown.stdout and "kB" in shown.stdout
    manifest = json.loads((tmp_path / "proj/.edge/build/manifest.json").read_text())
    assert f"Checksum  {manifest['checksum']}" in shown.stdout
    assert f"Archive   {tmp_path / 'proj/.edge/build/table-tools.tar.gz'}" in shown.stdout


def test_init_refuses_a_non_empty_folder_unless_forced(tmp_path):
    project = tmp_path / "busy"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    refused = cli("init", "busy", "--no-install", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: busy is not empty. Choose a new or empty folder, or pass --force to write the template over it "
        "(other files stay)"
    )
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]

    (project / "edge.json").write_text("old")
    forced = cli("init", "busy", "--no-install", "--force", "--name", "busy-tools", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (project / "notes.txt").read_text() == "mine"
    assert json.loads((project / "edge.json").read_text())["name"] == "busy-tools"
    assert "npm install" in forced.stdout  # --no-install: the next steps say to run it
    assert not (project / "node_modules").exists()


def test_init_into_the_current_folder_takes_its_name(tmp_path):
    project = tmp_path / "My Weather Tools"
    project.mkdir()
    done = cli("init", "--no-install", "--template", "js", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "package.json").read_text())["name"] == "my-weather-tools"
    assert (project / "src/tools/make_slug.js").is_file() and (project / "src/lib/tool.js").is_file()
    assert "cd " not in done.stdout


def test_init_usage_errors(tmp_path):
    bad_template = cli("init", "x", "--template", "python", cwd=tmp_path)
    assert bad_template.returncode == 2
    assert "unknown template 'python'" in bad_template.stderr
    bad_name = cli("init", "x", "--name", "Not A Name", "--no-install", cwd=tmp_path)
    assert bad_name.returncode == 1
    assert "'Not A Name' is not a valid bundle name" in bad_name.stderr
    assert not (tmp_path / "x").exists()


def test_build_errors_are_one_line_without_traceback(tmp_path):
    missing = cli("build", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"Error: {tmp_path / 'nowhere'} is not a folder.")
    assert len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "p").mkdir()
    (tmp_path / "p/package.json").write_text("{oops")
    malformed = cli("build", "p", "--json", cwd=tmp_path)
    assert malformed.returncode == 1 and malformed.stdout == ""
    assert "package.json is not valid JSON (line 1, column 2" in malformed.stderr
    assert "Traceback" not in malformed.stderr


def test_a_failing_npm_install_is_explained_and_leaves_the_files(tmp_path):
    failing_node = tmp_path / "node-that-fails"
    failing_node.write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 7\n")
    failing_node.chmod(0o755)
    done = cli("init", "demo", cwd=tmp_path, env={"EC_NODE": str(failing_node)})
    assert done.returncode == 1
    assert "npm ERR! network unreachable" in done.stderr  # npm's own output is shown
    assert "Error: npm install failed in demo (exit 7). The project files are in place" in done.stderr
    assert "run `npm install` in demo" in done.stderr
    assert (tmp_path / "demo/src/tools/make_slug.ts").is_file()
