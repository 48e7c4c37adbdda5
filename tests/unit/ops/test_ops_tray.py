"""Tray icon: when it is off (and says why), what it shows, what its menu does — all without a display."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from edge_runtime import tray


def _never_called():
    raise AssertionError("pystray must not be imported when the tray is off for an earlier reason")


def _import_error():
    raise ImportError("No module named 'pystray'")


def _display_error():
    raise RuntimeError('Bad display name ""')


@pytest.mark.parametrize(
    ("environ", "platform", "loader", "enabled", "reason"),
    [
        ({"EC_DISABLE_TRAY": "1", "DISPLAY": ":0"}, "linux", _never_called, False, "EC_DISABLE_TRAY=1"),
        ({"EC_DISABLE_TRAY": "true"}, "darwin", _never_called, False, "EC_DISABLE_TRAY=1"),
        ({}, "linux", _never_called, False, "no display"),
        ({"DISPLAY": ""}, "linux", _never_called, False, "no display"),
        ({"DISPLAY": ":0"}, "linux", _import_error, False, "pip install 'edge-connector[tray]'"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", _display_error, False, "could not start (RuntimeError"),
        ({"DISPLAY": ":0", "EC_DISABLE_TRAY": "0"}, "linux", lambda: object(), True, ""),
        ({}, "darwin", lambda: object(), True, ""),  # macOS needs no DISPLAY
        ({}, "darwin", _import_error, False, "not installed"),
    ],
)
def test_decision(environ, platform, loader, enabled, reason):
    decision = tray.decide(environ, platform, loader)
    assert decision.enabled is enabled
    assert reason in decision.reason


def test_maybe_start_tray_logs_why_it_is_off_and_returns_none(caplog):
    caplog.set_level(logging.INFO)
    handle = tray.maybe_start_tray(
        lambda: {},
        lambda: None,
        logging.getLogger("edge_runtime.test"),
        environ={},
        platform="linux",
        load_pystray=_never_called,
    )
    assert handle is None
    assert "tray icon off: no display (DISPLAY and WAYLAND_DISPLAY are unset)" in caplog.text


def test_real_import_with_an_unusable_display_turns_the_tray_off_without_failing():
    """With a DISPLAY that points nowhere, the real pystray import fails (or pystray is absent): the runtime
    just logs it. Run in a child process so the failed import leaves this one clean."""
    script = textwrap.dedent("""
        import logging, sys
        from edge_runtime.tray import maybe_start_tray
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        handle = maybe_start_tray(lambda: {}, lambda: None, logging.getLogger("t"), platform="linux")
        print("HANDLE", handle)
    """)
    env = {**os.environ, "DISPLAY": ":93", "XAUTHORITY": "/nonexistent"}
    env.pop("EC_DISABLE_TRAY", None)
    env.pop("PYSTRAY_BACKEND", None)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert completed.returncode == 0, completed.stderr
    assert "HANDLE None" in completed.stdout
    assert "tray icon off: pystray" in completed.stdout  # "is not installed" or "could not start"


# --- what it shows ----------------------------------------------------------------------------

CONNECTED = {
    "state": "registered",
    "ready": True,
    "lastError": None,
    "bundle": {"name": "my-tools", "version": 3, "checksum": "sha256:ab"},
    "sync": {"lastSyncAt": "2026-11-28T10:00:00.000Z", "lastSyncError": None},
    "health": {"url": "http://0.0.0.0:8080"},
}


def test_summary_of_a_connected_runtime_shows_bundle_and_last_sync():
    summary = tray.summarize(CONNECTED)
    assert summary.label == "Connected" and summary.color == tray.GREEN
    assert summary.title == "edge-connector: Connected\nbundle my-tools v3\nlast sync 2026-11-28T10:00:00.000Z"


def test_summary_of_a_reconnecting_runtime_shows_the_error():
    status = {
        **CONNECTED,
        "ready": False,
        "state": "waiting",
        "lastError": "ECONNREFUSED ws://x",
        "bundle": None,
        "sync": {"lastSyncAt": None, "lastSyncError": "Bundle sync error: checksum mismatch"},
    }
    summary = tray.summarize(status)
    assert summary.label == "Reconnecting" and summary.color == tray.RED
    assert "last sync never" in summary.title and "ECONNREFUSED" in summary.title and "checksum" in summary.title
    assert len(summary.title) <= 127


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (None, "Not running"),
        ({"state": "connecting"}, "Connecting"),
        ({"state": "stopping"}, "Stopping"),
        ({"state": "starting"}, "Starting"),
    ],
)
def test_summary_labels(status, label):
    assert tray.summarize(status).label == label


def test_status_page_url_is_reachable_from_a_browser():
    assert tray.status_page_url(CONNECTED) == "http://127.0.0.1:8080/statusz"
    assert tray.status_page_url({"health": {"url": None}}) is None


# --- the icon and its menu, on pystray's own Menu/MenuItem with a recording backend -------------


@pytest.fixture
def pystray_without_display(monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # the only backend that imports with no display
    pystray = pytest.importorskip("pystray", reason=f"the tray extra is not installed ({tray.TRAY_EXTRA_HINT})")
    pytest.importorskip("PIL")

    class RecordingIcon(pystray.Icon):
        """The dummy backend draws nothing; record what would have been drawn instead."""

        def __init__(self, *args, **kwargs):
            self.calls: list[str] = []
            super().__init__(*args, **kwargs)

        def _update_icon(self):
            self.calls.append("icon")

        def _update_title(self):
            self.calls.append("title")

        def _update_menu(self):
            self.calls.append("menu")

        def _show(self):
            self.calls.append("show")

        def _hide(self):
            self.calls.append("hide")

        def _run(self):
            self._mark_ready()

        def _run_detached(self):
            self._mark_ready()

        def _stop(self):
            self.calls.append("stop")

    return SimpleNamespace(Menu=pystray.Menu, MenuItem=pystray.MenuItem, Icon=RecordingIcon)


def test_menu_open_status_and_quit(pystray_without_display):
    status = dict(CONNECTED)
    opened, stopped, reads = [], [], []

    def status_fn():
        reads.append(True)
        return status

    controller = tray.TrayController(
        pystray_without_display,
        status_fn,
        lambda: stopped.append(True),
        logging.getLogger("edge_runtime.test"),
        open_url=opened.append,
    )
    icon = controller.icon
    # Built on the caller's thread (the runtime's loop), it must not read the status there.
    assert reads == [] and icon.title.startswith("edge-connector: Starting")
    controller.refresh()
    assert icon.title.startswith("edge-connector: Connected")
    items = {str(item): item for item in icon.menu.items}
    assert set(items) >= {"Connected", "Open status", "Quit"}
    assert not items["Connected"].enabled  # the state line is information, not an action

    items["Open status"](icon)
    assert opened == ["http://127.0.0.1:8080/statusz"]

    status.update(ready=False, state="waiting", lastError="Disconnected from platform server")
    summary = controller.refresh()
    assert summary.label == "Reconnecting" and icon.title.startswith("edge-connector: Reconnecting")
    assert str(icon.menu.items[0]) == "Reconnecting"

    items["Quit"](icon)
    assert stopped == [True]


def test_refresh_survives_a_status_that_cannot_be_read(pystray_without_display):
    def broken():
        raise ConnectionError("runtime gone")

    controller = tray.TrayController(pystray_without_display, broken, lambda: None, logging.getLogger("t"))
    assert controller.refresh().label == "Not running"


def test_icon_color_follows_the_state():
    pytest.importorskip("PIL", reason=f"the tray extra is not installed ({tray.TRAY_EXTRA_HINT})")
    image = tray.render_icon(tray.GREEN)
    assert image.size == (tray.ICON_SIZE, tray.ICON_SIZE)
    center = tray.ICON_SIZE // 2
    assert image.getpixel((center, center)) == (*tray.GREEN, 255)
    assert image.getpixel((0, 0))[3] == 0  # transparent corners


def test_the_runtime_starts_without_a_tray_and_says_why(platform, tmp_path, monkeypatch):
    """The real `edge-connector start`, with no display: no tray, one log line, and the runtime runs on."""
    from tests.support.runtime import RuntimeProcess, write_token_file

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "EC_DISABLE_TRAY"):
        monkeypatch.delenv(name, raising=False)
    install = tmp_path / "install"
    write_token_file(install, platform.user_token(), platform.url)
    runtime = RuntimeProcess(install, env={"TOOL_RPC_URL": platform.ws_url, "EC_DISABLE_TRAY": "0"}).start()
    try:
        runtime.wait_healthy()
        assert "tray icon off: no display (DISPLAY and WAYLAND_DISPLAY are unset)" in runtime.text
    finally:
        runtime.stop()


def test_started_tray_reads_status_on_its_own_thread_and_stops(pystray_without_display):
    import threading

    from tests.support.waiting import wait_until

    caller = threading.current_thread()
    readers: list[threading.Thread] = []

    def status_fn():
        readers.append(threading.current_thread())
        return CONNECTED

    handle = tray.maybe_start_tray(
        status_fn,
        lambda: None,
        logging.getLogger("edge_runtime.test"),
        environ={"DISPLAY": ":0"},
        platform="linux",
        load_pystray=lambda: pystray_without_display,
    )
    assert isinstance(handle, tray.ThreadTray)
    try:
        wait_until(
            lambda: handle.controller.icon.title.startswith("edge-connector: Connected"),
            5,
            message="the tray's first refresh",
        )
        assert readers and all(reader is not caller for reader in readers)
        assert handle.controller.icon.visible
    finally:
        handle.stop()
    assert "stop" in handle.controller.icon.calls
