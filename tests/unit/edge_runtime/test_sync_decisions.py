"""The I/O-free parts of bundle sync: what a trigger decides, how a wire reference is read."""

from __future__ import annotations

import pytest

from edge_protocol.manifest import Manifest
from edge_runtime.sync import BundleRef, Decision, SyncError, bundle_ref_from_wire, decide

CHECKSUM_A = "sha256:" + "a" * 64
CHECKSUM_B = "sha256:" + "b" * 64


def manifest(checksum: str) -> Manifest:
    return Manifest(bundle="tools", checksum=checksum, files=[], tools=[], createdAt="", version=1)


def test_decide():
    ref = BundleRef("tools", 2, CHECKSUM_B)
    assert decide(None, None) is Decision.NOTHING_ASSIGNED
    assert decide(None, manifest(CHECKSUM_A)) is Decision.NOTHING_ASSIGNED
    assert decide(ref, None) is Decision.DOWNLOAD
    assert decide(ref, manifest(CHECKSUM_A)) is Decision.DOWNLOAD
    assert decide(ref, manifest(CHECKSUM_B)) is Decision.UP_TO_DATE


def test_ref_from_hello_keeps_the_archive_url_and_size():
    ref = bundle_ref_from_wire(
        {
            "name": "tools",
            "version": 3,
            "checksum": CHECKSUM_A,
            "size": 120,
            "archiveUrl": "/api/bundles/tools/versions/3/archive",
        }
    )
    assert ref == BundleRef("tools", 3, CHECKSUM_A, 120, "/api/bundles/tools/versions/3/archive")
    assert ref.to_wire() == {
        "name": "tools",
        "version": 3,
        "checksum": CHECKSUM_A,
        "size": 120,
        "archiveUrl": "/api/bundles/tools/versions/3/archive",
    }


def test_ref_from_a_push_derives_the_archive_url():
    assert (
        bundle_ref_from_wire({"name": "tools", "version": 7, "checksum": CHECKSUM_A}).url
        == "/api/bundles/tools/versions/7/archive"
    )
    assert (
        bundle_ref_from_wire({"name": "@acme/tools", "version": 1, "checksum": CHECKSUM_A}).url
        == "/api/bundles/@acme/tools/versions/1/archive"
    )
    assert bundle_ref_from_wire(None) is None


@pytest.mark.parametrize("bad", ["tools", {"name": "tools"}, {"checksum": CHECKSUM_A}, [1]])
def test_malformed_refs_are_a_sync_error(bad):
    with pytest.raises(SyncError, match="malformed bundle reference"):
        bundle_ref_from_wire(bad)


@pytest.mark.parametrize(
    "url,allowed",
    [
        ("/api/bundles/tools/versions/2/archive", True),
        ("http://127.0.0.1:8000/api/bundles/tools/versions/2/archive", True),
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.1:9999/archive", False),  # another port
        ("http://evil.example/archive", False),  # another host would receive the bearer token
        ("https://127.0.0.1:8000/archive", False),  # another scheme
        ("//evil.example/archive", False),  # scheme-relative
        ("http://127.0.0.1:8000@evil.example/archive", False),
        ("relative/path", False),
    ],
)
def test_archive_urls_are_followed_only_on_the_platforms_origin(url, allowed):
    from edge_runtime.sync import archive_url_allowed

    assert archive_url_allowed(url, "http://127.0.0.1:8000") is allowed
