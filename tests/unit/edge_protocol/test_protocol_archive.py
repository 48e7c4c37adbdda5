"""Bundle archives (SPEC.md §3.3): the deterministic writer and every refusal of the reader."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_protocol.archive import ArchiveError, ArchiveTooLarge, read_archive, write_archive
from edge_protocol.limits import MAX_ARCHIVE_BYTES, MAX_UNPACKED_BYTES
from edge_protocol.manifest import FileEntry, Manifest, content_checksum, file_entry_for


# ------------------------------------------------------------------------------------ helpers
def manifest_for(files: dict[str, bytes], checksum: str | None = None, tools: bool = True) -> Manifest:
    import hashlib

    entries = [FileEntry(p, hashlib.sha256(d).hexdigest(), len(d)) for p, d in sorted(files.items())]
    from edge_protocol.manifest import ToolDescriptor

    descriptors = [ToolDescriptor("t", "a tool", {"type": "object"}, entries[0].path)] if tools and entries else []
    return Manifest(
        bundle="b",
        checksum=checksum or content_checksum(entries),
        files=entries,
        tools=descriptors,
        createdAt="2026-11-28T10:00:00Z",
    )


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, b""


def craft(entries: list[tuple[tarfile.TarInfo, bytes]], compress: bool = True, level: int = 6) -> bytes:
    """A tar (gzip'd unless told otherwise) holding exactly `entries`, in order, however unsafe."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return gzip.compress(raw.getvalue(), compresslevel=level, mtime=0) if compress else raw.getvalue()


def with_manifest(files: dict[str, bytes], manifest: Manifest | None = None, extra=()) -> bytes:
    manifest = manifest or manifest_for(files)
    entries = [regular("manifest.json", manifest.to_json().encode())]
    entries += [regular(path, data) for path, data in files.items()]
    return craft(entries + list(extra))


def refused(archive: bytes, tmp_path: Path, **limits) -> ArchiveError:
    dest = tmp_path / "dest"
    with pytest.raises(ArchiveError) as caught:
        read_archive(io.BytesIO(archive), dest, **limits)
    assert not dest.exists(), "a refused archive must leave nothing behind"
    return caught.value


GOOD = {"dist/a.js": b"module.exports = 1;\n", "dist/package.json": b'{"type":"commonjs"}\n'}


# ------------------------------------------------------------------------------------ writer
def test_writer_is_deterministic_whatever_the_files_mtimes_and_modes(tmp_path):
    for root in (tmp_path / "one", tmp_path / "two"):
        for path, data in GOOD.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
    os.utime(tmp_path / "two/dist/a.js", (1_000_000, 1_000_000))
    os.chmod(tmp_path / "two/dist/a.js", 0o600)
    manifest = manifest_for(GOOD)
    size_one = write_archive(tmp_path / "one", manifest, tmp_path / "one.tar.gz")
    size_two = write_archive(tmp_path / "two", manifest, tmp_path / "two.tar.gz")
    one = (tmp_path / "one.tar.gz").read_bytes()
    assert one == (tmp_path / "two.tar.gz").read_bytes()
    assert size_one == size_two == len(one)
    assert one[4:8] == b"\0\0\0\0"  # gzip header mtime 0 (and FNAME unset: no file name inside)
    assert one[3] & 0x08 == 0
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["manifest.json", "dist/a.js", "dist/package.json"]
    assert {(m.mode, m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0o644, 0, 0, 0, "", "")}
    assert not list(tmp_path.glob("*.tmp"))


def test_writer_output_is_readable_and_verified(tmp_path):
    root = tmp_path / "src"
    for path, data in GOOD.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    manifest = manifest_for(GOOD)
    write_archive(root, manifest, tmp_path / "b.tar.gz")
    read = read_archive(tmp_path / "b.tar.gz", tmp_path / "out", expected_checksum=manifest.checksum)
    assert read.to_dict() == manifest.to_dict()
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()) == [
        "dist/a.js",
        "dist/package.json",
        "manifest.json",
    ]


def test_the_fast_level_packs_the_same_bundle_faster_and_bigger(tmp_path):
    root = tmp_path / "src"
    files = {**GOOD, "dist/big.js": b"module.exports = [" + b"1, 2, 3, 'abc', " * 20_000 + b"];\n"}
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    manifest = manifest_for(files)
    default = write_archive(root, manifest, tmp_path / "default.tar.gz")
    fast = write_archive(root, manifest, tmp_path / "fast.tar.gz", compresslevel=1)
    assert fast != default  # another level really was used
    for name in ("default", "fast"):
        read = read_archive(tmp_path / f"{name}.tar.gz", tmp_path / name, expected_checksum=manifest.checksum)
        assert read.checksum == manifest.checksum
        assert (tmp_path / name / "dist" / "big.js").read_bytes() == files["dist/big.js"]


safe_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789_-.", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..")
)
safe_path = st.lists(safe_part, min_size=1, max_size=3).map(lambda parts: "dist/" + "/".join(parts))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(safe_path, st.binary(max_size=3000), min_size=1, max_size=8))
def test_pack_then_read_round_trips_any_safe_file_set(tmp_path_factory, files):
    # A path cannot be both a file and a folder on disk.
    paths = sorted(files)
    if any(b.startswith(a + "/") for a in paths for b in paths):
        return
    work = tmp_path_factory.mktemp("roundtrip")
    for path, data in files.items():
        (work / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (work / "src" / path).write_bytes(data)
    manifest = manifest_for(files)
    assert [file_entry_for(work / "src", p) for p in paths] == manifest.files
    write_archive(work / "src", manifest, work / "b.tar.gz")
    read = read_archive(work / "b.tar.gz", work / "out", expected_checksum=manifest.checksum)
    assert read.to_dict() == manifest.to_dict()
    for path, data in files.items():
        assert (work / "out" / path).read_bytes() == data


class _Trickle:
    """A source that hands out `step` bytes per read, as a network download does."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.at = data, step, 0

    def read(self, size: int = -1) -> bytes:
        size = self.step if size < 0 else min(size, self.step)
        chunk = self.data[self.at : self.at + size]
        self.at += len(chunk)
        return chunk


def test_reads_long_names_in_pax_and_gnu_headers_and_any_read_size(tmp_path):
    # Names over 100 characters need an extension header (PAX from our writer, GNU from GNU tar).
    files = {"dist/" + "d" * 120 + "/tool.js": os.urandom(70_000), "dist/a.js": b"module.exports = 1;\n"}
    manifest = manifest_for(files)
    for index, fmt in enumerate((tarfile.PAX_FORMAT, tarfile.GNU_FORMAT)):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
            for info, data in [regular("manifest.json", manifest.to_json().encode())] + [
                regular(p, d) for p, d in files.items()
            ]:
                tar.addfile(info, io.BytesIO(data))
        archive = gzip.compress(raw.getvalue(), mtime=0)
        for step in (1, 511, 4096, 1 << 20):
            out = tmp_path / f"out-{index}-{step}"
            read = read_archive(_Trickle(archive, step), out, expected_checksum=manifest.checksum)
            assert read.checksum == manifest.checksum
            for path, data in files.items():
                assert (out / path).read_bytes() == data


def test_reads_concatenated_gzip_members_and_trailing_zero_padding(tmp_path):
    # gzip readers accept both (`cat a.gz b.gz`, tape-style padding); the CRC of every member is checked.
    files = {**GOOD, "dist/big.js": os.urandom(30_000)}
    raw = gzip.decompress(with_manifest(files))
    middle = len(raw) // 2
    archive = gzip.compress(raw[:middle], mtime=0) + gzip.compress(raw[middle:], mtime=0) + bytes(1000)
    read = read_archive(io.BytesIO(archive), tmp_path / "out")
    assert (tmp_path / "out" / "dist" / "big.js").read_bytes() == files["dist/big.js"]
    assert read.checksum == manifest_for(files).checksum


def test_refuses_a_gzip_member_whose_crc_is_wrong(tmp_path):
    raw = gzip.decompress(with_manifest(GOOD))
    # The reader stops at the first end-of-archive block: keep just one, so it must reach the trailer.
    end = len(raw)
    while raw[end - 512 : end] == bytes(512):
        end -= 512
    exact = bytearray(gzip.compress(raw[:end] + bytes(512), mtime=0))
    exact[-8] ^= 0xFF  # the trailer's CRC-32: the inflated bytes are intact, their check is not
    error = refused(bytes(exact), tmp_path)
    assert "truncated or corrupt" in str(error)


# ------------------------------------------------------------------------------------ reader refusals
@pytest.mark.parametrize("name", ["/etc/passwd", "dist/../../evil.js", "../evil.js", "dist/./a.js", "dist//a.js"])
def test_refuses_absolute_and_dot_dot_paths(tmp_path, name):
    error = refused(with_manifest(GOOD, extra=[regular(name, b"x")]), tmp_path)
    assert f"archive entry {name!r} has an unsafe path" in str(error)


def test_refuses_symlinks(tmp_path):
    error = refused(with_manifest(GOOD, extra=[special("dist/link.js", tarfile.SYMTYPE, "/etc/passwd")]), tmp_path)
    assert str(error) == "archive entry 'dist/link.js' is a link; bundles hold regular files only"


def test_refuses_hardlinks(tmp_path):
    error = refused(with_manifest(GOOD, extra=[special("dist/hard.js", tarfile.LNKTYPE, "dist/a.js")]), tmp_path)
    assert str(error) == "archive entry 'dist/hard.js' is a link; bundles hold regular files only"


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE])
def test_refuses_devices_fifos_and_folders(tmp_path, kind):
    error = refused(with_manifest(GOOD, extra=[special("dist/dev", kind)]), tmp_path)
    assert f"archive entry 'dist/dev' is not a regular file (type {kind!r})" == str(error)


def test_refuses_a_file_not_in_the_manifest(tmp_path):
    error = refused(with_manifest(GOOD, extra=[regular("dist/extra.js", b"sneaky")]), tmp_path)
    assert str(error) == "archive entry 'dist/extra.js' is not listed in manifest.json"


def test_refuses_a_listed_file_that_is_missing(tmp_path):
    listed = {**GOOD, "dist/missing.js": b"gone"}
    error = refused(with_manifest(GOOD, manifest_for(listed)), tmp_path)
    assert str(error) == "manifest.json lists 'dist/missing.js' but the archive does not contain it"


def test_refuses_a_per_file_checksum_mismatch(tmp_path):
    tampered = {**GOOD, "dist/a.js": b"module.exports = 2;\n"}  # same size, other content
    error = refused(with_manifest(tampered, manifest_for(GOOD)), tmp_path)
    assert str(error).startswith("checksum mismatch for 'dist/a.js': manifest says sha256 ")


def test_refuses_a_whole_checksum_mismatch(tmp_path):
    error = refused(with_manifest(GOOD, manifest_for(GOOD, checksum="sha256:" + "0" * 64)), tmp_path)
    assert str(error).startswith("checksum mismatch: manifest says sha256:000")


def test_refuses_an_unexpected_checksum(tmp_path):
    error = refused(with_manifest(GOOD), tmp_path, expected_checksum="sha256:" + "1" * 64)
    assert str(error) == f"checksum mismatch: expected sha256:{'1' * 64}, archive holds {manifest_for(GOOD).checksum}"


def test_refuses_a_duplicate_entry(tmp_path):
    error = refused(with_manifest(GOOD, extra=[regular("dist/a.js", GOOD["dist/a.js"])]), tmp_path)
    assert str(error) == "archive entry 'dist/a.js' appears twice"


def test_refuses_a_second_manifest(tmp_path):
    second = regular("manifest.json", manifest_for(GOOD).to_json().encode())
    error = refused(with_manifest(GOOD, extra=[second]), tmp_path)
    assert str(error) == "archive entry 'manifest.json' appears twice"


def test_refuses_an_archive_without_manifest(tmp_path):
    error = refused(craft([regular(p, d) for p, d in GOOD.items()]), tmp_path)
    assert str(error) == "archive entry 'dist/a.js' comes before manifest.json, which must be the first entry"
    assert str(refused(craft([]), tmp_path)) == "archive has no manifest.json"


def test_refuses_a_manifest_that_is_not_first_before_writing_any_file(tmp_path):
    entries = [
        regular("dist/a.js", GOOD["dist/a.js"]),
        regular("manifest.json", manifest_for(GOOD).to_json().encode()),
        regular("dist/package.json", GOOD["dist/package.json"]),
    ]
    error = refused(craft(entries), tmp_path)
    assert "comes before manifest.json" in str(error)


def test_refuses_an_entry_whose_size_differs_from_the_manifest_before_reading_it(tmp_path):
    manifest = manifest_for(GOOD)
    entries = [
        regular("manifest.json", manifest.to_json().encode()),
        regular("dist/a.js", b"x" * 10_000),
        regular("dist/package.json", GOOD["dist/package.json"]),
    ]
    error = refused(craft(entries), tmp_path)
    assert (
        str(error)
        == f"size mismatch for 'dist/a.js': manifest says {len(GOOD['dist/a.js'])} bytes, the archive entry holds 10,000"
    )


@pytest.mark.parametrize("name", ["dist/a\nb.js", "dist/tab\there.js", "dist/\x7f.js", "dist/\x85.js"])
def test_refuses_control_characters_in_paths(tmp_path, name):
    # A newline in a path would let one file's checksum line pass for two (SPEC.md §3.2).
    error = refused(with_manifest(GOOD, extra=[regular(name, b"x")]), tmp_path)
    assert "unsafe path" in str(error) and "control characters" in str(error)


def pax_header_bomb(header_bytes: int) -> bytes:
    """A PAX extended header of `header_bytes` (a huge comment) in front of a manifest: ~1000x smaller packed."""
    info = tarfile.TarInfo("manifest.json")
    info.size = 2
    info.pax_headers = {"comment": "x" * header_bytes}
    raw = info.tobuf(format=tarfile.PAX_FORMAT) + b"{}" + bytes(510) + bytes(1024)
    return gzip.compress(raw, compresslevel=9, mtime=0)


def test_refuses_an_oversized_pax_header_without_reading_it_into_memory(tmp_path):
    import tracemalloc

    bomb = pax_header_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        error = refused(bomb, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "extended tar header, over the limit of 1,048,576" in str(error)
    assert peak < 4 * 1024 * 1024, f"peak {peak:,} bytes"


def pax_record(key: str, value: str) -> bytes:
    """One `<length> key=value\\n` PAX record, its length counting itself."""
    body = f" {key}={value}\n"
    length = len(body)
    while len(f"{length}{body}") != length:
        length = len(f"{length}{body}")
    return f"{length}{body}".encode()


def test_refuses_a_chain_of_extended_headers(tmp_path):
    # Each header of a chain stays in memory while tarfile recurses to the next one.
    chain = b""
    for i in range(5):
        record = pax_record("comment", f"c{i}")
        pax = tarfile.TarInfo("././@PaxHeader")
        pax.type = tarfile.XHDTYPE
        pax.size = len(record)
        chain += pax.tobuf(format=tarfile.USTAR_FORMAT) + record + bytes(-len(record) % 512)
    raw = chain + tarfile.TarInfo("manifest.json").tobuf(format=tarfile.USTAR_FORMAT) + bytes(1024)
    error = refused(gzip.compress(raw, mtime=0), tmp_path)
    assert str(error) == "archive chains more than two extended tar headers before one entry"


def test_entries_are_capped_by_the_manifest(tmp_path):
    # 20,000 empty entries in a small archive: refused at the first one not listed, nothing created.
    entries = [regular("manifest.json", manifest_for(GOOD).to_json().encode())]
    entries += [regular(p, d) for p, d in GOOD.items()]
    entries += [regular(f"dist/e{i}.js", b"") for i in range(20_000)]
    error = refused(craft(entries), tmp_path)
    assert str(error) == "archive entry 'dist/e0.js' is not listed in manifest.json"


def test_refuses_an_invalid_manifest(tmp_path):
    error = refused(craft([regular("manifest.json", b'{"schemaVersion": 1}')]), tmp_path)
    assert "manifest.json: 'bundle' must be a non-empty string" in str(error)


def test_refuses_what_is_not_gzip(tmp_path):
    assert "not a gzip'd tar archive" in str(refused(b"PK\x03\x04 this is a zip, not a bundle" * 20, tmp_path))
    assert "not a gzip'd tar archive" in str(refused(b"", tmp_path))


def test_refuses_an_uncompressed_tar(tmp_path):
    error = refused(craft([regular("manifest.json", b"{}")], compress=False), tmp_path)
    assert "not a gzip'd tar archive" in str(error)


def test_refuses_gzip_that_is_not_a_tar(tmp_path):
    error = refused(gzip.compress(b"hello, not a tar" * 100), tmp_path)
    assert "not a gzip'd tar archive" in str(error) or "truncated or corrupt" in str(error)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_refuses_a_truncated_archive(tmp_path, keep):
    archive = with_manifest({**GOOD, "dist/big.js": os.urandom(50_000)})
    error = refused(archive[: int(len(archive) * keep)], tmp_path)
    assert "truncated or corrupt" in str(error) or "not a gzip'd tar archive" in str(error)


def test_refuses_over_the_packed_limit_given_as_parameter(tmp_path):
    archive = with_manifest({**GOOD, "dist/big.js": os.urandom(20_000)})
    error = refused(archive, tmp_path, max_packed=10_000)
    assert isinstance(error, ArchiveTooLarge)
    assert "over the limit of 10,000 bytes" in str(error)


def test_refuses_a_real_archive_over_50_mb_packed(tmp_path):
    payload = os.urandom(MAX_ARCHIVE_BYTES + 1_000_000)  # random: gzip cannot shrink it under the limit
    archive = with_manifest_fast({"dist/huge.js": payload})
    assert len(archive) > MAX_ARCHIVE_BYTES
    error = refused(archive, tmp_path)
    assert isinstance(error, ArchiveTooLarge)
    assert "over the limit of 52,428,800 bytes (50 MB)" in str(error)


def with_manifest_fast(files: dict[str, bytes]) -> bytes:
    """Like `with_manifest`, stored without compression work (gzip level 0) to keep the test fast."""
    manifest = manifest_for(files)
    entries = [regular("manifest.json", manifest.to_json().encode())] + [regular(p, d) for p, d in files.items()]
    return craft(entries, level=0)


def test_refuses_over_the_unpacked_limit_given_as_parameter(tmp_path):
    files = {f"dist/{i}.js": b"x" * 4000 for i in range(5)}
    error = refused(with_manifest(files), tmp_path, max_unpacked=10_000)
    assert isinstance(error, ArchiveTooLarge)
    # Known from the manifest, before any file is unpacked.
    assert str(error) == "archive unpacks to more than 10,000 bytes (manifest.json lists 20,000); refused"


def gzip_bomb(unpacked: int, listed_size: int | None = None) -> bytes:
    """A real gzip'd tar whose one file is `unpacked` zero bytes, compressed with zlib as a stream,
    after a manifest that lists it with `listed_size` (default: its real size)."""
    import hashlib

    listed = unpacked if listed_size is None else listed_size
    entry = FileEntry("dist/bomb.js", hashlib.sha256(b"").hexdigest(), listed)
    manifest = (
        Manifest(
            bundle="b", checksum=content_checksum([entry]), files=[entry], tools=[], createdAt="2026-11-28T10:00:00Z"
        )
        .to_json()
        .encode()
    )
    manifest_info = tarfile.TarInfo("manifest.json")
    manifest_info.size = len(manifest)
    info = tarfile.TarInfo("dist/bomb.js")
    info.size = unpacked
    header = info.tobuf(format=tarfile.PAX_FORMAT)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    padded_manifest = manifest + bytes(-len(manifest) % 512)
    parts = [compressor.compress(manifest_info.tobuf(format=tarfile.PAX_FORMAT) + padded_manifest + header)]
    zeros = bytes(1 << 20)
    for _ in range(unpacked // len(zeros)):
        parts.append(compressor.compress(zeros))
    parts.append(compressor.compress(bytes(unpacked % len(zeros) + 1024)))  # tail padding and end blocks
    parts.append(compressor.flush())
    return b"".join(parts)


def test_refuses_a_real_gzip_bomb_over_256_mib_unpacked(tmp_path):
    size = MAX_UNPACKED_BYTES + (1 << 20)
    bomb = gzip_bomb(size)
    assert len(bomb) < 1_000_000  # small on disk
    error = refused(bomb, tmp_path)
    assert isinstance(error, ArchiveTooLarge)
    assert (
        str(error)
        == f"archive unpacks to more than {MAX_UNPACKED_BYTES:,} bytes (manifest.json lists {size:,}); refused"
    )
    # A manifest that understates the size is caught at the entry's header, before it is inflated.
    error = refused(gzip_bomb(size, listed_size=10), tmp_path)
    assert isinstance(error, ArchiveTooLarge)
    assert str(error) == f"archive unpacks to more than {MAX_UNPACKED_BYTES:,} bytes (at entry 'dist/bomb.js'); refused"


def test_refuses_to_unpack_into_an_existing_folder(tmp_path):
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest/keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="already exists"):
        read_archive(io.BytesIO(with_manifest(GOOD)), tmp_path / "dest")
    assert (tmp_path / "dest/keep.txt").read_text() == "mine"
