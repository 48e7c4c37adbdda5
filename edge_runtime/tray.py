"""Optional tray icon: connection state and last sync at a glance, with "Open status" and "Quit".

Installed with `pip install 'edge-connector[tray]'` (pystray + Pillow). The runtime never depends on
it: `maybe_start_tray` returns None, and logs why, when the tray is turned off (`EC_DISABLE_TRAY=1`),
when there is no display to show it on (Linux without `DISPLAY`/`WAYLAND_DISPLAY`, e.g. servers and
containers) or when pystray is missing or fails to load.

Where it runs: pystray's loop must own a main thread on macOS, and the runtime's asyncio loop owns
ours, so on macOS the icon runs in a small child process (`python -m edge_runtime.tray`) that reads
`/statusz` and sends SIGTERM (the normal drain) on Quit. Elsewhere it runs in a daemon thread and
calls the runtime's callables directly.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

StatusFn = Callable[[], Mapping[str, Any]]
StopFn = Callable[[], None]

REFRESH_SECONDS = 2.0
ICON_SIZE = 64
TRAY_EXTRA_HINT = "pip install 'edge-connector[tray]'"


# --- whether to show it ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrayDecision:
    enabled: bool
    reason: str  # why it is off (or "" when on), for the log line


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def has_display(environ: Mapping[str, str], platform: str) -> bool:
    """macOS always has a desktop session for a user process; X11/Wayland need a server."""
    if platform == "darwin":
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def decide(environ: Mapping[str, str], platform: str, load_pystray: Callable[[], Any]) -> TrayDecision:
    """Tray on or off, in order: the switch, the display, the optional dependency."""
    if _truthy(environ.get("EC_DISABLE_TRAY")):
        return TrayDecision(False, "tray icon off: EC_DISABLE_TRAY=1")
    if not has_display(environ, platform):
        return TrayDecision(False, "tray icon off: no display (DISPLAY and WAYLAND_DISPLAY are unset)")
    try:
        load_pystray()
    except ImportError:
        return TrayDecision(False, f"tray icon off: pystray is not installed ({TRAY_EXTRA_HINT})")
    except Exception as exc:  # pystray picks a backend at import and connects to the display then
        return TrayDecision(False, f"tray icon off: pystray could not start ({type(exc).__name__}: {exc})")
    return TrayDecision(True, "")


def _import_pystray() -> Any:
    import pystray  # optional dependency: imported only here, after the display check

    return pystray


# --- what it shows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TraySummary:
    label: str  # Connected / Connecting / Reconnecting / Stopping / Starting
    color: tuple[int, int, int]
    title: str  # the hover text: state, bundle, last sync, last error


GREEN, AMBER, RED, GREY = (46, 160, 67), (219, 155, 0), (200, 40, 40), (130, 130, 130)


def summarize(status: Mapping[str, Any] | None) -> TraySummary:
    """The icon's label, color and hover text from a `/statusz` document (None: runtime unreachable)."""
    if not status:
        return TraySummary("Not running", GREY, "edge-connector: runtime not reachable")
    state = str(status.get("state") or "starting")
    if status.get("ready"):
        label, color = "Connected", GREEN
    elif state in ("stopping", "stopped"):
        label, color = "Stopping", GREY
    elif state == "waiting" or status.get("lastError"):
        label, color = "Reconnecting", RED
    elif state in ("connecting", "connected"):
        label, color = "Connecting", AMBER
    else:
        label, color = "Starting", AMBER
    parts = [f"edge-connector: {label}"]
    bundle = status.get("bundle")
    if isinstance(bundle, Mapping) and bundle.get("name"):
        parts.append(f"bundle {bundle['name']} v{bundle.get('version') or '?'}")
    raw_sync = status.get("sync")
    sync: Mapping[str, Any] = raw_sync if isinstance(raw_sync, Mapping) else {}
    parts.append(f"last sync {sync.get('lastSyncAt') or 'never'}")
    if sync.get("lastSyncError"):
        parts.append(f"sync error: {sync['lastSyncError']}")
    if label != "Connected" and status.get("lastError"):
        parts.append(f"last error: {status['lastError']}")
    # Windows limits tooltips to 127 characters.
    title = "\n".join(parts)
    return TraySummary(label, color, title if len(title) <= 127 else title[:126] + "…")


def render_icon(color: tuple[int, int, int]) -> Any:
    """A filled circle in the state's color (a Pillow image)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (ICON_SIZE, ICON_SIZE), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse(
        (6, 6, ICON_SIZE - 6, ICON_SIZE - 6), fill=(*color, 255), outline=(255, 255, 255, 255), width=3
    )
    return image


def status_page_url(status: Mapping[str, Any] | None) -> str | None:
    health = (status or {}).get("health")
    base = health.get("url") if isinstance(health, Mapping) else None
    if not base:
        return None
    # The health server may listen on 0.0.0.0; a browser needs an address it can reach.
    return base.replace("://0.0.0.0:", "://127.0.0.1:").rstrip("/") + "/statusz"


# --- the icon ----------------------------------------------------------------------------------


class TrayController:
    """Builds the pystray icon and keeps its image and hover text in step with the runtime's status."""

    def __init__(
        self,
        pystray: Any,
        status_fn: StatusFn,
        stop_fn: StopFn,
        logger: logging.Logger,
        open_url: Callable[[str], Any] = webbrowser.open,
    ) -> None:
        self._status_fn = status_fn
        self._stop_fn = stop_fn
        self._log = logger
        self._open_url = open_url
        self._closing = threading.Event()
        self._shown: TraySummary | None = None
        # No status read here: the constructor runs on the caller's thread (the runtime's event loop),
        # and `status_fn` may need that very loop. The tray's own thread reads it as soon as it runs.
        summary = summarize({"state": "starting"})
        menu = pystray.Menu(
            pystray.MenuItem(lambda _item: self._shown.label if self._shown else "edge-connector", None, enabled=False),
            pystray.MenuItem("Open status", self.open_status, default=True),
            pystray.MenuItem("Quit", self.quit),
        )
        self.icon = pystray.Icon("edge-connector", render_icon(summary.color), summary.title, menu)
        self._shown = summary

    def _read_status(self) -> Mapping[str, Any] | None:
        try:
            return self._status_fn()
        except Exception as exc:  # a status that cannot be read shows as "not reachable", never crashes the icon
            self._log.debug("tray: status unavailable: %s", exc)
            return None

    def refresh(self) -> TraySummary:
        summary = summarize(self._read_status())
        if summary != self._shown:
            if self._shown is None or summary.color != self._shown.color:
                self.icon.icon = render_icon(summary.color)
            self.icon.title = summary.title
            self._shown = summary
            self.icon.update_menu()
        return summary

    def open_status(self, *_args: Any) -> None:
        url = status_page_url(self._read_status())
        if url:
            self._open_url(url)
        else:
            self._log.warning("tray: no status page to open (the health server is not listening)")

    def quit(self, *_args: Any) -> None:
        self._log.info("Quit chosen in the tray icon: stopping the runtime")
        self.close()
        self._stop_fn()

    def _refresh_loop(self, icon: Any) -> None:
        icon.visible = True
        # Refresh at once, then every REFRESH_SECONDS; Event.wait wakes at once on close().
        while True:
            try:
                self.refresh()
            except Exception as exc:
                self._log.debug("tray: refresh failed: %s", exc)
            if self._closing.wait(REFRESH_SECONDS):
                return

    def run(self) -> None:
        """Block in pystray's loop (call from the thread that should own it)."""
        self.icon.run(setup=self._refresh_loop)

    def close(self) -> None:
        self._closing.set()
        try:
            self.icon.stop()
        except Exception:
            pass


class TrayHandle(Protocol):
    def stop(self) -> None: ...


@dataclass
class ThreadTray:
    controller: TrayController
    thread: threading.Thread

    def stop(self) -> None:
        self.controller.close()
        self.thread.join(timeout=5)


@dataclass
class ProcessTray:
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def maybe_start_tray(
    status_fn: StatusFn,
    stop_fn: StopFn,
    logger: logging.Logger,
    *,
    health_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    load_pystray: Callable[[], Any] = _import_pystray,
) -> TrayHandle | None:
    """Show the tray icon when it can be shown; otherwise log why not and return None.

    `status_fn` returns the runtime's `/statusz` document; `stop_fn` starts the normal shutdown. Both
    are called from the tray's thread, never from the caller's: make them thread-safe (e.g. through
    `asyncio.run_coroutine_threadsafe` / `loop.call_soon_threadsafe`). `health_url` (the health
    server's base URL) is what the macOS child process reads `/statusz` from.
    """
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    decision = decide(env, platform, load_pystray)
    if not decision.enabled:
        logger.info(decision.reason)
        return None
    try:
        if platform == "darwin":
            url = status_page_url({"health": {"url": health_url}})
            if not url:
                logger.info("tray icon off: the health server is not listening, so the tray has no status to read")
                return None
            process = subprocess.Popen(
                [sys.executable, "-m", "edge_runtime.tray", "--status-url", url, "--pid", str(os.getpid())]
            )
            return ProcessTray(process)
        controller = TrayController(load_pystray(), status_fn, stop_fn, logger)
        thread = threading.Thread(target=controller.run, name="tray", daemon=True)
        thread.start()
        return ThreadTray(controller, thread)
    except Exception as exc:  # the tray is a convenience: never let it stop the runtime
        logger.warning("tray icon off: it failed to start (%s: %s)", type(exc).__name__, exc)
        return None


# --- child-process mode (macOS) ----------------------------------------------------------------


def _http_status(url: str) -> Mapping[str, Any]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL built by us)
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m edge_runtime.tray", description=__doc__.splitlines()[0])
    parser.add_argument("--status-url", required=True, help="the runtime's /statusz URL")
    parser.add_argument("--pid", type=int, required=True, help="the runtime's process id (Quit sends it SIGTERM)")
    args = parser.parse_args(argv)
    logger = logging.getLogger("edge_runtime.tray")
    try:
        pystray = _import_pystray()
    except Exception as exc:
        print(f"tray icon off: {exc}", file=sys.stderr)
        return 1

    def status() -> Mapping[str, Any]:
        try:
            return _http_status(args.status_url)
        except OSError:
            try:
                os.kill(args.pid, 0)
            except OSError:  # the runtime is gone: so is its icon
                controller.close()
            raise

    controller = TrayController(pystray, status, lambda: os.kill(args.pid, signal.SIGTERM), logger)
    controller.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
