"""Store: versions, idempotence, resolution order, hashed secrets, persistence, org scoping."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat

import pytest

from mock_platform.secret_hashing import SecretHasher
from mock_platform.store import NotAMember, Store, personal_org_id
from tests.support.bundles import echo_tool, make_archive


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "data")
    yield store
    store.close()


def _add(store: Store, tmp_path, tag: str, org: str = "org-a", name: str = "tools"):
    archive, manifest = make_archive(tmp_path / tag, [echo_tool(tag=tag)], name=name)
    return store.add_bundle_version(org, manifest, archive)


def test_versions_count_up_per_name_and_identical_content_is_not_a_new_version(store, tmp_path):
    v1, created1 = _add(store, tmp_path, "a")
    v2, created2 = _add(store, tmp_path, "b")
    again, created_again = _add(store, tmp_path, "a")
    other, _ = _add(store, tmp_path, "c", name="other")
    assert (v1.version, created1, v2.version, created2) == (1, True, 2, True)
    assert (again.version, created_again, again.checksum) == (1, False, v1.checksum)
    assert other.version == 1
    assert store.archive_file(v1).read_bytes()[:2] == b"\x1f\x8b"
    assert store.archive_file(v1).name == f"sha256-{v1.archive_sha256}.tar.gz"
    assert hashlib.sha256(store.archive_file(v1).read_bytes()).hexdigest() == v1.archive_sha256
    assert [v.version for v in store.list_bundle_versions("org-a", "tools")] == [1, 2]
    assert store.get_bundle_version("org-a", "tools").version == 2  # no version: the newest


def test_resolution_prefers_the_assignment_then_the_default_and_tracks_newest(store, tmp_path):
    dep, _ = store.create_deployment("org-a", "edge")
    assert store.resolve_bundle("org-a", dep.id) is None
    _add(store, tmp_path, "a")
    store.set_default("org-a", "tools", None)
    assert store.resolve_bundle("org-a", dep.id).version == 1
    assert store.resolve_bundle("org-a", None).version == 1
    _add(store, tmp_path, "b")
    assert store.resolve_bundle("org-a", dep.id).version == 2  # tracking the newest
    store.assign("org-a", dep.id, "tools", 1)
    resolved = store.resolve_bundle("org-a", dep.id)
    assert resolved.version == 1 and resolved.archive_url == "/api/bundles/tools/versions/1/archive"
    assert resolved.to_wire()["size"] == resolved.size and resolved.tools[0]["name"] == "echo"
    assert store.resolve_bundle("org-a", None).version == 2  # the default is untouched
    assert store.unassign("org-a", dep.id) is True
    assert store.resolve_bundle("org-a", dep.id).version == 2
    store.set_default("org-a", "tools", 1)
    assert store.resolve_bundle("org-a", dep.id).version == 1
    store.assign("org-a", dep.id, "missing", None)
    assert store.resolve_bundle("org-a", dep.id) is None  # assigned to nothing uploaded: nothing to run


def test_deployment_secrets_are_hashed_and_checked(store, tmp_path):
    dep, secret = store.create_deployment("org-a", "edge")
    assert store.verify_deployment_secret(dep.id, secret) == dep
    assert store.verify_deployment_secret(dep.id, secret[:-1] + "x") is None
    assert store.verify_deployment_secret("dep-unknown", secret) is None
    raw = (
        sqlite3.connect(tmp_path / "data" / "platform.db").execute("SELECT secret_hash FROM deployments").fetchone()[0]
    )
    assert secret not in raw and raw.startswith("hmac-sha256$")  # a keyed SHA-256, not scrypt
    new = store.rotate_secret("org-a", dep.id)
    assert store.verify_deployment_secret(dep.id, secret) is None
    assert store.verify_deployment_secret(dep.id, new) is not None
    assert store.rotate_secret("org-b", dep.id) is None  # another org cannot rotate it


def test_secret_hash_format():
    hasher = SecretHasher(b"k" * 32)
    stored = hasher.hash("s3cret")
    assert hasher.matches("s3cret", stored) and not hasher.matches("s3cret!", stored)
    assert SecretHasher(b"j" * 32).hash("s3cret") != stored  # keyed: another server key, another hash
    assert not hasher.matches("s3cret", "garbage") and not hasher.matches("s3cret", "md5$1$2$3$ab$cd")
    assert not hasher.matches("s3cret", "scrypt$x$8$1$zz$00")  # a malformed old row is refused, not a crash


def _legacy_scrypt(secret: str) -> str:
    """A row as the platform wrote it before HMAC (scrypt, N=2**14, r=8, p=1)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


def test_server_key_is_created_once_with_mode_0600(tmp_path):
    first = Store(tmp_path / "data")
    key_file = tmp_path / "data" / "deployment-secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    key = key_file.read_bytes()
    first.close()
    Store(tmp_path / "data").close()
    assert key_file.read_bytes() == key


def test_old_scrypt_rows_still_authenticate_and_are_rewritten_as_hmac(store, tmp_path):
    dep, _ = store.create_deployment("org-a", "edge")
    db = sqlite3.connect(tmp_path / "data" / "platform.db")
    db.execute("UPDATE deployments SET secret_hash = ? WHERE id = ?", (_legacy_scrypt("ecs_old-secret"), dep.id))
    db.commit()
    assert store.verify_deployment_secret(dep.id, "ecs_old-secret!") is None  # wrong secret: refused, row untouched
    assert db.execute("SELECT secret_hash FROM deployments").fetchone()[0].startswith("scrypt$")
    assert store.verify_deployment_secret(dep.id, "ecs_old-secret") == dep
    assert db.execute("SELECT secret_hash FROM deployments").fetchone()[0].startswith("hmac-sha256$")
    assert store.verify_deployment_secret(dep.id, "ecs_old-secret") == dep  # and still valid once migrated
    assert store.verify_deployment_secret(dep.id, "ecs_wrong") is None


def test_everything_is_scoped_to_an_org(store, tmp_path):
    dep, _ = store.create_deployment("org-a", "edge")
    _add(store, tmp_path, "a")
    assert store.get_deployment("org-b", dep.id) is None
    assert store.list_deployments("org-b") == []
    assert store.list_bundle_versions("org-b") == []
    assert store.get_bundle_version("org-b", "tools", 1) is None
    assert store.delete_deployment("org-b", dep.id) is False
    assert store.unassign("org-b", dep.id) is False
    assert store.get_deployment("org-a", dep.id) == dep


def test_deleting_a_deployment_drops_its_assignment(store, tmp_path):
    dep, _ = store.create_deployment("org-a", "edge")
    _add(store, tmp_path, "a")
    store.assign("org-a", dep.id, "tools", 1)
    assert store.delete_deployment("org-a", dep.id) is True
    assert store.list_assignments("org-a") == []
    assert store.get_deployment("org-a", dep.id) is None


def test_state_survives_reopening(tmp_path):
    first = Store(tmp_path / "data")
    dep, secret = first.create_deployment("org-a", "edge")
    version, _ = _add(first, tmp_path, "a")
    first.set_default("org-a", "tools", None)
    first.assign("org-a", dep.id, "tools", 1)
    sub, org, orgs = first.sign_in("Ada@Example.com", "org-a")
    first.close()

    second = Store(tmp_path / "data")
    try:
        assert second.get_deployment("org-a", dep.id) == dep
        assert second.verify_deployment_secret(dep.id, secret) == dep
        assert second.get_bundle_version("org-a", "tools", 1) == version
        assert second.get_default("org-a").name == "tools"
        assert second.get_assignment("org-a", dep.id).version == 1
        assert second.sign_in("ada@example.com") == (sub, org, orgs)
        assert second.archive_file(version).exists()
    finally:
        second.close()
    assert sqlite3.connect(tmp_path / "data" / "platform.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sign_in_without_an_org_makes_a_personal_one(store):
    sub, org, orgs = store.sign_in("grace@example.com")
    assert sub == "grace@example.com" and org.startswith("org-grace-") and orgs == {org: "owner"}
    _, joined, orgs = store.sign_in("grace@example.com", "org-team")
    assert joined == "org-team" and list(orgs) == ["org-team", org]
    _, again, _ = store.sign_in("grace@example.com")
    assert again == org  # the first org stays the default


def test_personal_org_ids_cannot_be_derived_from_the_email(store):
    # A derivable id could be created first by someone else, who would then own the victim's org.
    assert personal_org_id("grace@example.com") != personal_org_id("grace@example.com")
    _, first, _ = store.sign_in("grace@example.com")
    assert first != Store(store.data_dir / "other").sign_in("grace@example.com")[1]


def test_an_existing_org_admits_only_members_and_invitees(store):
    _, org, _ = store.sign_in("owner@example.com", "org-acme")
    with pytest.raises(NotAMember) as refused:
        store.sign_in("mallory@example.com", "org-acme")
    assert refused.value.org_id == "org-acme"
    assert store.list_members("org-acme") == [("owner@example.com", "owner")]
    store.invite("org-acme", "Bob@Example.com", "member", invited_by="owner@example.com")
    assert store.list_invites("org-acme") == [("bob@example.com", "member")]
    _, joined, orgs = store.sign_in("bob@example.com", "org-acme")
    assert joined == "org-acme" and orgs["org-acme"] == "member"
    assert store.list_invites("org-acme") == []  # an invite is used once
    assert store.list_members("org-acme") == [("owner@example.com", "owner"), ("bob@example.com", "member")]
    assert store.role_of("bob@example.com", "org-acme") == "member"
    assert store.role_of("mallory@example.com", "org-acme") is None


def test_checksums_must_look_like_checksums(store):
    with pytest.raises(ValueError):
        store._legacy_archive_path("sha256:../../etc/passwd", "x")


def test_identical_files_under_another_name_get_an_archive_naming_that_bundle(store, tmp_path):
    import tarfile

    from edge_protocol.manifest import Manifest

    first, _ = _add(store, tmp_path, "same", org="org-a", name="alpha")
    renamed, _ = _add(store, tmp_path / "other", "same", org="org-b", name="beta")
    assert first.checksum == renamed.checksum
    with tarfile.open(store.archive_file(renamed)) as tar:
        assert Manifest.from_json(tar.extractfile("manifest.json").read()).bundle == "beta"
    with tarfile.open(store.archive_file(first)) as tar:
        assert Manifest.from_json(tar.extractfile("manifest.json").read()).bundle == "alpha"


def test_another_orgs_manifest_for_the_same_files_never_replaces_yours(store, tmp_path):
    # Issue 12 hole 3: archives keyed by the files' checksum alone let org B's version point at
    # org A's archive (whose manifest differs), and its size told B that A had uploaded that content.
    import tarfile

    from edge_protocol.manifest import Manifest
    from tests.support.bundles import pack_bundle, write_bundle

    root = tmp_path / "a"
    manifest_a = write_bundle(root, [echo_tool()], name="tools")
    theirs, _ = store.add_bundle_version("org-a", manifest_a, pack_bundle(root, manifest_a, tmp_path / "a.tar.gz"))
    data = manifest_a.to_dict()
    data["tools"][0]["description"] = "org B's own words"
    manifest_b = Manifest.from_dict(data)
    assert manifest_b.checksum == manifest_a.checksum
    mine, created = store.add_bundle_version("org-b", manifest_b, pack_bundle(root, manifest_b, tmp_path / "b.tar.gz"))
    assert created and store.archive_file(mine) != store.archive_file(theirs)
    with tarfile.open(store.archive_file(mine)) as tar:
        assert Manifest.from_json(tar.extractfile("manifest.json").read()).tools[0].description == "org B's own words"
    with tarfile.open(store.archive_file(theirs)) as tar:
        assert Manifest.from_json(tar.extractfile("manifest.json").read()).tools[0].description != "org B's own words"
    assert mine.size == store.archive_file(mine).stat().st_size


def test_versions_stored_before_archive_hashes_are_still_served(tmp_path):
    data = tmp_path / "old"
    store = Store(data)
    record, _ = _add(store, tmp_path, "legacy")
    legacy = store.archives_dir / (record.checksum.removeprefix("sha256:") + ".tar.gz")
    store.archive_file(record).rename(legacy)
    store._db.execute("UPDATE bundle_versions SET archive_sha256 = NULL")
    store.close()
    reopened = Store(data)
    try:
        again = reopened.get_bundle_version("org-a", "tools", record.version)
        assert again.archive_sha256 is None and reopened.archive_file(again) == legacy
    finally:
        reopened.close()


def test_replicas_default_to_one_are_stored_and_updated(store):
    single, _ = store.create_deployment("org-a", "one")
    triple, _ = store.create_deployment("org-a", "three", replicas=3)
    assert (single.replicas, store.get_deployment("org-a", triple.id).replicas) == (1, 3)
    assert store.set_replicas("org-a", single.id, 5).replicas == 5
    assert store.set_replicas("org-b", single.id, 7) is None  # another org's id changes nothing
    assert {d.name: d.replicas for d in store.list_deployments("org-a")} == {"one": 5, "three": 3}


def test_a_data_dir_from_before_replicas_is_migrated_with_one_replica_each(tmp_path):
    data = tmp_path / "old"
    data.mkdir()
    db = sqlite3.connect(data / "platform.db")
    db.executescript("""
        CREATE TABLE deployments (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL,
                                  secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, secret_rotated_at TEXT);
        INSERT INTO deployments VALUES ('dep-old', 'org-a', 'legacy', 'x', '2026-01-01T00:00:00Z', NULL);
    """)
    db.close()
    store = Store(data)
    try:
        assert store.get_deployment("org-a", "dep-old").replicas == 1
        assert store.set_replicas("org-a", "dep-old", 2).replicas == 2
    finally:
        store.close()
    reopened = Store(data)  # the migration runs once; opening again keeps the value
    try:
        assert reopened.get_deployment("org-a", "dep-old").replicas == 2
    finally:
        reopened.close()


def test_a_failed_begin_does_not_leave_the_store_locked(tmp_path):
    import threading

    store = Store(tmp_path / "data")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.sign_in("a@example.com")  # BEGIN on a closed database
    closed = threading.Thread(target=store.close)
    closed.start()
    closed.join(5)
    assert not closed.is_alive(), "the store lock leaked when BEGIN failed"
    store.ensure_open()
    assert store.sign_in("a@example.com")[0] == "a@example.com"
    store.close()
