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
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

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
#: gzip level of `write_archive`: gzip's own default. A dev loop asks for `FAST_COMPRESSLEVEL`.
DEFAULT_COMPRESSLEVEL = 6
FAST_COMPRESSLEVEL = 1


def write_archive(root: Path, manifest: Manifest, out_path: Path, compresslevel: int = DEFAULT_COMPRESSLEVEL) -> int:
    """Pack `manifest` and its files from `root` into `out_path`; returns the archive size.

    Entries are sorted, owned by 0:0 with mode 0644 and mtime 0, and the gzip header carries no
    name or time, so equal content and level give byte-identical archives. The level changes only
    the archive's size and packing time, never the bundle checksum.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    manifest_bytes = manifest.to_json().encode("utf-8")
    # Level 6 (gzip's own default): on bundled JavaScript level 9 costs ~3x the CPU for ~1 % smaller
    # archives, and packing sits inside the build's time budget (raw esbuild + 300 ms).
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=compresslevel) as gz,
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


class _CountingSource:
    """Counts packed bytes as they are read and stops at the limit; hands the source's bytes on uncopied."""

    def __init__(self, source: ByteSource, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.count = 0

    def read(self, size: int) -> bytes:
        data = self._source.read(size)
        self.count += len(data)
        if self.count > self._limit:
            raise ArchiveTooLarge(too_large_message(self.count, self._limit))
        return data


class _GunzipStream:
    """The inflated content of a gzip stream, read once, front to back, in bounded pieces.

    One `zlib` inflater does it all: it parses each gzip member's header and checks its CRC-32 and
    length itself (no second pass over the bytes in Python, as `gzip.GzipFile` makes), and it inflates
    at most `_PIECE` bytes per step, so a crafted stream cannot make one step big. Members may follow
    one another (as `cat a.gz b.gz` makes), with zero padding between them, as gzip allows. `read_view`
    hands out views of the inflated piece instead of copies, so file data is hashed and written
    straight from zlib's output; `tell()` counts inflated bytes (the tar offset).
    """

    _PIECE = 1 << 20
    #: Compressed bytes taken per read: small enough that zlib's copy of what a step left unconsumed stays cheap.
    _INPUT = 256 << 10

    def __init__(self, source: _CountingSource) -> None:
        self._source = source
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._input: bytes | memoryview = b""
        self._piece = memoryview(b"")
        self._pos = 0
        self._done = False
        self._offset = 0
        self._magic_checked = False

    def tell(self) -> int:
        return self._offset

    def read_view(self, size: int) -> memoryview:
        """Up to `size` inflated bytes (fewer at a piece's end), as a view valid until the next read; empty at the end."""
        if self._pos >= len(self._piece) and not self._refill():
            return memoryview(b"")
        view = self._piece[self._pos : self._pos + size]
        self._pos += len(view)
        self._offset += len(view)
        return view

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or fewer only at the end of the stream (what tarfile's header reader expects)."""
        first = self.read_view(size)
        if len(first) == size or not first:
            return bytes(first)
        parts = [bytes(first)]
        missing = size - len(first)
        while missing:
            more = self.read_view(missing)
            if not more:
                break
            parts.append(bytes(more))
            missing -= len(more)
        return b"".join(parts)

    def _refill(self) -> bool:
        while not self._done:
            if self._inflater.eof:
                self._next_member()
                continue
            if not self._input:
                self._input = self._source.read(self._INPUT)
                if not self._input:
                    raise EOFError("the compressed stream ended early")
            if not self._magic_checked:
                self._check_magic()
            out = self._inflater.decompress(self._input, self._PIECE)
            self._input = self._inflater.unconsumed_tail
            if out:
                self._piece, self._pos = memoryview(out), 0
                return True
        return False

    def _check_magic(self) -> None:
        """Tell "this is not gzip at all" from a damaged gzip stream, before zlib sees a byte."""
        while len(self._input) < len(_GZIP_MAGIC):
            more = self._source.read(self._INPUT)
            if not more:
                break
            self._input = bytes(self._input) + more
        if bytes(self._input[: len(_GZIP_MAGIC)]) != _GZIP_MAGIC:
            raise ArchiveError("not a gzip'd tar archive (it does not start with the gzip magic bytes)")
        self._magic_checked = True

    def _next_member(self) -> None:
        """After one gzip member: another may follow; trailing zero bytes are padding (as gzip reads them)."""
        rest = self._inflater.unused_data
        while True:
            rest = rest.lstrip(b"\0")
            if rest:
                self._inflater = zlib.decompressobj(_GZIP_WBITS)
                self._input = rest
                return
            rest = self._source.read(self._INPUT)
            if not rest:
                self._done = True
                return


class _HeaderSource:
    """What `TarInfo.fromtarfile` reads headers through: the stream and tarfile's own defaults.

    Only headers go through tarfile (PAX and GNU extensions included, capped by `_CappedTarInfo`);
    file data is read from the stream directly, without tarfile's buffering and copies.
    """

    encoding = tarfile.ENCODING
    errors = "surrogateescape"

    def __init__(self, stream: _GunzipStream) -> None:
        self.fileobj = stream
        self.pax_headers: dict[str, str] = {}  # global PAX headers, which `_CappedTarInfo` refuses
        self.offset = 0  # where tarfile expects the next header; checked against the stream's position
        self._ec_header_chain = 0


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
#: zlib's window bits for "a gzip member, header and trailer checked".
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_GZIP_MAGIC = b"\x1f\x8b"
# tarfile's "this block is all zeros" (the end-of-archive marker) and "no bytes left"; both are
# stdlib names since Python 3.2 that typeshed leaves out.
_END_OF_ARCHIVE_BLOCK: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_NO_HEADER_LEFT: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]
#: How much file data is hashed and written per step.
_COPY_BYTES = 1 << 20


def read_archive(
    source: ByteSource | Path | str,
    dest: Path,
    *,
    expected_checksum: str | None = None,
    max_packed: int = MAX_ARCHIVE_BYTES,
    max_unpacked: int = MAX_UNPACKED_BYTES,
    on_manifest: Callable[[Manifest], None] | None = None,
) -> Manifest:
    """Unpack a bundle archive into the new directory `dest` and verify it whole.

    `manifest.json` must be the first entry; every later entry is checked against it (listed, the
    listed size) before a byte of it is written, and hashed while written. On any failure `dest` is
    removed and `ArchiveError` raised, so a caller never sees a partial bundle. On success `dest`
    holds `manifest.json` and exactly the files it lists. `on_manifest` hears the manifest as soon as it
    is read and checked, before any file (a runtime starts its workers then); the files may still fail.
    """
    dest = Path(dest)
    if dest.exists():
        raise ArchiveError(f"unpack target {dest} already exists")
    dest.mkdir(parents=True)
    try:
        if isinstance(source, (str, Path)):
            with open(source, "rb") as handle:
                return _read_into(handle, dest, expected_checksum, max_packed, max_unpacked, on_manifest)
        return _read_into(source, dest, expected_checksum, max_packed, max_unpacked, on_manifest)
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


def _read_into(
    source: ByteSource,
    dest: Path,
    expected: str | None,
    max_packed: int,
    max_unpacked: int,
    on_manifest: Callable[[Manifest], None] | None,
) -> Manifest:
    # One pass: inflate, parse headers, hash and write each file as its bytes arrive.
    stream = _GunzipStream(_CountingSource(source, max_packed))
    headers = _HeaderSource(stream)
    try:
        manifest = _read_manifest(stream, _next_member(headers), dest, max_unpacked)
        if on_manifest is not None:
            on_manifest(manifest)
        listed = {f.path: f for f in manifest.files}
        seen: dict[str, FileEntry] = {}
        unpacked = 0
        while (member := _next_member(headers)) is not None:
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
            actual = _copy_hashed(stream, member, dest / name)
            if actual.sha256 != entry.sha256:
                raise ArchiveError(
                    f"checksum mismatch for {name!r}: manifest says sha256 {entry.sha256[:12]}… "
                    f"({entry.size} bytes), content is {actual.sha256[:12]}… ({actual.size} bytes)"
                )
            seen[name] = actual
    except ArchiveError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"archive is truncated or corrupt ({exc})") from None

    for name in sorted(listed.keys() - seen.keys()):
        raise ArchiveError(f"manifest.json lists {name!r} but the archive does not contain it")
    whole = content_checksum(seen.values())
    if whole != manifest.checksum:
        raise ArchiveError(f"checksum mismatch: manifest says {manifest.checksum}, files give {whole}")
    if expected is not None and expected != whole:
        raise ArchiveError(f"checksum mismatch: expected {expected}, archive holds {whole}")
    return manifest


def _next_member(headers: _HeaderSource) -> tarfile.TarInfo | None:
    """The next entry's header (None at the end-of-archive block or a clean end of data)."""
    at_start = headers.fileobj.tell() == 0
    try:
        return _CappedTarInfo.fromtarfile(headers)  # type: ignore[arg-type]  # duck-typed: see _HeaderSource
    except _END_OF_ARCHIVE_BLOCK:
        return None
    except _NO_HEADER_LEFT:
        if at_start:
            raise ArchiveError("archive is empty") from None
        return None
    except EOFError as exc:
        if at_start:
            raise ArchiveError(f"not a gzip'd tar archive ({exc})") from None
        raise ArchiveError(f"archive is truncated or corrupt ({exc})") from None
    except zlib.error as exc:
        raise ArchiveError(f"archive is truncated or corrupt ({exc})") from None
    except tarfile.HeaderError as exc:
        where = "not a gzip'd tar archive" if at_start else "archive is truncated or corrupt"
        raise ArchiveError(f"{where} (tar header: {exc})") from None


def _read_manifest(stream: _GunzipStream, first: tarfile.TarInfo | None, dest: Path, max_unpacked: int) -> Manifest:
    """The first entry, which must be `manifest.json`: parsed, capped, and written to `dest`."""
    if first is None:
        raise ArchiveError("archive has no manifest.json")
    _check_member(first)
    if first.name != MANIFEST_NAME:
        raise ArchiveError(f"archive entry {first.name!r} comes before manifest.json, which must be the first entry")
    if first.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"manifest.json is {first.size:,} bytes, over the limit of {MAX_MANIFEST_BYTES:,}")
    manifest_bytes = stream.read(first.size)
    if len(manifest_bytes) != first.size:
        raise ArchiveError("archive is truncated inside manifest.json")
    _skip_padding(stream, first.size)
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


def _copy_hashed(stream: _GunzipStream, member: tarfile.TarInfo, target: Path) -> FileEntry:
    """Write one entry's data to `target`, hashing it on the way; then step over the tar padding."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    remaining = member.size
    with open(target, "xb") as out:  # big views bypass the buffer; partial writes are retried
        while remaining:
            view = stream.read_view(min(remaining, _COPY_BYTES))
            if not view:
                raise ArchiveError(f"archive is truncated inside {member.name!r}")
            digest.update(view)
            out.write(view)
            remaining -= len(view)
    _skip_padding(stream, member.size)
    return FileEntry(member.name, digest.hexdigest(), member.size)


def _skip_padding(stream: _GunzipStream, size: int) -> None:
    """Tar rounds every entry's data up to whole 512-byte blocks."""
    padding = -size % tarfile.BLOCKSIZE
    if padding and len(stream.read(padding)) != padding:
        raise ArchiveError("archive is truncated (tar padding)")
