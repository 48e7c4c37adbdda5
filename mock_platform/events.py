"""In-process events between the platform's parts: the API says what changed, the hub reacts.

`publish` never waits for a subscriber: callbacks (plain or async) run on the platform's event loop
after the request that caused them has moved on, so a slow hub never slows an upload. It is safe to
call from FastAPI's threadpool as well as from the loop itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("mock_platform.events")


@dataclass(frozen=True)
class AssignmentChanged:
    """What some deployment of `org_id` resolves to may have changed (upload, default, assign, unassign, delete)."""

    org_id: str
    reason: str = ""


@dataclass(frozen=True)
class DeploymentDeleted:
    """`deployment_id` is gone: its connector should be dropped. Published before its AssignmentChanged."""

    org_id: str
    deployment_id: str


@dataclass(frozen=True)
class ToolSetChanged:
    """The tools of `org_id`'s connected deployments may have changed: a connector joined, left or swapped."""

    org_id: str


@dataclass(frozen=True)
class SecretsChanged:
    """The effective secrets of these deployments changed (a put or delete): their connectors refetch."""

    org_id: str
    deployment_ids: tuple[str, ...]


Event = Any
Subscriber = Callable[[Event], Any]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future] = set()
        self._lock = threading.Lock()

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that runs subscribers (the server's); set at startup."""
        self._loop = loop

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register `callback(event)`; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        loop = self._loop or _running_loop()
        for callback in subscribers:
            if loop is None or loop.is_closed():
                self._run_inline(callback, event)
            elif _running_loop() is loop:
                loop.call_soon(self._start, loop, callback, event)
            else:
                loop.call_soon_threadsafe(self._start, loop, callback, event)

    def _start(self, loop: asyncio.AbstractEventLoop, callback: Subscriber, event: Event) -> None:
        try:
            result = callback(event)
        except Exception:
            log.exception("event subscriber %r failed on %r", callback, event)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result, loop=loop)
            self._tasks.add(task)  # keep a reference so the task is not collected mid-flight
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event subscriber failed: %r", task.exception())

    @staticmethod
    def _run_inline(callback: Subscriber, event: Event) -> None:
        """No loop (unit tests, scripts): run the subscriber now, to completion."""
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
        except Exception:
            log.exception("event subscriber %r failed on %r", callback, event)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
