"""Reading a tool project's edge.json / package.json and finding its tool files."""

from __future__ import annotations

import json

import pytest

from bundler.errors import BuildError
from bundler.project import load_project, tool_sources


def project(tmp_path, edge=None, package=None, tools=()):
    if edge is not None:
        (tmp_path / "edge.json").write_text(edge if isinstance(edge, str) else json.dumps(edge))
    if package is not None:
        (tmp_path / "package.json").write_text(package if isinstance(package, str) else json.dumps(package))
    for name in tools:
        (tmp_path / "src/tools").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src/tools" / name).write_text("")
    return tmp_path


def test_defaults_and_settings(tmp_path):
    config = load_project(project(tmp_path, {"name": "a"}, {"name": "b"}))
    assert (config.name, config.tools_dir, config.target, config.external) == ("a", "src/tools", "node20", [])
    config = load_project(
        project(
            tmp_path,
            {"toolsDir": "tools", "target": "node22", "external": ["pg"], "platformUrl": "http://x"},
            {"name": "@org/b"},
        )
    )
    assert (config.name, config.tools_dir, config.target, config.external) == ("@org/b", "tools", "node22", ["pg"])
    assert config.archive_file_name == "org-b.tar.gz"


def test_tool_sources_pick_tool_files_only(tmp_path):
    config = load_project(
        project(
            tmp_path,
            {"name": "a"},
            {},
            tools=[
                "b.ts",
                "a.js",
                "c.mts",
                "d.mjs",
                "e.cjs",
                "x.test.ts",
                "y.spec.js",
                "types.d.ts",
                "README.md",
                ".hidden.ts",
            ],
        )
    )
    (tmp_path / "src/tools/sub").mkdir()
    (tmp_path / "src/tools/sub/nested.ts").write_text("")
    assert [p.name for p in tool_sources(config)] == ["a.js", "b.ts", "c.mts", "d.mjs", "e.cjs"]


def test_two_sources_that_would_build_to_one_file(tmp_path):
    config = load_project(project(tmp_path, {"name": "a"}, {}, tools=["t.ts", "t.js"]))
    with pytest.raises(BuildError, match=r"t.js and t.ts in .* would both build to dist/t.js"):
        tool_sources(config)


@pytest.mark.parametrize(
    ("edge", "package", "message"),
    [
        (None, None, "has neither edge.json nor package.json"),
        ({"name": "a"}, None, "package.json is missing"),
        ("{", {"name": "a"}, "edge.json is not valid JSON (line 1, column 2"),
        ({"name": "a"}, "[1]", "package.json must hold a JSON object"),
        ({}, {}, "no bundle name"),
        ({"name": "A B"}, {}, "\"name\" 'A B' is not a valid bundle name"),
        ({}, {"name": 5}, 'package.json: "name" 5 is not a valid bundle name'),
        ({"name": "a", "target": ""}, {}, '"target" must be a non-empty string'),
        ({"name": "a", "toolsDir": "/abs"}, {}, '"toolsDir" must be a folder inside the project'),
        ({"name": "a", "external": [""]}, {}, '"external" must be a list of package names'),
        ({"name": "a", "platformUrl": 1}, {}, '"platformUrl" must be a string'),
    ],
)
def test_refusals_name_the_file_and_the_fix(tmp_path, edge, package, message):
    with pytest.raises(BuildError) as caught:
        load_project(project(tmp_path, edge, package))
    assert message in caught.value.message
    assert caught.value.hint and caught.value.hint[0].isupper()


def test_not_utf8(tmp_path):
    (tmp_path / "package.json").write_bytes(b'{"name": "\xff"}')
    with pytest.raises(BuildError, match="is not UTF-8 text"):
        load_project(tmp_path)


@pytest.mark.parametrize("name", ["new\nline.ts", "tab\there.ts", "esc\x1b.ts"])
def test_tool_file_names_with_control_characters_are_refused(tmp_path, name):
    # A newline in a bundle path would make the content checksum ambiguous (issue 12, hole 8).
    config = load_project(project(tmp_path, {"name": "a"}, {}, tools=[name]))
    with pytest.raises(BuildError, match="holds a control character"):
        tool_sources(config)


def test_the_version_stamped_into_manifests_is_the_installed_distributions():
    from importlib.metadata import version

    from bundler.build import _edge_connector_version

    assert _edge_connector_version() == version("edge-connector")
