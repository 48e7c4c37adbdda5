"""`edge-connector status`'s readable view: plain lines to a pipe, ANSI colours on a terminal."""

from __future__ import annotations

from edge_cli.commands.status import status_lines
from edge_cli.console import paint

STATUS = {
    "version": "0.1.0",
    "pid": 42,
    "installDir": "/srv/edge",
    "state": "registered",
    "ready": True,
    "platformUrl": "ws://127.0.0.1:8000/tool-rpc",
    "connectorId": "conn_1",
    "orgId": "org-1",
    "connectedSince": "2026-01-01T00:00:00Z",
    "deploymentId": None,
    "lastError": "refused [401] by [/platform]",
    "lastErrorAt": "2026-01-01T00:00:01Z",
    "bundle": {"name": "tools", "version": 3, "checksum": "sha256:ab"},
    "sync": {"lastSyncAt": "2026-01-01T00:00:02Z", "nextSyncAt": None, "lastSyncError": "checksum mismatch"},
    "executor": {"workers": 2, "inFlight": 0, "maxConcurrency": 64},
    "tools": [{"name": "echo", "calls": 3, "errors": 0, "avgDurationMs": 1.5}, {"name": "weather", "calls": 0}],
}


def test_the_plain_view_has_one_line_per_fact():
    assert status_lines(STATUS) == [
        "Edge runtime 0.1.0 (pid 42) in /srv/edge",
        "  connection   registered to ws://127.0.0.1:8000/tool-rpc",
        "  connector    conn_1 (org org-1, since 2026-01-01T00:00:00Z)",
        "  deployment   none (organization default)",
        "  last error   refused [401] by [/platform] (2026-01-01T00:00:01Z)",  # brackets are text, not markup
        "  bundle       tools v3 sha256:ab",
        "  last sync    2026-01-01T00:00:02Z; next -",
        "  sync error   Bundle sync error: checksum mismatch",
        "  workers      2 running, 0 calls in flight (max 64)",
        "  tools",
        "    echo     3 calls, 0 errors, avg 1.5 ms",
        "    weather  0 calls, 0 errors",
    ]


def test_the_terminal_view_colours_the_state_and_errors():
    lines = status_lines({**STATUS, "ready": False, "state": "connecting"}, colour=True)
    assert lines[0] == "\x1b[1mEdge runtime\x1b[0m 0.1.0 (pid 42) in /srv/edge"
    assert lines[1] == "  connection   \x1b[33mconnecting\x1b[0m to ws://127.0.0.1:8000/tool-rpc"
    assert "\x1b[31mrefused [401] by [/platform]\x1b[0m" in lines[4]


def test_a_runtime_without_a_bundle_says_so():
    lines = status_lines({"state": "connecting", "sync": {"noBundleAssigned": True}})
    assert "  bundle       none installed" in lines
    assert "  No bundle assigned: run `edge-connector bundle set-default NAME`" in lines


def test_paint():
    assert paint("x", "bold red", colour=True) == "\x1b[1;31mx\x1b[0m"
    assert paint("[red]x[/]", "green", colour=False) == "[red]x[/]"
