"""The workers of one loaded bundle, and what loading it checks first: every tool's `inputSchema`
compiles. A pool picks the least busy ready worker for a call; a crashed worker is restarted after
a pause that grows while it keeps dying young."""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from jsonschema import Draft202012Validator

from edge_protocol.argument_check import ArgumentsValidator
from edge_protocol.backoff import Backoff
from edge_protocol.manifest import Manifest, ToolDescriptor

from .workers import Worker

#: A worker that dies sooner than this after starting is restarted after a pause, not at once.
FAST_CRASH_SECONDS = 1.0


def restart_backoff() -> Backoff:
    """Pauses before restarting a worker that crashed right after starting, or whose restart failed:
    0.5 s doubling to 8 s, so a crash loop cannot spin the CPU; one that ran a while starts it over."""
    return Backoff(initial=0.5, maximum=8.0, stable_after=FAST_CRASH_SECONDS)


class BundleLoadError(Exception):
    """A bundle whose tools do not all load; the message names the tool and the cause."""


@dataclass(eq=False)
class WorkerPool:
    """The workers of one loaded bundle."""

    bundle_dir: Path
    manifest: Manifest
    validators: dict[str, ArgumentsValidator]
    scratch_dir: Path = Path(".")
    secrets: dict[str, str] = field(default_factory=dict)  # what these workers started with; a change = new pool
    workers: list[Worker] = field(default_factory=list)
    current: bool = True  # False once replaced or closing: crashed workers are not restarted
    ready_event: asyncio.Event = field(default_factory=asyncio.Event)
    restarts: int = 0
    reloads: int = 0  # new versions loaded into these workers (reload in place)
    restart_backoff: Backoff = field(default_factory=restart_backoff)

    def tool_paths(self) -> list[tuple[str, Path]]:
        return [(tool.name, (self.bundle_dir / tool.entry).resolve()) for tool in self.manifest.tools]

    def pick(self) -> Worker | None:
        """The least busy worker that can take a call now (ready, alive, nothing stuck on it)."""
        best: Worker | None = None
        for worker in self.workers:
            if worker.ready and worker.alive and not worker.has_overdue and (best is None or worker.load < best.load):
                best = worker
        return best

    def in_flight(self) -> int:
        return sum(w.load for w in self.workers)


@dataclass(eq=False)
class WarmPool:
    """Workers started (`Executor.warm_up`) for a bundle still arriving; `Executor.load` takes them once."""

    pool: WorkerPool
    used: bool = False

    def take(self, bundle_dir: Path, manifest: Manifest, secrets: dict[str, str]) -> WorkerPool | None:
        """The pool, with `manifest` (it may carry the version now), if it was started for exactly this."""
        if self.used:
            return None
        pool = self.pool
        if pool.bundle_dir != bundle_dir.resolve() or pool.manifest.checksum != manifest.checksum:
            return None
        if pool.secrets != secrets or pool.manifest.sandbox != manifest.sandbox:
            return None
        self.used = True
        pool.manifest = manifest
        return pool


def compile_schema(tool: ToolDescriptor) -> ArgumentsValidator:
    """The validator of a tool's `inputSchema`, compiled once per load; a bad schema fails the load."""
    try:
        return _validator_for(json.dumps(tool.inputSchema, sort_keys=True))
    except Exception as exc:  # SchemaError: name the tool, not jsonschema's internals
        raise BundleLoadError(
            f"tool {tool.name!r} failed to load: its inputSchema is not valid JSON Schema ({getattr(exc, 'message', exc)})"
        ) from None


@functools.lru_cache(maxsize=256)
def _validator_for(schema_json: str) -> ArgumentsValidator:
    """Checked and compiled once per distinct schema (~3 ms each): a new version of a bundle mostly
    repeats its tools' schemas, and a dev-loop save would pay it for every tool. Validators hold no
    state between validations, so pools share them."""
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return ArgumentsValidator(Draft202012Validator(schema))
