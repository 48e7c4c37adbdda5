"""The dev loop's pure parts: rebuild coalescing, the watch filter, reload summaries, example arguments."""

from pathlib import Path

from edge_cli.call_examples import example_arguments
from edge_cli.project_watch import RebuildScheduler, is_watched, tools_changed
from edge_protocol.manifest import FileEntry, Manifest, ToolDescriptor, content_checksum


def test_changes_during_a_build_give_exactly_one_more_build():
    scheduler = RebuildScheduler()
    assert scheduler.changed() is True  # first change starts a build
    assert scheduler.changed() is False  # changes while building only mark it pending
    assert scheduler.changed() is False
    assert scheduler.finished() is True  # one more build, not two
    assert scheduler.finished() is False  # nothing changed during the second build
    assert scheduler.building is False
    assert scheduler.changed() is True


def test_watch_filter_ignores_build_output_dependencies_and_editor_temp_files(tmp_path: Path):
    assert is_watched(str(tmp_path / "src/tools/a.ts"), tmp_path)
    assert is_watched(str(tmp_path / "edge.json"), tmp_path)
    for ignored in (
        ".edge/build/dist/a.js",
        "node_modules/x/index.js",
        ".git/index",
        "src/tools/.a.ts.swp",
        "src/tools/a.ts~",
        "src/tools/4913",
        "src/tools/.#a.ts",
    ):
        assert not is_watched(str(tmp_path / ignored), tmp_path), ignored
    assert not is_watched("/somewhere/else/a.ts", tmp_path)


def _manifest(tools: dict[str, str]) -> Manifest:
    files = [FileEntry(f"dist/{name}.js", sha * 64, 10) for name, sha in tools.items()]
    descriptors = [ToolDescriptor(name, "d", {"type": "object"}, f"dist/{name}.js") for name in tools]
    return Manifest("b", content_checksum(files), files, descriptors, "2026-01-01T00:00:00Z")


def test_tools_changed_names_added_removed_and_changed_tools():
    old = _manifest({"keep": "a", "edit": "b", "gone": "c"})
    new = _manifest({"keep": "a", "edit": "d", "fresh": "e"})
    assert tools_changed(old, new) == "+fresh -gone ~edit"
    assert tools_changed(new, new) == "no tool changed"
    assert tools_changed(None, new) == "keep, edit, fresh"


def test_example_arguments_fill_required_properties_by_type():
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1},
            "unit": {"enum": ["c", "f"]},
            "verbose": {"type": "boolean"},
        },
        "required": ["city", "days", "unit"],
    }
    assert example_arguments(schema) == {"city": "example", "days": 1, "unit": "c"}


def test_example_numbers_sit_inside_their_range():
    schema = {
        "type": "object",
        "required": ["lat", "n"],
        "properties": {
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "n": {"type": "integer", "minimum": 1, "maximum": 4},
        },
    }
    assert example_arguments(schema) == {"lat": 0, "n": 2}
