"""Copying a project template (the npm install and `npm test` run in tests/integration/test_init.py)."""

from __future__ import annotations

import json

import pytest

from bundler.errors import BuildError
from bundler.scaffold import name_from_folder, scaffold_project


@pytest.mark.parametrize("template", ["ts", "js"])
def test_every_template_file_is_written_with_the_name(tmp_path, template):
    written = scaffold_project(tmp_path / "p", template, "weather-tools")
    relative = sorted(str(p.relative_to(tmp_path / "p")) for p in written)
    ext = template
    expected = [
        ".gitignore",
        "edge.json",
        "package.json",
        f"src/lib/tool.{ext}",
        f"src/tools/make_slug.{ext}",
        f"test/make_slug.test.{ext}",
        "tests/test_tools.py",
    ] + (["tsconfig.json"] if template == "ts" else [])
    assert relative == sorted(expected)
    package = json.loads((tmp_path / "p/package.json").read_text())
    assert package["name"] == "weather-tools"
    assert package["scripts"]["build"] == "edge-connector build"
    assert package["devDependencies"]["esbuild"] == "0.28.2"
    assert package["dependencies"]["zod"] == "4.6.7"  # pinned: the schema conversion is zod's own
    assert json.loads((tmp_path / "p/edge.json").read_text())["name"] == "weather-tools"
    assert "{{name}}" not in "".join(p.read_text() for p in written)
    assert not list((tmp_path / "p").rglob("__init__.py"))


def test_tool_lib_defines_define_tool_and_tool_error():
    import bundler.scaffold as scaffold

    source = (scaffold.template_root("ts") / "src/lib/tool.ts").read_text()
    assert "export function defineTool" in source
    assert "export class ToolError extends Error" in source and 'name = "ToolError"' in source


def test_refuses_non_empty_unless_forced(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(BuildError, match="is not empty"):
        scaffold_project(tmp_path, "ts", "x")
    scaffold_project(tmp_path, "ts", "x", force=True)
    assert (tmp_path / "mine.txt").read_text() == "keep"
    assert (tmp_path / "src/tools/make_slug.ts").is_file()


def test_refuses_a_file_target_bad_names_and_templates(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(BuildError, match="is a file"):
        scaffold_project(tmp_path / "f", "ts", "x")
    with pytest.raises(BuildError, match="not a valid bundle name"):
        scaffold_project(tmp_path / "n", "ts", "Bad Name")
    with pytest.raises(BuildError, match="there is no template 'py'"):
        scaffold_project(tmp_path / "n", "py", "x")
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("folder", "name"),
    [("My Tools!", "my-tools"), ("weather_tools", "weather_tools"), ("...", "my-tools"), ("Ünïcode", "n-code")],
)
def test_name_from_folder(tmp_path, folder, name):
    assert name_from_folder(tmp_path / folder) == name
