"""The archive zoo: malicious and broken bundle archives, each built in memory by a small recipe.

Every entry names what it attacks. All are refused by `edge_protocol.archive.read_archive`, which
both the platform (upload) and the runtime (sync) use; the tests check both ends.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from edge_protocol.limits import MAX_MANIFEST_BYTES, MAX_UNPACKED_BYTES

BUNDLE = "zoo"
GOOD_FILES = {
    "dist/echo.js": b'"use strict";\nmodule.exports = { default: { name: "echo", description: "e", '
    b'inputSchema: { type: "object" }, run: async (input) => ({ tag: "zoo", input }) } };\n',
    "dist/package.json": b'{"type":"commonjs"}\n',
}


def entry(path: str, data: bytes) -> dict:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def checksum_of(entries: list[dict]) -> str:
    lines = "".join(f"{e['sha256']}  {e['path']}\n" for e in sorted(entries, key=lambda e: e["path"].encode()))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def manifest_bytes(
    files: dict[str, bytes] | None = None,
    *,
    entries: list[dict] | None = None,
    checksum: str | None = None,
    bundle: str = BUNDLE,
    tools: list[dict] | None = None,
) -> bytes:
    entries = entries if entries is not None else [entry(p, d) for p, d in sorted((files or GOOD_FILES).items())]
    data = {
        "schemaVersion": 1,
        "bundle": bundle,
        "version": None,
        "checksum": checksum or checksum_of(entries),
        "createdAt": "2026-11-28T10:00:00Z",
        "builder": {},
        "files": entries,
        "tools": tools
        if tools is not None
        else [{"name": "echo", "description": "e", "inputSchema": {"type": "object"}, "entry": "dist/echo.js"}],
    }
    return json.dumps(data).encode()


def info(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    item = tarfile.TarInfo(name)
    item.size, item.type, item.linkname, item.mode = size, kind, link, 0o644
    return item


def tar_of(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for item, data in members:
            tar.addfile(item, io.BytesIO(data) if item.isreg() else None)
    return raw.getvalue()


def gz(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=9, mtime=0)


def with_good(*extra: tuple[tarfile.TarInfo, bytes], manifest: bytes | None = None) -> bytes:
    members = [(info("manifest.json", len(manifest or manifest_bytes())), manifest or manifest_bytes())]
    members += [(info(p, len(d)), d) for p, d in GOOD_FILES.items()]
    return gz(tar_of(members + list(extra)))


def streamed_bomb(file_size: int, listed_size: int) -> bytes:
    """A gzip'd tar of one `file_size`-byte file of zeros (listed as `listed_size`), never held whole."""
    entries = [{"path": "dist/bomb.js", "sha256": hashlib.sha256(b"").hexdigest(), "size": listed_size}]
    manifest = manifest_bytes(entries=entries, tools=[])
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = info("manifest.json", len(manifest)).tobuf(tarfile.PAX_FORMAT) + manifest + bytes(-len(manifest) % 512)
    parts = [compressor.compress(head + info("dist/bomb.js", file_size).tobuf(tarfile.PAX_FORMAT))]
    zeros = bytes(1 << 20)
    for _ in range(file_size // len(zeros)):
        parts.append(compressor.compress(zeros))
    parts.append(compressor.compress(bytes(file_size % len(zeros) + 1024)))
    return b"".join(parts) + compressor.flush()


def pax_bomb(header_bytes: int) -> bytes:
    item = info("manifest.json", 2)
    item.pax_headers = {"comment": "x" * header_bytes}
    return gz(item.tobuf(tarfile.PAX_FORMAT) + b"{}" + bytes(510) + bytes(1024))


def gnu_longname_bomb(name_bytes: int) -> bytes:
    long = info("dist/" + "a" * name_bytes, 1)
    return gz(tar_of([(long, b"x")], fmt=tarfile.GNU_FORMAT))


def pax_chain(length: int) -> bytes:
    raw = b""
    for n in range(length):
        body = f" comment=c{n}\n"
        size = len(body)
        while len(f"{size}{body}") != size:
            size = len(f"{size}{body}")
        record = f"{size}{body}".encode()
        header = info("././@PaxHeader", len(record), tarfile.XHDTYPE)
        raw += header.tobuf(tarfile.USTAR_FORMAT) + record + bytes(-len(record) % 512)
    return gz(raw + info("manifest.json").tobuf(tarfile.USTAR_FORMAT) + bytes(1024))


def global_pax_header() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global"}) as tar:
        data = manifest_bytes()
        tar.addfile(info("manifest.json", len(data)), io.BytesIO(data))
    return gz(raw.getvalue())


def sparse_member() -> bytes:
    item = info("dist/echo.js", len(GOOD_FILES["dist/echo.js"]), tarfile.GNUTYPE_SPARSE)
    raw = tar_of([(info("manifest.json", len(manifest_bytes())), manifest_bytes())], fmt=tarfile.GNU_FORMAT)
    header = item.tobuf(tarfile.GNU_FORMAT)
    return gz(
        raw[:-1024] + header + GOOD_FILES["dist/echo.js"] + bytes(-len(GOOD_FILES["dist/echo.js"]) % 512) + bytes(1024)
    )


def truncated() -> bytes:
    whole = with_good((info("dist/big.js", 200_000), bytes(range(256)) * 782))
    return whole[: len(whole) // 2]


def wrong_file_checksum() -> bytes:
    entries = [entry(p, d) for p, d in sorted(GOOD_FILES.items())]
    entries[0] = {**entries[0], "sha256": "0" * 64}
    return with_good(manifest=manifest_bytes(entries=entries))


def many_files_manifest() -> bytes:
    entries = [entry(f"dist/f{n}.js", b"") for n in range(10_001)]
    data = manifest_bytes(entries=entries, tools=[])
    return gz(tar_of([(info("manifest.json", len(data)), data)]))


def oversized_manifest() -> bytes:
    data = manifest_bytes()[:-1] + b', "padding": "' + b"x" * MAX_MANIFEST_BYTES + b'"}'
    return gz(tar_of([(info("manifest.json", len(data)), data)]))


def entry_bomb() -> bytes:
    return with_good(*[(info(f"dist/e{n}.js", 0), b"") for n in range(20_000)])


def manifest_not_first() -> bytes:
    members = [(info(p, len(d)), d) for p, d in GOOD_FILES.items()]
    members.insert(1, (info("manifest.json", len(manifest_bytes())), manifest_bytes()))
    return gz(tar_of(members))


@dataclass(frozen=True)
class Specimen:
    name: str
    build: Callable[[], bytes]
    #: what the upload is told the checksum is (None: the manifest's own, when it has one)
    claimed_checksum: str | None = None


ZOO: list[Specimen] = [
    Specimen("path traversal", lambda: with_good((info("../evil.js", 1), b"x"))),
    Specimen("absolute path", lambda: with_good((info("/tmp/evil.js", 1), b"x"))),
    Specimen("symlink", lambda: with_good((info("dist/link.js", 0, tarfile.SYMTYPE, "/etc/passwd"), b""))),
    Specimen("hardlink", lambda: with_good((info("dist/hard.js", 0, tarfile.LNKTYPE, "dist/echo.js"), b""))),
    Specimen("character device", lambda: with_good((info("dist/tty", 0, tarfile.CHRTYPE), b""))),
    Specimen("block device", lambda: with_good((info("dist/sda", 0, tarfile.BLKTYPE), b""))),
    Specimen("FIFO", lambda: with_good((info("dist/fifo", 0, tarfile.FIFOTYPE), b""))),
    Specimen("directory entry", lambda: with_good((info("dist/sub", 0, tarfile.DIRTYPE), b""))),
    Specimen("duplicate entry", lambda: with_good((info("dist/echo.js", 4), b"evil"))),
    Specimen("second manifest", lambda: with_good((info("manifest.json", len(manifest_bytes())), manifest_bytes()))),
    Specimen("PAX header bomb (64 MiB header)", lambda: pax_bomb(64 * 1024 * 1024)),
    Specimen("GNU long-name bomb (8 MiB name)", lambda: gnu_longname_bomb(8 * 1024 * 1024)),
    Specimen("chain of PAX headers", lambda: pax_chain(50)),
    Specimen("global PAX header", global_pax_header),
    Specimen("sparse file", sparse_member),
    Specimen("entry bomb (20,000 unlisted entries)", entry_bomb),
    Specimen(
        "gzip bomb over 256 MiB, listed",
        lambda: streamed_bomb(MAX_UNPACKED_BYTES + (1 << 20), MAX_UNPACKED_BYTES + (1 << 20)),
    ),
    Specimen("gzip bomb over 256 MiB, size understated", lambda: streamed_bomb(MAX_UNPACKED_BYTES + (1 << 20), 0)),
    Specimen("truncated", truncated),
    Specimen("wrong file checksum", wrong_file_checksum),
    Specimen("whole checksum not the one claimed", lambda: with_good(), claimed_checksum="sha256:" + "1" * 64),
    Specimen("file not in the manifest", lambda: with_good((info("dist/extra.js", 6), b"sneaky"))),
    Specimen(
        "manifest lists a missing file",
        lambda: with_good(manifest=manifest_bytes({**GOOD_FILES, "dist/missing.js": b"gone"})),
    ),
    Specimen("newline in a path", lambda: with_good((info("dist/a\nb.js", 1), b"x"))),
    Specimen("manifest not first", manifest_not_first),
    Specimen("no manifest", lambda: gz(tar_of([(info(p, len(d)), d) for p, d in GOOD_FILES.items()]))),
    Specimen("manifest over 8 MiB", oversized_manifest),
    Specimen("10,001 files listed", many_files_manifest),
    Specimen("manifest not JSON", lambda: gz(tar_of([(info("manifest.json", 9), b"{not json")]))),
    Specimen("not gzip", lambda: b"PK\x03\x04 this is a zip file, not a bundle" * 10),
    Specimen("uncompressed tar", lambda: tar_of([(info("manifest.json", len(manifest_bytes())), manifest_bytes())])),
]


def claimed_checksum(specimen: Specimen, archive: bytes) -> str:
    """The X-Bundle-Checksum an attacker would send: the manifest's own when there is one."""
    if specimen.claimed_checksum:
        return specimen.claimed_checksum
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            first = tar.next()
            if first is not None and first.name == "manifest.json" and first.size < 1 << 20:
                handle = tar.extractfile(first)
                found = json.loads(handle.read()).get("checksum") if handle else None
                if isinstance(found, str):
                    return found
    except Exception:  # a broken archive: any well-formed value will do
        pass
    return "sha256:" + "0" * 64
