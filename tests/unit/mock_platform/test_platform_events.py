"""EventBus delivery, and which API changes announce `AssignmentChanged` / `DeploymentDeleted`."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient

from mock_platform.app import create_app
from mock_platform.config import PlatformConfig
from mock_platform.events import AssignmentChanged, DeploymentDeleted, EventBus
from tests.support.bundles import echo_tool, make_archive
from tests.support.waiting import async_wait_until, wait_until


async def test_publish_returns_before_slow_async_subscribers_run():
    bus = EventBus()
    bus.attach_loop(asyncio.get_running_loop())
    release = asyncio.Event()
    seen: list = []

    async def slow(event):
        await release.wait()
        seen.append(("slow", event))

    bus.subscribe(slow)
    bus.subscribe(lambda event: seen.append(("sync", event)))
    bus.publish(AssignmentChanged("org-a", "upload"))
    assert seen == []  # nothing ran inside publish()
    await async_wait_until(lambda: len(seen) >= 1, 5, message="the sync subscriber")
    release.set()
    await async_wait_until(lambda: len(seen) >= 2, 5, message="the slow subscriber")
    assert seen == [("sync", AssignmentChanged("org-a", "upload")), ("slow", AssignmentChanged("org-a", "upload"))]


async def test_publish_from_a_worker_thread_runs_on_the_loop():
    bus = EventBus()
    loop = asyncio.get_running_loop()
    bus.attach_loop(loop)
    threads: list = []
    bus.subscribe(lambda event: threads.append(threading.current_thread()))
    worker = threading.Thread(target=bus.publish, args=(AssignmentChanged("org-a"),))
    worker.start()
    worker.join()
    await async_wait_until(lambda: len(threads) >= 1, 5, message="delivery")
    assert threads == [threading.main_thread()]


def test_without_a_loop_subscribers_run_inline_and_failures_are_contained():
    bus = EventBus()
    seen: list = []

    async def async_subscriber(event):
        seen.append(("async", event.org_id))

    def broken(event):
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    bus.subscribe(async_subscriber)
    unsubscribe = bus.subscribe(lambda event: seen.append(("sync", event.org_id)))
    bus.publish(AssignmentChanged("org-a"))
    unsubscribe()
    bus.publish(AssignmentChanged("org-b"))
    assert seen == [("async", "org-a"), ("sync", "org-a"), ("async", "org-b")]


@pytest.fixture
def app_client(tmp_path):
    app = create_app(PlatformConfig(data_dir=tmp_path / "data"))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, app.state.platform


def test_every_change_of_what_deployments_resolve_to_is_announced(app_client, tmp_path):
    client, platform = app_client
    events: list = []
    platform.events.subscribe(events.append)
    token = client.post("/api/auth/dev-login", json={"email": "ev@example.com", "orgId": "org-ev"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    archive, manifest = make_archive(tmp_path / "b", [echo_tool()])

    def expect(*wanted):
        wait_until(
            lambda: events[-len(wanted) :] == list(wanted) if len(events) >= len(wanted) else False,
            5,
            message=f"events {wanted}, got {events}",
        )
        events.clear()

    dep = client.post("/api/deployments", json={"name": "d"}, headers=auth).json()["deploymentId"]
    upload = client.post(
        "/api/bundles/test-tools/versions",
        content=archive.read_bytes(),
        headers={**auth, "X-Bundle-Checksum": manifest.checksum},
    )
    assert upload.status_code == 201
    expect(AssignmentChanged("org-ev", "upload"))
    assert (
        client.post(
            "/api/bundles/test-tools/versions",
            content=archive.read_bytes(),
            headers={**auth, "X-Bundle-Checksum": manifest.checksum},
        ).status_code
        == 200
    )
    client.put("/api/bundles/default", json={"name": "test-tools"}, headers=auth)
    expect(AssignmentChanged("org-ev", "set default"))  # the identical re-upload announced nothing
    client.put(f"/api/deployments/{dep}/bundle", json={"name": "test-tools", "version": 1}, headers=auth)
    expect(AssignmentChanged("org-ev", "assign"))
    client.delete(f"/api/deployments/{dep}/bundle", headers=auth)
    expect(AssignmentChanged("org-ev", "unassign"))
    client.delete(f"/api/deployments/{dep}", headers=auth)
    expect(DeploymentDeleted("org-ev", dep), AssignmentChanged("org-ev", "deployment deleted"))
    # Refused changes announce nothing.
    assert client.put("/api/bundles/default", json={"name": "nope"}, headers=auth).status_code == 404
    assert client.get("/healthz").status_code == 200 and events == []
