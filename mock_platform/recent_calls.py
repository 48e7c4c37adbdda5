"""The recent-call log behind `GET /api/calls` and the dashboard: the last calls per organization."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

#: Recent calls kept per organization.
RECENT_CALLS_PER_ORG = 500


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecentCalls:
    def __init__(self, per_org: int = RECENT_CALLS_PER_ORG) -> None:
        self.per_org = per_org
        self._by_org: dict[str, deque[dict[str, Any]]] = {}

    def record(
        self,
        org_id: str,
        call_id: str,
        tool: str,
        deployment_id: str | None,
        duration_ms: float,
        error_code: str | None,
        connector_id: str | None = None,
    ) -> None:
        """One finished call; `error_code` None means it succeeded."""
        recent = self._by_org.get(org_id)
        if recent is None:
            recent = self._by_org[org_id] = deque(maxlen=self.per_org)
        recent.append(
            {
                "callId": call_id,
                "tool": tool,
                "deploymentId": deployment_id,
                "connectorId": connector_id,  # which replica ran it (SPEC.md §14)
                "at": now_iso(),
                "durationMs": round(duration_ms, 3),
                "outcome": "ok" if error_code is None else "error",
                "errorCode": error_code,
            }
        )

    def latest(self, org_id: str, limit: int) -> list[dict[str, Any]]:
        """Newest first."""
        recent = self._by_org.get(org_id) or ()
        return list(reversed(recent))[:limit]
