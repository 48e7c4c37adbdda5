"""The installation directory's bundles (SPEC.md §3.4): `manifest.json` + `dist/`, always whole.

Layout (see docs/sync.md for the reasoning):

    manifest.json                 the active bundle's manifest, with its version: THE commit point
    dist -> .bundles/<hex>/dist   a symlink to the active bundle's files
    .bundles/<hex>/               one complete, verified bundle per checksum (manifest.json + dist/)
    .bundles/.staging-*           downloads and unpacks in progress (removed by `recover()`)

A bundle directory only ever appears under its final name by `rename` of a staging directory
whose every file was verified, so `.bundles/<hex>/` is whole or absent. Activation fsyncs the
bundle's files, then writes `manifest.json` (tmp + fsync + `os.replace`), then points `dist` at the
new bundle (symlink tmp + `os.replace`); nothing names a bundle before its files are durable, and a
bundle no `manifest.json` names is pruned (and re-verified before any reuse). A `kill -9` between those two steps leaves `dist` pointing at the other bundle;
`recover()` (run at start) trusts `manifest.json` and repairs `dist`, so a restart always finds the
old or the new bundle complete. Deleting `manifest.json` and `dist/` makes `recover()` drop every
cached bundle, which forces a full download.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from edge_protocol.archive import MANIFEST_NAME, ByteSource, read_archive
from edge_protocol.manifest import Manifest, ManifestError, content_checksum, file_entry_for

BUNDLES_DIR = ".bundles"
DIST = "dist"
_STAGING_PREFIX = ".staging-"


class BundleStoreError(Exception):
    """The installation directory could not be read or changed; the message says what and where."""


class BundleStore:
    def __init__(self, install_dir: Path, logger: logging.Logger | None = None) -> None:
        self.install_dir = Path(install_dir)
        self.bundles_dir = self.install_dir / BUNDLES_DIR
        self.logger = logger or logging.getLogger("edge_runtime.bundle_store")

    # -------------------------------------------------------------------------------- read
    @property
    def manifest_path(self) -> Path:
        return self.install_dir / MANIFEST_NAME

    @property
    def dist_path(self) -> Path:
        return self.install_dir / DIST

    def bundle_dir_for(self, checksum: str) -> Path:
        return self.bundles_dir / checksum.removeprefix("sha256:")

    def active(self) -> tuple[Path, Manifest] | None:
        """The active bundle's directory and manifest (cheap: trusts what `recover()` checked)."""
        try:
            manifest = Manifest.load(self.manifest_path)
        except FileNotFoundError:
            return None
        except (ManifestError, OSError) as exc:
            self.logger.warning("Ignoring the installation's manifest.json: %s", exc)
            return None
        bundle_dir = self.bundle_dir_for(manifest.checksum)
        return (bundle_dir, manifest) if bundle_dir.is_dir() else None

    # ----------------------------------------------------------------------------- recover
    def recover(self) -> tuple[Path, Manifest] | None:
        """Make the directory consistent after any crash; returns the active bundle, verified, or None.

        Removes staging leftovers; adopts a plain `manifest.json` + `dist/` directory (e.g. copied in by
        hand); points `dist` at the bundle `manifest.json` names; drops anything that fails verification.
        """
        self.install_dir.mkdir(parents=True, exist_ok=True)
        self.bundles_dir.mkdir(exist_ok=True)
        for leftover in self.bundles_dir.glob(_STAGING_PREFIX + "*"):
            _remove(leftover)
            self.logger.info("Removed an unfinished bundle download (%s)", leftover.name)
        for leftover in self.install_dir.glob(f".{DIST}.tmp-*"):
            _remove(leftover)

        try:
            manifest = Manifest.load(self.manifest_path)
        except FileNotFoundError:
            manifest = None
        except (ManifestError, OSError) as exc:
            self.logger.warning("manifest.json is unreadable (%s); the bundle will be downloaded again", exc)
            manifest = None

        if manifest is None:
            # No commit point: nothing here is trusted. Removing the cache forces a full download.
            self._forget_all()
            return None

        bundle_dir = self.bundle_dir_for(manifest.checksum)
        if not bundle_dir.is_dir() and self.dist_path.is_dir() and not self.dist_path.is_symlink():
            self._adopt_plain_dist(manifest)
        problem = _verify_bundle(bundle_dir, manifest) if bundle_dir.is_dir() else "its files are missing"
        if problem:
            self.logger.warning(
                "The installed bundle %s is damaged (%s); it will be downloaded again", manifest.bundle, problem
            )
            self._forget_all()
            return None
        _write_manifest(bundle_dir / MANIFEST_NAME, manifest)
        self._point_dist_at(bundle_dir)
        self._prune(keep={bundle_dir.name})
        return bundle_dir, manifest

    def _adopt_plain_dist(self, manifest: Manifest) -> None:
        """A `dist/` directory (not our symlink) beside manifest.json: move it into the bundle cache."""
        staging = self._new_staging_dir()
        staging.mkdir(parents=True)
        shutil.copytree(self.dist_path, staging / DIST, symlinks=True)
        if _verify_bundle(staging, manifest):
            _remove(staging)
            return  # recover() reports the damage and forgets it
        _write_manifest(staging / MANIFEST_NAME, manifest)
        _fsync_tree(staging)
        os.replace(staging, self.bundle_dir_for(manifest.checksum))
        # Replacing a real directory with a symlink takes two steps; a crash between them leaves no
        # `dist`, which the next recover() repairs from manifest.json like any other.
        trash = self._new_staging_dir()
        os.replace(self.dist_path, trash)
        _remove(trash)

    # ------------------------------------------------------------------------------- stage
    def new_download_path(self) -> Path:
        """A file inside the installation directory to stream an archive into (cleaned by recover)."""
        self.bundles_dir.mkdir(parents=True, exist_ok=True)
        return self._new_staging_dir().with_suffix(".download")

    def stage_archive(
        self,
        source: ByteSource | Path,
        expected_checksum: str | None = None,
        on_manifest: Callable[[Manifest], None] | None = None,
    ) -> tuple[Path, Manifest]:
        """Unpack and verify an archive into `.bundles/<hex>/` (not active yet); blocking, run it in a thread.

        `on_manifest` hears the manifest as soon as it is read, before the files (see read_archive).
        Raises `edge_protocol.archive.ArchiveError` (bad, unsafe, too large, checksum mismatch).
        """
        self.bundles_dir.mkdir(parents=True, exist_ok=True)
        staging = self._new_staging_dir()
        manifest = read_archive(source, staging, expected_checksum=expected_checksum, on_manifest=on_manifest)
        final = self.bundle_dir_for(manifest.checksum)
        if final.is_dir() and not _verify_bundle(final, manifest):
            _remove(staging)  # already stored whole (e.g. the previous bundle coming back)
            return final, manifest
        try:
            # No fsync yet: `activate` makes the files durable before the commit point, after the new
            # workers already serve (a crash before the commit prunes this directory, see recover()).
            if final.exists():
                self._remove_atomically(final)
            os.replace(staging, final)
        except BaseException:
            _remove(staging)
            raise
        return final, manifest

    # ---------------------------------------------------------------------------- activate
    def activate(self, bundle_dir: Path, manifest: Manifest) -> None:
        """Make a staged bundle the active one (its tools must already have loaded).

        `manifest` carries the platform's version. Keeps the bundle it replaces, prunes older ones.
        """
        bundle_dir = Path(bundle_dir)
        if bundle_dir != self.bundle_dir_for(manifest.checksum) or not bundle_dir.is_dir():
            raise BundleStoreError(f"{bundle_dir} is not the staged directory of bundle {manifest.checksum}")
        previous = self.active()
        _fsync_tree(bundle_dir)  # the files, then their directory entries, before anything names them
        _fsync_dir(self.bundles_dir)
        _write_manifest(bundle_dir / MANIFEST_NAME, manifest)
        _write_manifest(self.manifest_path, manifest)  # the commit point
        self._point_dist_at(bundle_dir)
        _fsync_dir(self.install_dir)
        keep = {bundle_dir.name} | ({previous[0].name} if previous else set())
        self._prune(keep=keep)

    def discard(self, bundle_dir: Path) -> None:
        """Remove a staged bundle that will not be used (its tools failed to load); never the active one."""
        active = self.active()
        if active is not None and Path(bundle_dir) == active[0]:
            return
        if Path(bundle_dir).parent == self.bundles_dir:
            self._remove_atomically(Path(bundle_dir))

    # ----------------------------------------------------------------------------- helpers
    def _new_staging_dir(self) -> Path:
        return self.bundles_dir / f"{_STAGING_PREFIX}{secrets.token_hex(6)}"

    def _point_dist_at(self, bundle_dir: Path) -> None:
        target = os.path.relpath(bundle_dir / DIST, self.install_dir)
        if self.dist_path.is_symlink() and os.readlink(self.dist_path) == target:
            return
        if self.dist_path.exists() and not self.dist_path.is_symlink():
            trash = self._new_staging_dir()
            os.replace(self.dist_path, trash)
            _remove(trash)
        tmp = self.install_dir / f".{DIST}.tmp-{secrets.token_hex(4)}"
        os.symlink(target, tmp, target_is_directory=True)
        os.replace(tmp, self.dist_path)

    def _prune(self, keep: set[str]) -> None:
        for child in self.bundles_dir.iterdir():
            if child.name not in keep and not child.name.startswith(_STAGING_PREFIX):
                self._remove_atomically(child)

    def _remove_atomically(self, path: Path) -> None:
        """Rename to a staging name first: a crash mid-delete leaves only something recover() cleans."""
        trash = self._new_staging_dir()
        try:
            os.replace(path, trash)
        except OSError:
            return
        _remove(trash)

    def _forget_all(self) -> None:
        if self.dist_path.is_symlink() or self.dist_path.exists():
            _remove(self.dist_path)
        self.manifest_path.unlink(missing_ok=True)
        if self.bundles_dir.exists():
            for child in self.bundles_dir.iterdir():
                _remove(child)


def _verify_bundle(root: Path, manifest: Manifest) -> str | None:
    """None when `root` holds exactly the manifest's files with their checksums; else what is wrong."""
    try:
        entries = []
        for expected in manifest.files:
            path = root / expected.path
            if not path.is_file() or path.is_symlink():
                return f"{expected.path} is missing"
            if path.stat().st_size != expected.size:
                return f"{expected.path} has the wrong size"
            actual = file_entry_for(root, expected.path)
            if actual.sha256 != expected.sha256:
                return f"{expected.path} has the wrong checksum"
            entries.append(actual)
    except OSError as exc:
        return str(exc)
    if content_checksum(entries) != manifest.checksum:
        return "the bundle checksum does not match its files"
    return None


def _write_manifest(path: Path, manifest: Manifest) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(directory))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
