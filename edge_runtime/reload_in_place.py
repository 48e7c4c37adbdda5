"""Reload in place (setting `reloadInPlace`, on in `edge-connector dev`): when may a new version load
into the workers that serve the current one, instead of into new workers?

A swap (the default) starts new Node.js workers for every version: each version runs in fresh
processes, and a broken one never touches the serving workers. Reloading in place skips the process
start and, because every worker resolves a shared chunk it has already loaded to that copy
(`host.mjs --reuse-chunks`), reloads only the tools' own code: a dev-loop save of the example project
goes live in tens of milliseconds instead of a few hundred. The price: module state in shared code
(a cache, a client in a `lib/` module, zod's registry) carries over from one version to the next,
as with a bundler's hot module reload. Whatever differs in how workers start falls back to a swap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from edge_protocol.manifest import Manifest

from .workers import Worker

#: After this many reloads a pool's workers are replaced by a swap, so old versions' modules do not pile up.
MAX_RELOADS_PER_POOL = 100


def can_reload_in_place(
    *,
    enabled: bool,
    serving: Manifest | None,
    serving_secrets: Mapping[str, str],
    new: Manifest,
    secrets: Mapping[str, str],
    reloads: int,
    workers_ready: int,
    workers_wanted: int,
) -> bool:
    """True when `new` may load into the serving workers: the same bundle (scratch directory), the same
    sandbox request (node flags, environment) and secrets they started with, every worker ready, and
    fewer than MAX_RELOADS_PER_POOL reloads so far."""
    return (
        enabled
        and serving is not None
        and new.bundle == serving.bundle
        and new.sandbox == serving.sandbox
        and dict(secrets) == dict(serving_secrets)
        and reloads < MAX_RELOADS_PER_POOL
        and workers_ready == workers_wanted
    )


async def prepare_everywhere(workers: list[Worker], tools: list[tuple[str, Path]], timeout: float) -> Exception | None:
    """Every worker loads `tools` beside what it serves; None when all did (commit them then), else the
    first failure, after telling every live worker to forget what it prepared."""
    try:
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker.prepare_tools(tools, timeout))
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        if not isinstance(first, Exception):
            raise  # cancelled: nothing to report, the caller is going away
        for worker in workers:
            if worker.alive:
                worker.abort_tools()
        return first
    return None
