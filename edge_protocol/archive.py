"""Bundle archives (SPEC.md §3.3): a deterministic writer and a reader that trusts nothing.

The reader streams: it never holds the archive or a file in memory, counts packed bytes against
the 50 MB limit and unpacked bytes against 256 MiB, and refuses every entry that is not a plain
file listed in the manifest. Each refusal is an `ArchiveError` naming the offending entry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any, Protocol

from .limits import MAX_ARCHIVE_BYTES, MAX_MANIFEST_BYTES, MAX_TAR_HEADER_BYTES, MAX_UNPACKED_BYTES
from .manifest import FileEntry, Manifest, ManifestError, content_checksum, is_safe_relative_path

MANIFEST_NAME = "manifest.json"


class ArchiveError(ValueError):
    """An archive that breaks a rule of SPEC.md §3.3; the message says which entry and why."""


class ArchiveTooLarge(ArchiveError):
    """The packed archive or its unpacked content is over the limit."""


def too_large_message(size: int, limit: int = MAX_ARCHIVE_BYTES) -> str:
    return (
        f"bundle archive is {size:,} bytes, over the limit of {limit:,} bytes (50 MB); "
        "reduce inlined dependencies or split the tools across bundles"
    )


# --------------------------------------------------------------------------------------- writer
def write_archive(root: Path, manifest: Manifest, out_path: Path) -> int:
    """Pack `manifest` and its files from `root` into `out_path`; returns the archive size.

    Entries are sorted, owned by 0:0 with mode 0644 and mtime 0, and the gzip header carries no
    name or time, so equal content gives byte-identical archives.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    manifest_bytes = manifest.to_json().encode("utf-8")
    # Level 6 (gzip's own default): on bundled JavaScript level 9 costs ~3x the CPU for ~1 % smaller
    # archives, and packing sits inside the build's time budget (raw esbuild + 300 ms).
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add_bytes(tar, MANIFEST_NAME, manifest_bytes)
        for entry in sorted(manifest.files, key=lambda f: f.path):
            info = _tar_info(entry.path, entry.size)
            with open(Path(root) / entry.path, "rb") as handle:
                tar.addfile(info, handle)
    os.replace(tmp, out_path)
    return out_path.stat().st_size


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))


# --------------------------------------------------------------------------------------- reader
class ByteSource(Protocol):
    """Where an archive is read from: an open binary file, or anything else that hands out bytes."""

    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader(io.RawIOBase):
    """Counts packed bytes as they are read and stops at the limit, before reading more."""

    def __init__(self, source: ByteSource, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise ArchiveTooLarge(too_large_message(self.count, self._limit) if self.count else "archive too large")
        buffer[: len(data)] = data
        return len(data)


class _CappedTarInfo(tarfile.TarInfo):
    """`tarfile` reads a whole PAX or GNU long-name header into memory before any check of ours:
    refuse one over `MAX_TAR_HEADER_BYTES`, chains of them, global headers and sparse files first."""

    def _proc_member(self, tar):  # type: ignore[no-untyped-def]
        if self.type in _EXTENDED_TYPES:
            if self.type == tarfile.XGLTYPE:
                raise ArchiveError("archive has a global PAX header; bundles never need one")
            if self.size > MAX_TAR_HEADER_BYTES:
                raise ArchiveError(
                    f"archive has a {self.size:,}-byte extended tar header, over the limit of {MAX_TAR_HEADER_BYTES:,}"
                )
            depth = getattr(tar, "_ec_header_chain", 0) + 1
            if depth > _MAX_HEADER_CHAIN:
                raise ArchiveError("archive chains more than two extended tar headers before one entry")
            tar._ec_header_chain = depth
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError(f"archive entry {self.name!r} is a sparse file; bundles hold regular files only")
        else:
            tar._ec_header_chain = 0
        return super()._proc_member(tar)  # type: ignore[misc]  # private, stable since Python 3.0


_EXTENDED_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
_MAX_HEADER_CHAIN = 2


def read_archive(
    source: ByteSource | Path | str,
    dest: Path,
    *,
    expected_checksum: str | None = None,
    max_packed: int = MAX_ARCHIVE_BYTES,
    max_unpacked: int = MAX_UNPACKED_BYTES,
) -> Manifest:
    """Unpack a bundle archive into the new directory `dest` and verify it whole.

    `manifest.json` must be the first entry; every later entry is checked against it (listed, the
    listed size) before a byte of it is written, and hashed while written. On any failure `dest` is
    removed and `ArchiveError` raised, so a caller never sees a partial bundle. On success `dest`
    holds `manifest.json` and exactly the files it lists.
    """
    dest = Path(dest)
    if dest.exists():
        raise ArchiveError(f"unpack target {dest} already exists")
    dest.mkdir(parents=True)
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as handle:
                return _read_into(handle, dest, expected_checksum, max_packed, max_unpacked)
        return _read_into(source, dest, expected_checksum, max_packed, max_unpacked)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if not is_safe_relative_path(name):
        raise ArchiveError(
            f"archive entry {name!r} has an unsafe path (absolute, '..', empty parts or control characters)"
        )
    if member.issym() or member.islnk():
        raise ArchiveError(f"archive entry {name!r} is a link; bundles hold regular files only")
    if not member.isreg() or member.issparse():
        raise ArchiveError(f"archive entry {name!r} is not a regular file (type {member.type!r})")


def _read_into(source: ByteSource, dest: Path, expected: str | None, max_packed: int, max_unpacked: int) -> Manifest:
    counter = _CountingReader(source, max_packed)
    # gzip here rather than tarfile's "r|gz": GzipFile inflates at most what is asked for, where
    # tarfile's stream inflates whole 10 KB reads (up to ~10 MB each from a crafted stream).
    unzipped = gzip.GzipFile(fileobj=io.BufferedReader(counter, 1 << 16), mode="rb")  # noqa: SIM115 - closed with tar
    try:
        # Opened apart from the loop below so an unreadable header gets its own message; closed in `finally`.
        tar = tarfile.open(fileobj=unzipped, mode="r|", tarinfo=_CappedTarInfo)  # noqa: SIM115
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"not a gzip'd tar archive ({exc})") from None
    try:
        members = iter(tar)
        manifest = _read_manifest(tar, next(members, None), dest, max_unpacked)
        listed = {f.path: f for f in manifest.files}
        seen: dict[str, FileEntry] = {}
        unpacked = 0
        for member in members:
            name = member.name
            _check_member(member)
            if name in seen or name == MANIFEST_NAME:
                raise ArchiveError(f"archive entry {name!r} appears twice")
            entry = listed.get(name)
            if entry is None:
                raise ArchiveError(f"archive entry {name!r} is not listed in manifest.json")
            unpacked += member.size
            if unpacked > max_unpacked:
                raise ArchiveTooLarge(
                    f"archive unpacks to more than {max_unpacked:,} bytes (at entry {name!r}); refused"
                )
            if member.size != entry.size:
                raise ArchiveError(
                    f"size mismatch for {name!r}: manifest says {entry.size:,} bytes, the archive entry holds "
                    f"{member.size:,}"
                )
            handle = tar.extractfile(member)
            assert handle is not None
            actual = _copy_hashed(handle, dest / name, name)
            if actual.sha256 != entry.sha256 or actual.size != entry.size:
                raise ArchiveError(
                    f"checksum mismatch for {name!r}: manifest says sha256 {entry.sha256[:12]}… "
                    f"({entry.size} bytes), content is {actual.sha256[:12]}… ({actual.size} bytes)"
                )
            seen[name] = actual
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ArchiveError(f"archive is truncated or corrupt ({exc})") from None
    finally:
        tar.close()

    for name in sorted(listed.keys() - seen.keys()):
        raise ArchiveError(f"manifest.json lists {name!r} but the archive does not contain it")
    whole = content_checksum(seen.values())
    if whole != manifest.checksum:
        raise ArchiveError(f"checksum mismatch: manifest says {manifest.checksum}, files give {whole}")
    if expected is not None and expected != whole:
        raise ArchiveError(f"checksum mismatch: expected {expected}, archive holds {whole}")
    return manifest


def _read_manifest(tar: tarfile.TarFile, first: tarfile.TarInfo | None, dest: Path, max_unpacked: int) -> Manifest:
    """The first entry, which must be `manifest.json`: parsed, capped, and written to `dest`."""
    if first is None:
        raise ArchiveError("archive has no manifest.json")
    _check_member(first)
    if first.name != MANIFEST_NAME:
        raise ArchiveError(f"archive entry {first.name!r} comes before manifest.json, which must be the first entry")
    if first.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"manifest.json is {first.size:,} bytes, over the limit of {MAX_MANIFEST_BYTES:,}")
    handle = tar.extractfile(first)
    assert handle is not None
    manifest_bytes = handle.read(first.size)
    try:
        manifest = Manifest.from_json(manifest_bytes)
    except ManifestError as exc:
        raise ArchiveError(str(exc)) from None
    listed_total = sum(f.size for f in manifest.files)
    if listed_total > max_unpacked:
        raise ArchiveTooLarge(
            f"archive unpacks to more than {max_unpacked:,} bytes (manifest.json lists {listed_total:,}); refused"
        )
    (dest / MANIFEST_NAME).write_bytes(manifest_bytes)
    return manifest


def _copy_hashed(handle: IO[bytes], target: Path, name: str) -> FileEntry:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(target, "xb") as out:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return FileEntry(name, digest.hexdigest(), size)
