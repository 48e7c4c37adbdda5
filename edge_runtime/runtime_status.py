"""What the runtime tells the outside about itself: the `/statusz` document and the `/metrics` gauges."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edge_protocol import __version__
from edge_protocol.manifest import Manifest

from .metrics import ToolCounts
from .settings import describe

if TYPE_CHECKING:
    from .runtime import Runtime

_NO_CALLS = ToolCounts()


def status_document(runtime: Runtime) -> dict[str, Any]:
    """`/statusz` (and the tray's menu): the link, the bundle, the tools' counts; names only, never secrets."""
    snap = runtime.policy.snapshot()
    executor = runtime.executor
    manifest: Manifest | None = executor.manifest if executor is not None else None
    return {
        "version": __version__,
        "pid": os.getpid(),
        "installDir": str(runtime.settings.install_dir),
        "uptimeSeconds": round(time.time() - runtime.started_at, 3),
        "ready": runtime.is_ready(),
        "state": snap["state"],
        "platformUrl": runtime.settings.tool_rpc_url,
        "connectedSince": _wall(snap["connectedSince"]),
        "lastError": snap["lastError"],
        "lastErrorAt": _wall(snap["lastErrorAt"]),
        "reconnectAttempts": snap["reconnectAttempts"],
        "nextRetryAt": _wall(snap["nextRetryAt"]),
        "connects": snap["connects"],
        "disconnects": snap["disconnects"],
        "connectorId": runtime.connector_id,
        "orgId": runtime.org_id,
        "deploymentId": runtime.deployment_id,
        "auth": runtime.auth.description if runtime.auth is not None else None,
        "bundle": manifest.ref() if manifest else None,
        "sync": runtime.sync.status() if runtime.sync is not None else {},
        "secrets": runtime.secrets.status() if runtime.secrets is not None else None,  # names only, never values
        "tools": [
            {"name": tool.name, **runtime.metrics.per_tool.get(tool.name, _NO_CALLS).as_dict()}
            for tool in (manifest.tools if manifest else [])
        ],
        "executor": executor.stats() if executor is not None else {},
        "inFlight": executor.in_flight if executor is not None else 0,
        "health": {"url": runtime.health.url if runtime.health else None},
        "settings": describe(runtime.settings),
    }


def register_gauges(runtime: Runtime) -> None:
    """The runtime's gauges on its `/metrics`, read when scraped."""
    metrics, policy = runtime.metrics, runtime.policy
    metrics.gauge(
        "edge_connected",
        "1 while connected to and registered with the platform.",
        lambda: 1.0 if policy.healthy else 0.0,
    )
    metrics.gauge(
        "edge_reconnect_attempts",
        "Attempts since the last stable connection.",
        lambda: float(policy.reconnect_attempts),
    )
    metrics.gauge(
        "edge_calls_in_flight",
        "Tool calls being run now.",
        lambda: float(runtime.executor.in_flight if runtime.executor is not None else 0),
    )
    metrics.gauge(
        "edge_tools_loaded",
        "Tools of the active bundle.",
        lambda: float(len(runtime.executor.tools) if runtime.executor is not None else 0),
    )
    metrics.gauge(
        "edge_bundle_version",
        "Version of the active bundle (0 when none).",
        lambda: float(
            (runtime.executor.manifest.version or 0)
            if runtime.executor is not None and runtime.executor.manifest
            else 0
        ),
    )


def _wall(monotonic_at: float | None) -> str | None:
    if monotonic_at is None:
        return None
    wall = time.time() - (time.monotonic() - monotonic_at)
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
