"""esbuild's version from the npm package around its native binary, without starting the binary."""

from __future__ import annotations

from bundler.esbuild import _packaged_version, _version_of


def test_the_platform_package_names_the_version_of_its_binary(tmp_path):
    binary = tmp_path / "node_modules" / "@esbuild" / "linux-x64" / "bin" / "esbuild"
    binary.parent.mkdir(parents=True)
    binary.write_text("not a program: reading the version must not run it")
    (binary.parent.parent / "package.json").write_text('{"name": "@esbuild/linux-x64", "version": "0.28.2"}')
    assert _packaged_version(binary) == "0.28.2"
    assert _version_of(str(binary)) == "0.28.2"


def test_a_binary_outside_the_npm_layout_or_without_a_version_says_nothing(tmp_path):
    loose = tmp_path / "bin" / "esbuild"
    loose.parent.mkdir()
    loose.write_text("")
    assert _packaged_version(loose) is None
    packaged = tmp_path / "@esbuild" / "linux-x64" / "bin" / "esbuild"
    packaged.parent.mkdir(parents=True)
    packaged.write_text("")
    assert _packaged_version(packaged) is None  # no package.json
    (packaged.parent.parent / "package.json").write_text("{broken")
    assert _packaged_version(packaged) is None
