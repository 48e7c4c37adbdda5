"""The seats of each deployment (SPEC.md §14): the asyncio side of `replicas.py`'s decisions.

A connector takes a seat at the handshake, before the upgrade, and holds it from then on: first as a
reservation (admitted, `connector.hello` not answered yet, so two arriving at once cannot both take the
last seat), then as a registered holder in the `Registry`. When every seat is taken, the holders are
probed at once (the hub's `probe`, ~2 s) and the silent ones replaced (the hub's `replace`: close 4009,
calls in flight fail `connector_unavailable`) before the newcomer is refused 409. One lock per
deployment makes the check, the probe and the reservation one step.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from edge_protocol import jsonrpc

from .errors import ApiError
from .registry import ConnectorRecord, Registry
from .replicas import after_probe, has_free_seat

log = logging.getLogger("mock_platform.seats")

Key = tuple[str, str]  # (org id, deployment id)


def duplicate() -> ApiError:
    status, code, message = jsonrpc.HANDSHAKE_DUPLICATE
    return ApiError(status, code, message)


class Seats:
    def __init__(
        self,
        registry: Registry,
        probe: Callable[[ConnectorRecord], Awaitable[bool]],
        replace: Callable[[ConnectorRecord], Awaitable[None]],
    ) -> None:
        self.registry = registry
        self._probe = probe
        self._replace = replace
        self._reserved: Counter[Key] = Counter()
        self._locks: dict[Key, asyncio.Lock] = {}

    def occupied(self, org_id: str, deployment_id: str) -> list[ConnectorRecord]:
        """Holders that keep their seat: a draining one is leaving and no longer counts."""
        return [record for record in self.registry.holders(org_id, deployment_id) if not record.draining]

    async def reserve(self, org_id: str, deployment_id: str, replicas: int) -> None:
        """Reserve a seat for an arriving connector, or raise the 409 `Deployment already connected`."""
        key = (org_id, deployment_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            holders = self.occupied(org_id, deployment_id)
            reserved = self._reserved[key]
            if not has_free_seat(len(holders) + reserved, replicas):
                answered = await asyncio.gather(*(self._probe(holder) for holder in holders))
                outcome = after_probe(holders, answered, replicas, reserved)
                for silent in outcome.replace:
                    log.warning(
                        "connector %s of deployment %s did not answer a probe: replaced",
                        silent.connector_id,
                        deployment_id,
                    )
                    await self._replace(silent)
                if not outcome.admit:
                    raise duplicate()
            self._reserved[key] += 1

    def release(self, org_id: str, deployment_id: str) -> None:
        """The reservation ends: its connector registered (it now holds the seat in the registry) or left."""
        key = (org_id, deployment_id)
        self._reserved[key] -= 1
        if self._reserved[key] <= 0:
            del self._reserved[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]
