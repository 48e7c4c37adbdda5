"""The mock platform's publishing API over real HTTP on 127.0.0.1: uploads, assignments, auth, isolation."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import uuid
from pathlib import Path

import httpx
import jwt
import pytest

from edge_protocol.limits import MAX_ARCHIVE_BYTES
from tests.support.bundles import echo_tool, make_archive
from tests.support.platform import PlatformProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = PlatformProcess(tmp_path_factory.mktemp("platform-api") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


class Org:
    """A fresh organization on the shared server: tests never see each other's data."""

    def __init__(self, server: PlatformProcess) -> None:
        self.server = server
        self.org_id = f"org-{uuid.uuid4().hex[:10]}"
        self.token = server.user_token(f"{self.org_id}@example.com", self.org_id)
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def upload(self, archive: Path, checksum: str, name: str = "test-tools") -> httpx.Response:
        return self.http.post(
            f"/api/bundles/{name}/versions", content=archive.read_bytes(), headers={"X-Bundle-Checksum": checksum}
        )

    def deployment(self, name: str = "edge") -> dict:
        response = self.http.post("/api/deployments", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def org(server):
    org = Org(server)
    yield org
    org.http.close()


def _error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


def test_upload_list_set_default_assign_and_resolve(org, tmp_path):
    v1, m1 = make_archive(tmp_path / "v1", [echo_tool(tag="one")])
    v2, m2 = make_archive(tmp_path / "v2", [echo_tool(tag="two"), echo_tool("other")])

    first = org.upload(v1, m1.checksum)
    assert first.status_code == 201
    assert first.json()["version"] == 1 and first.json()["checksum"] == m1.checksum
    assert [t["name"] for t in first.json()["tools"]] == ["echo"]
    second = org.upload(v2, m2.checksum)
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["size"] == v2.stat().st_size

    listing = org.http.get("/api/bundles").json()
    (bundle,) = listing["bundles"]
    assert [v["version"] for v in bundle["versions"]] == [1, 2]
    assert listing["default"] is None and listing["assignments"] == []

    # No default yet: a connector has nothing to run.
    assert org.http.get("/api/connectors/assignment").json() == {"assignedBundle": None}

    # Default without a version tracks the newest.
    assert org.http.put("/api/bundles/default", json={"name": "test-tools"}).status_code == 200
    assigned = org.http.get("/api/connectors/assignment").json()["assignedBundle"]
    assert assigned == {
        "name": "test-tools",
        "version": 2,
        "checksum": m2.checksum,
        "size": v2.stat().st_size,
        "archiveUrl": "/api/bundles/test-tools/versions/2/archive",
        "tools": [tool.name for tool in m2.tools],  # what the runtime checks the downloaded manifest against
    }

    # A deployment's own assignment overrides the default; unassigning falls back.
    dep = org.deployment()
    reply = org.http.put(f"/api/deployments/{dep['deploymentId']}/bundle", json={"name": "test-tools", "version": 1})
    assert reply.status_code == 200 and reply.json()["resolvedBundle"]["version"] == 1
    poll = org.http.get("/api/connectors/assignment", params={"deploymentId": dep["deploymentId"]}).json()
    assert poll["assignedBundle"]["version"] == 1 and poll["assignedBundle"]["checksum"] == m1.checksum
    listing = org.http.get("/api/bundles").json()
    assert listing["default"] == {"name": "test-tools", "version": None, "resolvedVersion": 2}
    assert listing["assignments"][0]["deploymentId"] == dep["deploymentId"]
    assert listing["assignments"][0]["resolvedVersion"] == 1
    assert org.http.delete(f"/api/deployments/{dep['deploymentId']}/bundle").json()["resolvedBundle"]["version"] == 2

    # The download is the uploaded archive, byte for byte.
    download = org.http.get("/api/bundles/test-tools/versions/1/archive")
    assert download.status_code == 200 and download.content == v1.read_bytes()
    assert download.headers["x-bundle-checksum"] == m1.checksum


def test_reupload_of_identical_content_returns_the_existing_version(org, tmp_path):
    archive, manifest = make_archive(tmp_path, [echo_tool()])
    assert org.upload(archive, manifest.checksum).status_code == 201
    again = org.upload(archive, manifest.checksum)
    assert again.status_code == 200 and again.json()["version"] == 1
    assert [v["version"] for v in org.http.get("/api/bundles/test-tools").json()["versions"]] == [1]


def test_checksum_header_must_match_the_archive(org, tmp_path):
    archive, _ = make_archive(tmp_path, [echo_tool()])
    status, code, message = _error(org.upload(archive, "sha256:" + "0" * 64))
    assert (status, code) == (422, "checksum_mismatch")
    assert "sha256:" + "0" * 64 in message
    status, code, _ = _error(org.upload(archive, "md5:abc"))
    assert (status, code) == (422, "invalid_bundle")
    assert org.http.get("/api/bundles").json()["bundles"] == []


def _repack(archive: Path, out: Path, edit) -> Path:
    """Rewrite an archive's members through `edit(name, data) -> [(name, data, type)]`."""
    members = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            handle = tar.extractfile(member)
            assert handle is not None
            members.extend(edit(member.name, handle.read()))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = data.decode()
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out.write_bytes(gzip.compress(buffer.getvalue()))
    return out


def test_tampered_archive_is_refused(org, tmp_path):
    archive, manifest = make_archive(tmp_path, [echo_tool()])

    def tamper(name, data):
        if name.endswith(".js"):
            data = data.replace(b"return input;", b"return 666;  ")
        return [(name, data, tarfile.REGTYPE)]

    status, code, message = _error(org.upload(_repack(archive, tmp_path / "bad.tar.gz", tamper), manifest.checksum))
    assert (status, code) == (422, "invalid_bundle")
    assert "dist/echo.js" in message and "checksum mismatch" in message


@pytest.mark.parametrize("evil", ["../escape.js", "/etc/evil.js", "dist/../../up.js"])
def test_zip_slip_paths_are_refused(org, tmp_path, evil):
    archive, manifest = make_archive(tmp_path, [echo_tool()])

    def add_evil(name, data):
        extra = [(evil, b"pwned", tarfile.REGTYPE)] if name == "manifest.json" else []
        return [(name, data, tarfile.REGTYPE), *extra]

    status, code, message = _error(org.upload(_repack(archive, tmp_path / "evil.tar.gz", add_evil), manifest.checksum))
    assert (status, code) == (422, "invalid_bundle")
    assert "unsafe path" in message
    assert not (tmp_path / "escape.js").exists() and not Path("/etc/evil.js").exists()


def test_symlink_entries_are_refused(org, tmp_path):
    archive, manifest = make_archive(tmp_path, [echo_tool()])

    def add_link(name, data):
        extra = [("dist/link.js", b"/etc/passwd", tarfile.SYMTYPE)] if name == "manifest.json" else []
        return [(name, data, tarfile.REGTYPE), *extra]

    status, code, message = _error(org.upload(_repack(archive, tmp_path / "link.tar.gz", add_link), manifest.checksum))
    assert (status, code) == (422, "invalid_bundle") and "link" in message


def test_archive_of_another_bundle_name_is_refused(org, tmp_path):
    archive, manifest = make_archive(tmp_path, [echo_tool()], name="real-name")
    status, code, message = _error(org.upload(archive, manifest.checksum, name="other-name"))
    assert (status, code) == (422, "invalid_bundle") and "real-name" in message


def _memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the server's memory")
def test_upload_over_50_mb_is_refused_while_streaming_with_flat_memory(server, org):
    before = _memory_kib(server.process.pid)
    total = MAX_ARCHIVE_BYTES + 1
    sent = 0

    def body():
        nonlocal sent
        chunk = b"\x1f" * (1 << 20)
        while sent < total:
            piece = chunk[: min(len(chunk), total - sent)]
            sent += len(piece)
            yield piece

    # A generator body goes out chunked: the server cannot know the size in advance and must count.
    response = org.http.post(
        "/api/bundles/big/versions", content=body(), headers={"X-Bundle-Checksum": "sha256:" + "1" * 64}
    )
    status, code, message = _error(response)
    assert (status, code) == (413, "bundle_too_large")
    assert "52,428,800" in message
    after = _memory_kib(server.process.pid)
    # Peak resident memory (VmHWM) may not grow by anything near the body's 50 MB.
    assert after["VmHWM"] - before["VmHWM"] < 16 * 1024, (before, after)
    assert org.http.get("/api/bundles").json()["bundles"] == []
    # A declared Content-Length over the limit is refused before the body is read.
    declared = org.http.post(
        "/api/bundles/big/versions", content=b"\0" * total, headers={"X-Bundle-Checksum": "sha256:" + "1" * 64}
    )
    assert _error(declared)[:2] == (413, "bundle_too_large")
    assert org.http.get("/healthz").status_code == 200


def test_org_isolation_foreign_ids_are_404(server, tmp_path):
    alice, bob = Org(server), Org(server)
    archive, manifest = make_archive(tmp_path, [echo_tool()])
    assert alice.upload(archive, manifest.checksum).status_code == 201
    dep = alice.deployment()
    dep_id = dep["deploymentId"]

    assert bob.http.get("/api/bundles").json()["bundles"] == []
    assert bob.http.get("/api/deployments").json()["deployments"] == []
    for method, path, body in [
        ("GET", "/api/bundles/test-tools", None),
        ("GET", "/api/bundles/test-tools/versions/1/archive", None),
        ("PUT", "/api/bundles/default", {"name": "test-tools"}),
        ("GET", f"/api/deployments/{dep_id}", None),
        ("DELETE", f"/api/deployments/{dep_id}", None),
        ("POST", f"/api/deployments/{dep_id}/rotate-secret", None),
        ("PUT", f"/api/deployments/{dep_id}/bundle", {"name": "test-tools"}),
        ("DELETE", f"/api/deployments/{dep_id}/bundle", None),
        ("GET", f"/api/connectors/assignment?deploymentId={dep_id}", None),
    ]:
        response = bob.http.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    # Bob uploading the same content gets his own version 1, and Alice's data is untouched.
    assert bob.upload(archive, manifest.checksum).json()["version"] == 1
    assert alice.http.get(f"/api/deployments/{dep_id}").status_code == 200
    # Alice's deployment credentials give a token that only sees Alice's org.
    token = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": dep_id, "client_secret": dep["secret"]},
    ).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["orgId"] == alice.org_id and claims["deploymentId"] == dep_id
    poll = httpx.get(f"{server.url}/api/connectors/assignment", headers={"Authorization": f"Bearer {token}"})
    assert poll.status_code == 200


def test_deployment_replicas_default_create_update_and_range(server, org):
    made = org.http.post("/api/deployments", json={"name": "scaled", "replicas": 3})
    assert made.status_code == 201 and made.json()["replicas"] == 3
    dep_id = made.json()["deploymentId"]
    plain = org.deployment("plain")
    assert plain["replicas"] == 1
    listed = {d["deploymentId"]: d["replicas"] for d in org.http.get("/api/deployments").json()["deployments"]}
    assert listed == {dep_id: 3, plain["deploymentId"]: 1}
    for bad in (0, 101, -1, "three", None):
        refused = org.http.post("/api/deployments", json={"name": "bad", "replicas": bad})
        assert _error(refused)[:2] == (422, "invalid_request"), bad
        assert "replicas" in refused.json()["error"]["message"]
        assert _error(org.http.patch(f"/api/deployments/{dep_id}", json={"replicas": bad}))[:2] == (
            422,
            "invalid_request",
        )
    updated = org.http.patch(f"/api/deployments/{dep_id}", json={"replicas": 100})
    assert updated.status_code == 200 and updated.json()["replicas"] == 100 and updated.json()["name"] == "scaled"
    assert org.http.get(f"/api/deployments/{dep_id}").json()["replicas"] == 100
    assert _error(org.http.patch("/api/deployments/dep-nope", json={"replicas": 2}))[:2] == (
        404,
        "deployment_not_found",
    )
    assert len(org.http.get("/api/deployments").json()["deployments"]) == 2  # the refusals created nothing


def test_deployment_credentials_and_tokens(server, org, tmp_path):
    dep = org.deployment("edge-1")
    dep_id, secret = dep["deploymentId"], dep["secret"]
    assert secret and secret not in json.dumps(org.http.get("/api/deployments").json())

    def oauth(client_id, client_secret):
        return httpx.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        )

    wrong = oauth(dep_id, secret + "x")
    assert _error(wrong)[:2] == (401, "invalid_client")
    assert secret not in wrong.text
    assert _error(oauth("dep-doesnotexist", secret))[:2] == (401, "invalid_client")
    granted = oauth(dep_id, secret)
    assert granted.status_code == 200
    assert granted.json()["token_type"] == "Bearer" and granted.json()["expires_in"] > 0
    dep_auth = {"Authorization": f"Bearer {granted.json()['access_token']}"}

    # A deployment token reaches the connector routes only.
    archive, manifest = make_archive(tmp_path, [echo_tool()])
    org.upload(archive, manifest.checksum)
    org.http.put("/api/bundles/default", json={"name": "test-tools"})
    poll = httpx.get(f"{server.url}/api/connectors/assignment", headers=dep_auth).json()
    assert poll["assignedBundle"]["checksum"] == manifest.checksum
    assert (
        httpx.get(f"{server.url}{poll['assignedBundle']['archiveUrl']}", headers=dep_auth).content
        == archive.read_bytes()
    )
    assert httpx.get(f"{server.url}/api/bundles", headers=dep_auth).status_code == 403
    assert httpx.post(f"{server.url}/api/deployments", json={"name": "x"}, headers=dep_auth).status_code == 403
    other = org.deployment("edge-2")["deploymentId"]
    assert (
        httpx.get(
            f"{server.url}/api/connectors/assignment", params={"deploymentId": other}, headers=dep_auth
        ).status_code
        == 404
    )

    # Rotation: the old secret stops working at once, the new one works.
    rotated = org.http.post(f"/api/deployments/{dep_id}/rotate-secret").json()["secret"]
    assert rotated != secret
    assert oauth(dep_id, secret).status_code == 401
    assert oauth(dep_id, rotated).status_code == 200

    # Deleting the deployment kills its tokens too.
    assert org.http.delete(f"/api/deployments/{dep_id}").status_code == 204
    status, code, message = _error(httpx.get(f"{server.url}/api/connectors/assignment", headers=dep_auth))
    assert (status, code) == (401, "token_invalid") and message.startswith("Token validation failed: ")


def test_refusals_use_the_handshake_codes_and_words(server):
    def me(token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return _error(httpx.get(f"{server.url}/api/me", headers=headers))

    assert me(None) == (401, "unauthenticated", "No authentication token found")
    assert me(server.mint_token(sub="u", orgId="o", expiresIn=-60)) == (401, "token_expired", "Token has expired")
    assert me(server.mint_token(sub="u", expiresIn=600)) == (403, "no_organization", "No organization in token")
    status, code, message = me("not.a.jwt")
    assert (status, code) == (401, "token_invalid") and message.startswith("Token validation failed: ")
    # A token signed with another secret, and the unsigned `none` algorithm, are both refused.
    import jwt

    forged = jwt.encode({"sub": "u", "orgId": "o", "iat": 1, "exp": 4_000_000_000}, "x" * 32, algorithm="HS256")
    assert me(forged)[:2] == (401, "token_invalid")
    unsigned = jwt.encode({"sub": "u", "orgId": "o", "iat": 1, "exp": 4_000_000_000}, None, algorithm="none")
    assert me(unsigned)[:2] == (401, "token_invalid")
    # `orgs` alone resolves the org to its first key.
    token = server.mint_token(sub="u", orgs={"org-first": "owner", "org-second": "member"}, expiresIn=600)
    assert (
        httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"}).json()["orgId"] == "org-first"
    )


def test_restart_keeps_everything(tmp_path):
    data = tmp_path / "data"
    archive, manifest = make_archive(tmp_path, [echo_tool()])
    first = PlatformProcess(data).start()
    try:
        org = Org(first)
        assert org.upload(archive, manifest.checksum).status_code == 201
        dep = org.deployment()
        org.http.put("/api/bundles/default", json={"name": "test-tools", "version": 1})
        org.http.put(f"/api/deployments/{dep['deploymentId']}/bundle", json={"name": "test-tools"})
        before = org.http.get("/api/bundles").json()
    finally:
        first.stop()
    second = PlatformProcess(data).start()
    try:
        # The same token still works: the JWT secret was persisted in the data dir.
        http = httpx.Client(base_url=second.url, headers={"Authorization": f"Bearer {org.token}"})
        assert http.get("/api/bundles").json() == before
        assert http.get("/api/deployments").json()["deployments"][0]["deploymentId"] == dep["deploymentId"]
        assert http.get("/api/bundles/test-tools/versions/1/archive").content == archive.read_bytes()
        granted = httpx.post(
            f"{second.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": dep["deploymentId"], "client_secret": dep["secret"]},
        )
        assert granted.status_code == 200
        assert http.post("/api/auth/dev-login", json={"email": f"{org.org_id}@example.com"}).status_code == 200
    finally:
        second.stop()


def test_no_dev_mode_hides_dev_tokens(tmp_path):
    proc = PlatformProcess(tmp_path / "data", extra_args=["--no-dev"]).start()
    try:
        response = httpx.post(f"{proc.url}/api/dev/tokens", json={"sub": "x", "orgId": "o", "expiresIn": 60})
        assert _error(response)[:2] == (404, "not_found")
        # SPEC.md §9: dev-login exists only in dev mode; the /login page stays the way to sign in.
        assert _error(httpx.post(f"{proc.url}/api/auth/dev-login", json={"email": "a@b.co"}))[:2] == (404, "not_found")
        assert httpx.post(f"{proc.url}/login", data={"email": "a@b.co", "mode": "paste"}).status_code == 200
    finally:
        proc.stop()


def test_openapi_documents_every_route_with_models(server):
    spec = httpx.get(f"{server.url}/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("/api/auth/dev-login", "post"),
        ("/api/dev/tokens", "post"),
        ("/api/me", "get"),
        ("/oauth/token", "post"),
        ("/api/deployments", "post"),
        ("/api/deployments", "get"),
        ("/api/deployments/{deployment_id}", "delete"),
        ("/api/deployments/{deployment_id}/rotate-secret", "post"),
        ("/api/deployments/{deployment_id}/bundle", "put"),
        ("/api/deployments/{deployment_id}/bundle", "delete"),
        ("/api/bundles/{name}/versions", "post"),
        ("/api/bundles", "get"),
        ("/api/bundles/{name}", "get"),
        ("/api/bundles/{name}/versions/{version}/archive", "get"),
        ("/api/bundles/default", "put"),
        ("/api/connectors/assignment", "get"),
        ("/login", "get"),
        ("/healthz", "get"),
        # The hub's routes, whose JSON is built by hand, document the same shapes.
        ("/api/tools/{tool}/call", "post"),
        ("/api/calls", "get"),
        ("/api/connectors", "get"),
        ("/api/sim/disconnect", "post"),
        ("/api/sim/reject", "post"),
        ("/api/sim/latency", "post"),
        ("/api/sim/pushes", "post"),
    }
    for path, method in expected:
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from /openapi.json"
    json_routes = expected - {
        ("/api/bundles/{name}/versions/{version}/archive", "get"),
        ("/login", "get"),
        ("/healthz", "get"),
        ("/api/deployments/{deployment_id}", "delete"),
    }
    for path, method in json_routes:
        operation = paths[path][method]
        ok = operation["responses"].get("200") or operation["responses"].get("201")
        assert "$ref" in json.dumps(ok), f"{method.upper()} {path} has no response model"
        if method in ("post", "put") and path not in ("/api/deployments/{deployment_id}/rotate-secret",):
            assert "requestBody" in operation, f"{method.upper()} {path} has no request body model"
    assert "application/gzip" in paths["/api/bundles/{name}/versions"]["post"]["requestBody"]["content"]
    call = paths["/api/tools/{tool}/call"]["post"]
    assert "ToolCallErrorBody" in json.dumps(call["responses"]["422"])
    assert "arguments" in json.dumps(call["requestBody"])
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_the_name_default_is_reserved(org, tmp_path):
    archive, manifest = make_archive(tmp_path, [echo_tool()], name="default")
    status, code, message = _error(org.upload(archive, manifest.checksum, name="default"))
    assert (status, code) == (422, "invalid_bundle") and "reserved" in message


def test_concurrent_uploads_get_distinct_versions(org, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    archives = [make_archive(tmp_path / f"c{i}", [echo_tool(tag=f"c{i}")]) for i in range(6)]
    archives.append(archives[0])  # the same content twice at once: still one version

    def send(item):
        archive, manifest = item
        with httpx.Client(base_url=org.http.base_url, headers=org.http.headers, timeout=30) as client:
            return client.post(
                "/api/bundles/test-tools/versions",
                content=archive.read_bytes(),
                headers={"X-Bundle-Checksum": manifest.checksum},
            )

    with ThreadPoolExecutor(len(archives)) as pool:
        replies = list(pool.map(send, archives))
    assert sorted(r.status_code for r in replies) == [200] + [201] * 6
    versions = {r.json()["checksum"]: r.json()["version"] for r in replies}
    assert sorted(versions.values()) == [1, 2, 3, 4, 5, 6]
    listed = org.http.get("/api/bundles/test-tools").json()["versions"]
    assert {v["checksum"]: v["version"] for v in listed} == versions
