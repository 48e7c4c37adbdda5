"""What a runtime's sync trusts of the platform's answer (issue 12, holes 3 and 9).

A real runtime against a scripted platform (`tests/support/scripted_platform.py`), so the assignment
can say what a compromised or confused platform would:
- an archive whose manifest lists other tools than the platform recorded for that version is refused
  (the store's archive was swapped under the version), and the old bundle keeps serving; the same
  archive assigned with the right tool names is then taken, so the check is what refused it;
- an `archiveUrl` off the platform's origin (absolute, scheme-relative, another host name) is never
  fetched: a listener on another loopback port, ready to serve that very archive, records that no
  request (so no bearer token) ever reached it, and the old bundle keeps serving.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from edge_protocol.messages import BundleRef, BundleUpdated, notification_frame
from edge_protocol.routes import archive_path
from tests.support.bundles import echo_tool, make_archive
from tests.support.scripted_platform import ScriptedLink, scripted_runtime
from tests.support.waiting import wait_until

NAME = "trust-tools"


def _new_version(tmp_path: Path) -> tuple[bytes, str]:
    archive, manifest = make_archive(tmp_path / "v2", [echo_tool(tag="new")], name=NAME)
    return archive.read_bytes(), manifest.checksum


def _answers_with(link: ScriptedLink, tag: str) -> None:
    reply = link.call("echo", {"n": 1})
    assert reply.get("result", {}).get("output", {}).get("tag") == tag, str(reply)[:300]


def _sync_error(rt, fragment: str) -> str | None:
    error = rt.status()["sync"].get("lastSyncError") or ""
    return error if fragment in error else None


def test_a_manifest_whose_tools_differ_from_the_recorded_ones_is_refused(tmp_path):
    archive, checksum = _new_version(tmp_path)
    path = archive_path(NAME, 2)
    swapped = BundleRef(NAME, 2, checksum, len(archive), None, ("echo", "audit_log"))
    with scripted_runtime(tmp_path, [echo_tool(tag="old")], name=NAME, assigned=swapped, archives={path: archive}) as (
        rt,
        scripted,
        installed,
    ):
        link = scripted.next_link()
        error = wait_until(lambda: _sync_error(rt, "recorded"), 30, message="the runtime to refuse the manifest")
        assert f"bundle {NAME} v2 refused" in error and "missing audit_log" in error, error
        line = rt.wait_for_log("Bundle sync error: bundle trust-tools v2 refused: its manifest's tools")
        assert "the previous bundle keeps serving" in line
        assert rt.status()["bundle"]["checksum"] == installed.checksum
        _answers_with(link, "old")

        # The same archive with the tool names it really has: taken, so the tool check refused it above.
        honest = BundleRef(NAME, 2, checksum, len(archive), None, ("echo",))
        scripted.assigned = honest
        link.push(notification_frame(BundleUpdated(honest)))
        wait_until(lambda: rt.status()["bundle"]["checksum"] == checksum, 30, message="the honest version to swap in")
        _answers_with(link, "new")
        assert "Traceback" not in rt.text


class _Foreign(BaseHTTPRequestHandler):
    """Another loopback origin, ready to serve the archive; records every request it gets."""

    seen: list[tuple[str, bool]] = []
    archive = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append((self.path, "Authorization" in self.headers))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.archive)))
        self.end_headers()
        self.wfile.write(self.archive)

    def log_message(self, *args) -> None:
        pass


def test_an_archive_url_off_the_platforms_origin_is_never_fetched(tmp_path):
    archive, checksum = _new_version(tmp_path)
    _Foreign.seen, _Foreign.archive = [], archive
    foreign = ThreadingHTTPServer(("127.0.0.1", 0), _Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    port = foreign.server_address[1]
    path = archive_path(NAME, 2)
    elsewhere = BundleRef(NAME, 2, checksum, len(archive), f"http://127.0.0.1:{port}{path}", ("echo",))
    try:
        with scripted_runtime(tmp_path, [echo_tool(tag="old")], name=NAME, assigned=elsewhere) as (
            rt,
            scripted,
            installed,
        ):
            link = scripted.next_link()
            for url in (
                f"http://127.0.0.1:{port}{path}",  # absolute, another port
                f"//127.0.0.1:{port}{path}",  # scheme-relative
                f"http://localhost:{scripted.port}{path}",  # the platform's port under another host name
            ):
                ref = BundleRef(NAME, 2, checksum, len(archive), url, ("echo",))
                scripted.assigned = ref
                link.push(notification_frame(BundleUpdated(ref)))
                error = wait_until(lambda url=url: _sync_error(rt, url), 30, message=f"the runtime to refuse {url}")
                assert "is not on the platform's origin" in error, error
                assert rt.status()["bundle"]["checksum"] == installed.checksum
                _answers_with(link, "old")
            assert _Foreign.seen == [], f"the foreign origin was asked: {_Foreign.seen}"
            assert not any(request.path.startswith("/api/bundles/") for request in scripted.requests)
            # The poll and the link carried the token to the platform itself.
            assert any(request.authorization for request in scripted.requests)
    finally:
        foreign.shutdown()
        foreign.server_close()
