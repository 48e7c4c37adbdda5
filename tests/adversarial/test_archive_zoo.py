"""The archive zoo (issue 12): every malicious or broken archive is refused by the platform on upload
and by the runtime on sync, the runtime keeps serving its old bundle, and memory stays bounded.

The platform side runs in this process, so the peak of Python allocations during each upload is
measured with tracemalloc. The runtime side is a real `edge-connector start` against a real mock
platform whose store is written behind its back (as a compromised platform could), so each archive
reaches the runtime's sync exactly as a download; its peak RSS is read from /proc (VmHWM).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import time
import tracemalloc
from pathlib import Path

import httpx
import jwt
import pytest

from tests.adversarial.archive_zoo import BUNDLE, ZOO, claimed_checksum
from tests.support.bundles import echo_tool, make_archive
from tests.support.inprocess import platform_app, sign_in
from tests.support.platform import wait_platform_serves
from tests.support.runtime import RuntimeProcess, write_token_file
from tests.support.waiting import wait_until

#: Python allocations while the platform receives and checks one archive (the body itself included).
PLATFORM_PEAK_LIMIT = 16 * 1024 * 1024
#: Growth of the runtime's peak RSS over the whole zoo (DESIGN: sync grows RSS by <= 30 MB).
RUNTIME_PEAK_GROWTH_LIMIT = 30 * 1024 * 1024


@pytest.fixture(scope="module")
def zoo() -> list[tuple[str, bytes, str]]:
    built = []
    for specimen in ZOO:
        archive = specimen.build()
        built.append((specimen.name, archive, claimed_checksum(specimen, archive)))
    assert len(built) >= 20
    return built


def test_the_platform_refuses_every_archive_with_bounded_memory(zoo, tmp_path):
    peaks: dict[str, int] = {}
    with platform_app(tmp_path / "data") as api:
        user = sign_in(api, "zoo@example.com", "org-zoo")
        for name, archive, checksum in zoo:
            tracemalloc.start()
            try:
                response = api.post(
                    f"/api/bundles/{BUNDLE}/versions",
                    content=archive,
                    headers={**user, "X-Bundle-Checksum": checksum, "Content-Type": "application/gzip"},
                )
                _, peaks[name] = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert response.status_code in (413, 422), (name, response.status_code, response.text[:300])
            assert response.json()["error"]["code"] in ("invalid_bundle", "checksum_mismatch", "bundle_too_large"), name
        assert api.get("/api/bundles", headers=user).json()["bundles"] == []
        assert list((tmp_path / "data" / "incoming").iterdir()) == []  # nothing left half-unpacked
    worst = max(peaks, key=peaks.get)
    print(
        f"\narchive zoo, platform: {len(peaks)} archives refused; worst peak {peaks[worst] / 2**20:.1f} MiB ({worst})"
    )
    assert peaks[worst] < PLATFORM_PEAK_LIMIT, f"{worst}: {peaks[worst]:,} bytes"


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _plant(data_dir: Path, org_id: str, name: str, archive: bytes, checksum: str) -> None:
    """Store `archive` as version 1 of `name`, as the platform would after an upload it accepted."""
    digest = hashlib.sha256(archive).hexdigest()
    (data_dir / "archives" / f"sha256-{digest}.tar.gz").write_bytes(archive)
    tools = [
        {
            "name": "echo",
            "description": "e",
            "inputSchema": {"type": "object"},
            "outputSchema": None,
            "timeoutMs": 30000,
            "entry": "dist/echo.js",
        }
    ]
    with sqlite3.connect(data_dir / "platform.db", timeout=10) as db:
        db.execute(
            "INSERT INTO bundle_versions (org_id, name, version, checksum, size, tools, created_at, archive_sha256)"
            " VALUES (?, ?, 1, ?, ?, ?, '2026-11-30T00:00:00Z', ?)",
            (org_id, name, checksum, len(archive), json.dumps(tools), digest),
        )


def _sync_error_about(rt: RuntimeProcess, bundle: str) -> str | None:
    error = rt.status()["sync"].get("lastSyncError") or ""
    return error if f"bundle {bundle} v1" in error else None


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read from /proc")
def test_the_runtime_refuses_every_archive_and_keeps_serving_the_old_bundle(zoo, platform, tmp_path):
    token = platform.user_token("zoo-runtime@example.com", "org-zoo-runtime")
    org_id = jwt.decode(token, options={"verify_signature": False})["orgId"]
    api = httpx.Client(base_url=platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    good, manifest = make_archive(tmp_path / "good", [echo_tool(tag="old")], name="good-tools")
    assert (
        api.post(
            "/api/bundles/good-tools/versions",
            content=good.read_bytes(),
            headers={"X-Bundle-Checksum": manifest.checksum},
        ).status_code
        == 201
    )
    created = api.post("/api/deployments", json={"name": "zoo-edge"}).json()
    deployment = created["deploymentId"]
    api.put(f"/api/deployments/{deployment}/bundle", json={"name": "good-tools"})
    install = tmp_path / "install"
    write_token_file(install, token, platform.url)
    rt = RuntimeProcess(install, env={"TOOL_RPC_URL": platform.ws_url, "DEPLOYMENT_ID": deployment}).start()
    try:
        rt.wait_healthy()
        wait_platform_serves(api, deployment, "good-tools")

        def old_bundle_answers() -> None:
            reply = api.post("/api/tools/echo/call", json={"arguments": {"n": 1}, "deploymentId": deployment})
            assert reply.status_code == 200 and reply.json()["output"]["tag"] == "old", reply.text

        old_bundle_answers()
        baseline = _peak_rss(rt.process.pid)
        started = time.monotonic()
        for index, (name, archive, checksum) in enumerate(zoo):
            bundle = f"zoo-{index}"
            _plant(platform.data_dir, org_id, bundle, archive, checksum)
            # Back to the good bundle first: many specimens share one content checksum, and the platform
            # pushes only changes of what a deployment resolves to.
            assert api.put(f"/api/deployments/{deployment}/bundle", json={"name": "good-tools"}).status_code == 200
            wait_until(
                lambda: (rt.status()["sync"].get("assignedBundle") or {}).get("name") == "good-tools",
                30,
                message="the good bundle assigned again",
            )
            assert api.put(f"/api/deployments/{deployment}/bundle", json={"name": bundle}).status_code == 200
            error = wait_until(
                lambda bundle=bundle: _sync_error_about(rt, bundle), 30, message=f"runtime to refuse {name}"
            )
            assert "refused" in error or "failed" in error, (name, error)
            assert rt.status()["bundle"]["name"] == "good-tools", name
            old_bundle_answers()
        growth = _peak_rss(rt.process.pid) - baseline
        print(
            f"\narchive zoo, runtime: {len(zoo)} archives refused in {time.monotonic() - started:.1f} s; "
            f"peak RSS grew {growth / 2**20:.1f} MiB"
        )
        assert growth < RUNTIME_PEAK_GROWTH_LIMIT, f"peak RSS grew {growth:,} bytes"
        assert not rt.exited() and "Traceback" not in rt.text
    finally:
        rt.stop()
        api.close()
