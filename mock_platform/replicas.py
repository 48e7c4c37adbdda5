"""Who may hold a deployment (SPEC.md §14): up to `replicas` connectors, and a silent one never locks it out.

A connector arriving for a deployment whose seats are all held is not refused at once: a holder may be
a link the network has silently dropped (a NAT that forgot the flow keeps no socket of ours informed),
which the heartbeat would only notice after two intervals (a minute at the default 30 s). So the
platform probes the holders (`connector.ping`, any answer counts, ~2 s) and replaces the ones that stay
silent; only when every holder answers is the newcomer refused 409 "Deployment already connected".

Pure decisions on plain values; `hub.py` does the probing and the closing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

#: How long a holder has to answer the probe before it counts as gone.
PROBE_TIMEOUT_SECONDS = 2.0

Holder = TypeVar("Holder")


def has_free_seat(holders: int, replicas: int) -> bool:
    """True when a newcomer can be admitted without asking anyone: fewer holders than seats."""
    return holders < max(1, replicas)


@dataclass(frozen=True)
class ProbeOutcome(Generic[Holder]):
    #: Holders that did not answer: close them (4009), their calls in flight fail `connector_unavailable`.
    replace: tuple[Holder, ...]
    #: Whether the newcomer gets a seat (else 409 "Deployment already connected").
    admit: bool


def after_probe(
    holders: Sequence[Holder], answered: Sequence[bool], replicas: int, reserved: int = 0
) -> ProbeOutcome[Holder]:
    """Decide once the probe is over: `answered[i]` says whether `holders[i]` answered in time;
    `reserved` seats are held by connectors admitted but not registered yet (they cannot be probed)."""
    if len(holders) != len(answered):
        raise ValueError("one answer per holder")
    silent = tuple(holder for holder, alive in zip(holders, answered, strict=True) if not alive)
    alive = len(holders) - len(silent)
    return ProbeOutcome(replace=silent, admit=has_free_seat(alive + reserved, replicas))
