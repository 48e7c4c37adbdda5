"""BundleStore: staged, verified bundles and an installation directory that is always whole."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from edge_protocol.archive import ArchiveError
from edge_protocol.manifest import Manifest
from edge_runtime.bundle_store import BundleStore
from tests.support.bundles import echo_tool, make_archive, write_bundle


def archive(tmp_path: Path, tag: str):
    return make_archive(tmp_path / f"build-{tag}", [echo_tool(tag=tag)])


def installed_tag(install: Path) -> str:
    """The tag the active echo tool answers with, read through the user-visible `dist/`."""
    source = (install / "dist" / "echo.js").read_text()
    return source.split('tag: "', 1)[1].split('"', 1)[0]


def test_stage_then_activate_makes_manifest_and_dist_the_new_bundle(tmp_path):
    store = BundleStore(tmp_path / "install")
    assert store.recover() is None and store.active() is None
    path, built = archive(tmp_path, "v1")
    bundle_dir, manifest = store.stage_archive(path, built.checksum)
    assert store.active() is None  # staged, not active
    store.activate(bundle_dir, manifest.with_version(1))
    active_dir, active = store.active()
    assert active_dir == bundle_dir and active.version == 1 and active.checksum == built.checksum
    assert Manifest.load(tmp_path / "install" / "manifest.json").version == 1
    assert installed_tag(tmp_path / "install") == "v1"
    assert (tmp_path / "install" / "dist").is_symlink()
    assert not list((tmp_path / "install" / ".bundles").glob(".staging-*"))


def test_activation_keeps_the_previous_bundle_and_prunes_older_ones(tmp_path):
    store = BundleStore(tmp_path / "install")
    dirs = []
    for version, tag in enumerate(["v1", "v2", "v3"], start=1):
        path, built = archive(tmp_path, tag)
        bundle_dir, manifest = store.stage_archive(path, built.checksum)
        store.activate(bundle_dir, manifest.with_version(version))
        dirs.append(bundle_dir)
    assert [d.exists() for d in dirs] == [False, True, True]
    assert installed_tag(tmp_path / "install") == "v3"


@pytest.mark.parametrize("expected", ["sha256:" + "0" * 64])
def test_a_checksum_other_than_the_assigned_one_is_refused_without_leftovers(tmp_path, expected):
    store = BundleStore(tmp_path / "install")
    path, _ = archive(tmp_path, "v1")
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        store.stage_archive(path, expected)
    assert list((tmp_path / "install" / ".bundles").iterdir()) == []


def test_unsafe_and_corrupt_archives_are_refused(tmp_path):
    store = BundleStore(tmp_path / "install")
    unsafe = tmp_path / "unsafe.tar.gz"
    with tarfile.open(unsafe, "w:gz") as tar:
        info = tarfile.TarInfo("../escape.js")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ArchiveError, match="unsafe path"):
        store.stage_archive(unsafe)
    corrupt = tmp_path / "corrupt.tar.gz"
    path, _ = archive(tmp_path, "v1")
    corrupt.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArchiveError):
        store.stage_archive(corrupt)
    assert not (tmp_path / "escape.js").exists() and not (tmp_path / "install" / "escape.js").exists()
    assert list((tmp_path / "install" / ".bundles").iterdir()) == []


def test_recover_repairs_dist_from_manifest_after_a_crash_between_the_two_writes(tmp_path):
    install = tmp_path / "install"
    store = BundleStore(install)
    for version, tag in enumerate(["v1", "v2"], start=1):
        path, built = archive(tmp_path, tag)
        bundle_dir, manifest = store.stage_archive(path, built.checksum)
        store.activate(bundle_dir, manifest.with_version(version))
    # Simulate `kill -9` after manifest.json was committed back to v1 … but dist still on v2.
    v1 = next(d for d in (install / ".bundles").iterdir() if d != bundle_dir)
    (install / "manifest.json").write_text((v1 / "manifest.json").read_text())
    (install / ".bundles" / ".staging-abc").mkdir()
    (install / ".bundles" / ".staging-abc" / "half.js").write_text("par")
    (install / ".bundles" / ".staging-def.download").write_bytes(b"\x1f\x8b")
    active_dir, manifest = store.recover()
    assert active_dir == v1 and manifest.version == 1
    assert installed_tag(install) == "v1"
    assert sorted(p.name for p in (install / ".bundles").iterdir()) == [v1.name]


def test_deleting_manifest_and_dist_forgets_every_cached_bundle(tmp_path):
    install = tmp_path / "install"
    store = BundleStore(install)
    path, built = archive(tmp_path, "v1")
    store.activate(*store.stage_archive(path, built.checksum))
    os.remove(install / "manifest.json")
    os.remove(install / "dist")
    assert store.recover() is None
    assert list((install / ".bundles").iterdir()) == []


def test_a_damaged_active_bundle_is_dropped_so_it_downloads_again(tmp_path):
    install = tmp_path / "install"
    store = BundleStore(install)
    path, built = archive(tmp_path, "v1")
    store.activate(*store.stage_archive(path, built.checksum))
    with open(install / "dist" / "echo.js", "a") as handle:
        handle.write("// tampered\n")
    assert store.recover() is None
    assert not (install / "manifest.json").exists() and not os.path.lexists(install / "dist")


def test_a_plain_manifest_and_dist_directory_is_adopted(tmp_path):
    install = tmp_path / "install"
    built = write_bundle(install, [echo_tool(tag="hand")], version=4)
    assert not (install / "dist").is_symlink()
    active_dir, manifest = BundleStore(install).recover()
    assert manifest.checksum == built.checksum and manifest.version == 4
    assert (install / "dist").is_symlink() and installed_tag(install) == "hand"
    assert active_dir == install / ".bundles" / built.checksum.removeprefix("sha256:")


def test_discard_never_removes_the_active_bundle(tmp_path):
    store = BundleStore(tmp_path / "install")
    path, built = archive(tmp_path, "v1")
    bundle_dir, manifest = store.stage_archive(path, built.checksum)
    store.activate(bundle_dir, manifest)
    store.discard(bundle_dir)
    assert bundle_dir.is_dir()
    path2, built2 = archive(tmp_path, "v2")
    staged, _ = store.stage_archive(path2, built2.checksum)
    store.discard(staged)
    assert not staged.exists() and store.active()[0] == bundle_dir


def test_restaging_the_active_checksum_reuses_the_stored_copy(tmp_path):
    store = BundleStore(tmp_path / "install")
    path, built = archive(tmp_path, "v1")
    first, manifest = store.stage_archive(path, built.checksum)
    store.activate(first, manifest.with_version(1))
    inode = (first / "dist" / "echo.js").stat().st_ino
    again, _ = store.stage_archive(path, built.checksum)
    assert again == first and (first / "dist" / "echo.js").stat().st_ino == inode
    assert json.loads((tmp_path / "install" / "manifest.json").read_text())["version"] == 1
    with gzip.open(path) as unchanged:
        assert unchanged.read(1)  # the archive itself was only read
