"""The manifest model (SPEC.md §3.2): parsing refusals and the sha256sum-compatible checksum."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edge_protocol.manifest import (
    FileEntry,
    Manifest,
    ManifestError,
    checksum_lines,
    content_checksum,
    file_entry_for,
    is_safe_relative_path,
)

SHA_A = "a" * 64
SHA_B = "b" * 64


def valid() -> dict:
    files: list[dict[str, Any]] = [
        {"path": "dist/echo.js", "sha256": SHA_A, "size": 10},
        {"path": "dist/b.js", "sha256": SHA_B, "size": 0},
    ]
    return {
        "schemaVersion": 1,
        "bundle": "my-tools",
        "version": None,
        "checksum": content_checksum([FileEntry(**f) for f in files]),
        "createdAt": "2026-11-28T10:00:00Z",
        "builder": {"edgeConnector": "0.1.0", "esbuild": "0.28.2"},
        "files": files,
        "tools": [
            {
                "name": "echo",
                "description": "Echo",
                "inputSchema": {"type": "object"},
                "outputSchema": None,
                "timeoutMs": 10000,
                "entry": "dist/echo.js",
            }
        ],
    }


def test_a_valid_manifest_round_trips_through_json():
    manifest = Manifest.from_dict(valid())
    assert manifest.to_dict() == valid()
    assert Manifest.from_json(manifest.to_json()).to_dict() == valid()
    assert list(json.loads(manifest.to_json())) == [
        "schemaVersion",
        "bundle",
        "version",
        "checksum",
        "createdAt",
        "builder",
        "files",
        "tools",
    ]
    manifest.verify_checksum()
    assert manifest.ref() == {"name": "my-tools", "version": None, "checksum": valid()["checksum"]}
    assert manifest.with_version(3).version == 3 and manifest.version is None
    assert manifest.tool("echo").timeoutMs == 10000 and manifest.tool("nope") is None


def test_timeout_defaults_to_30_seconds():
    data = valid()
    del data["tools"][0]["timeoutMs"]
    assert Manifest.from_dict(data).tools[0].timeoutMs == 30_000
    data["tools"][0]["timeoutMs"] = None
    assert Manifest.from_dict(data).tools[0].timeoutMs == 30_000


def mutated(change) -> dict:
    data = copy.deepcopy(valid())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schemaVersion=2), "schemaVersion 2; this edge-connector reads 1"),
        (lambda d: d.update(bundle=""), "'bundle' must be a non-empty string"),
        (lambda d: d.update(checksum="sha256:XYZ"), "'checksum' must be 'sha256:' followed by 64 lowercase hex"),
        (lambda d: d.update(checksum="md5:" + "a" * 64), "'checksum' must be 'sha256:'"),
        (lambda d: d.update(version=0), "'version' must be null or a positive integer"),
        (lambda d: d.update(version=True), "'version' must be null or a positive integer"),
        (lambda d: d.update(files={}), "'files' must be a list"),
        (lambda d: d.update(tools=None), "'tools' must be a list"),
        (lambda d: d["files"].append("dist/x.js"), "files[2] must be an object"),
        (lambda d: d["files"][0].update(path="/etc/passwd"), "files[0].path '/etc/passwd' is not a safe relative path"),
        (lambda d: d["files"][0].update(path="dist/../../x.js"), "files[0].path 'dist/../../x.js' is not a safe"),
        (lambda d: d["files"][0].update(path="dist\\x.js"), "is not a safe relative path"),
        (lambda d: d["files"][0].update(sha256="A" * 64), "files[0].sha256 must be 64 lowercase hex digits"),
        (lambda d: d["files"][0].update(size=-1), "files[0].size must be a non-negative integer"),
        (lambda d: d["files"][0].update(size="10"), "files[0].size must be a non-negative integer"),
        (lambda d: d["files"].append(dict(d["files"][0])), "path 'dist/echo.js' is listed twice in 'files'"),
        (lambda d: d["tools"].append(7), "tools[1] must be an object"),
        (lambda d: d["tools"][0].update(name="9lives"), "tools[0].name '9lives' must match"),
        (lambda d: d["tools"][0].update(name="x" * 65), "must match"),
        (
            lambda d: d["tools"][0].update(entry="dist/other.js"),
            "tool 'echo' has entry 'dist/other.js', which is not in 'files'",
        ),
        (lambda d: d["tools"][0].pop("inputSchema"), "tool 'echo' needs an 'inputSchema' object"),
        (lambda d: d["tools"][0].update(outputSchema=[]), "tool 'echo' has an 'outputSchema' that is not an object"),
        (lambda d: d["tools"][0].update(timeoutMs=0), "tool 'echo' has timeoutMs 0; use a positive integer"),
        (lambda d: d["tools"].append(dict(d["tools"][0])), "tool name 'echo' is used by more than one tool"),
        (lambda d: d.update(builder=[]), "'builder' must be an object"),
    ],
)
def test_parsing_refuses_bad_manifests_naming_the_field(change, message):
    with pytest.raises(ManifestError) as caught:
        Manifest.from_dict(mutated(change))
    assert message in str(caught.value)


def test_parsing_refuses_non_objects_and_bad_json(tmp_path):
    with pytest.raises(ManifestError, match="must hold a JSON object"):
        Manifest.from_dict([])
    with pytest.raises(ManifestError, match="manifest.json is not valid JSON"):
        Manifest.from_json(b"{nope")
    (tmp_path / "manifest.json").write_text(json.dumps(valid()))
    assert Manifest.load(tmp_path / "manifest.json").bundle == "my-tools"


def test_verify_checksum_refuses_a_manifest_whose_files_do_not_give_its_checksum():
    data = valid()
    data["checksum"] = "sha256:" + "0" * 64
    with pytest.raises(ManifestError, match="does not match its files"):
        Manifest.from_dict(data).verify_checksum()


def test_checksum_lines_are_sorted_by_path_bytes_like_sha256sum_prints():
    files = [FileEntry("dist/b.js", SHA_B, 1), FileEntry("dist/B.js", SHA_A, 1), FileEntry("dist/a.js", SHA_A, 1)]
    assert checksum_lines(files) == f"{SHA_A}  dist/B.js\n{SHA_A}  dist/a.js\n{SHA_B}  dist/b.js\n"
    expected = hashlib.sha256(checksum_lines(files).encode()).hexdigest()
    assert content_checksum(files) == f"sha256:{expected}"
    assert content_checksum(reversed(files)) == content_checksum(files)


def test_content_checksum_equals_the_real_sha256sum_of_the_files(tmp_path):
    contents = {
        "dist/echo.js": b"module.exports = 1;\n",
        "dist/Z.js": b"",
        "dist/sub/deep.js": bytes(range(256)) * 5000,
        "dist/\u00e9t\u00e9.js": "caf\u00e9".encode(),
    }
    for path, data in contents.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    entries = [file_entry_for(tmp_path, path) for path in contents]
    assert [e.size for e in entries] == [len(d) for d in contents.values()]
    ordered = sorted(contents, key=lambda p: p.encode())
    listing = subprocess.run(["sha256sum", *ordered], cwd=tmp_path, capture_output=True, check=True).stdout
    assert listing.decode() == checksum_lines(entries)
    whole = subprocess.run(["sha256sum"], input=listing, capture_output=True, check=True).stdout.split()[0].decode()
    assert content_checksum(entries) == f"sha256:{whole}"


@pytest.mark.parametrize("path", ["dist/a.js", "a", "dist/sub/x.y.js", "..a/b", "a..b"])
def test_safe_relative_paths(path):
    assert is_safe_relative_path(path)


@pytest.mark.parametrize("path", ["", "/a", "a/../b", "..", "./a", "a//b", "a/", "C:/x", "a\\b", "a\x00b", "a/./b"])
def test_unsafe_relative_paths(path):
    assert not is_safe_relative_path(path)


def test_file_entry_for_hashes_large_files_in_chunks(tmp_path):
    data = b"x" * (3 * (1 << 20) + 7)
    (tmp_path / "big.bin").write_bytes(data)
    entry = file_entry_for(Path(tmp_path), "big.bin")
    assert entry == FileEntry("big.bin", hashlib.sha256(data).hexdigest(), len(data))


# ------------------------------------------------------------------------------------ caps (issue: quadratic checks)
def _wide_manifest(files: int, tools: int) -> dict:
    import hashlib

    from edge_protocol.manifest import FileEntry, content_checksum

    files_listed = [FileEntry(f"dist/f{i}.js", hashlib.sha256(str(i).encode()).hexdigest(), 1) for i in range(files)]
    return {
        "schemaVersion": 1,
        "bundle": "wide",
        "version": None,
        "checksum": content_checksum(files_listed),
        "createdAt": "",
        "builder": {},
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in files_listed],
        "tools": [{"name": f"t{i}", "inputSchema": {}, "entry": f"dist/f{i}.js"} for i in range(tools)],
    }


def test_the_largest_allowed_manifest_parses_in_linear_time():
    import time

    from edge_protocol.limits import MAX_BUNDLE_FILES, MAX_BUNDLE_TOOLS

    data = _wide_manifest(MAX_BUNDLE_FILES, MAX_BUNDLE_TOOLS)
    started = time.process_time()
    manifest = Manifest.from_dict(data)
    spent = time.process_time() - started
    assert len(manifest.files) == MAX_BUNDLE_FILES and len(manifest.tools) == MAX_BUNDLE_TOOLS
    assert spent < 1.0, f"{spent:.2f} s of CPU for the largest manifest"  # quadratic checks took ~10 s here


@pytest.mark.parametrize(
    "files,tools,words",
    [
        (10_001, 1, "lists 10,001 files, over the limit of 10,000 per bundle"),
        (1_001, 1_001, "lists 1,001 tools, over the limit of 1,000 per bundle"),
    ],
)
def test_too_many_files_or_tools_are_refused(files, tools, words):
    with pytest.raises(ManifestError, match=words):
        Manifest.from_dict(_wide_manifest(files, tools))


def test_an_oversized_manifest_is_refused_before_parsing():
    from edge_protocol.limits import MAX_MANIFEST_BYTES

    with pytest.raises(ManifestError, match="over the limit of"):
        Manifest.from_json(b" " * (MAX_MANIFEST_BYTES + 1))


def test_an_unhashable_entry_is_a_clear_error():
    data = _wide_manifest(1, 1)
    data["tools"][0]["entry"] = ["dist/f0.js"]
    with pytest.raises(ManifestError, match="which is not in 'files'"):
        Manifest.from_dict(data)


@pytest.mark.parametrize("path", ["dist/a\nb.js", "dist/\tx.js", "dist/\x1b[31m.js"])
def test_paths_with_control_characters_are_refused(path):
    data = _wide_manifest(1, 1)
    data["files"][0]["path"] = path
    with pytest.raises(ManifestError, match="control characters"):
        Manifest.from_dict(data)
