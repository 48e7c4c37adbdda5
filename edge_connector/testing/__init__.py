"""A pytest plugin for integration tests of a tool project (SPEC.md §15); installed with edge-connector.

Fixtures (registered through the `pytest11` entry point, nothing to import):

- `edge_platform`: a real mock platform on a free loopback port with a temporary data dir, dev mode.
- `edge_stack`: a factory, `edge_stack(project_dir, secrets={...}, env={...}) -> EdgeStack`, that builds
  the project, uploads the bundle, assigns it to a new deployment, starts a runtime for it and waits
  until its tools answer. `stack.call(tool, args)`, `stack.upload()`, `stack.disconnect()`,
  `stack.logs()`. Every stack is torn down after the test, passed or failed.

Each test gets its own platform and each stack its own organization, deployment, ports and temp dirs,
so tests run in parallel with pytest-xdist (`pytest -n 2`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .platform import PlatformProcess
from .runtime import RuntimeProcess
from .stack import READY_TIMEOUT_SECONDS, EdgeStack, ToolCallError
from .waiting import async_wait_until, wait_until

__all__ = [
    "EdgeStack",
    "PlatformProcess",
    "RuntimeProcess",
    "StackFactory",
    "ToolCallError",
    "async_wait_until",
    "edge_platform",
    "edge_stack",
    "wait_until",
]

#: `edge_stack(project_dir, *, secrets=None, env=None, timeout=...) -> EdgeStack`
StackFactory = Callable[..., EdgeStack]


@pytest.fixture
def edge_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    """A mock platform on 127.0.0.1 (free port, temporary data dir, dev mode); stopped after the test."""
    platform = PlatformProcess(tmp_path_factory.mktemp("edge-platform")).start()
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def edge_stack(edge_platform: PlatformProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """Factory of running stacks on `edge_platform`; every stack it made is stopped after the test."""
    stacks: list[EdgeStack] = []

    def make(
        project_dir: str | Path,
        *,
        secrets: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = READY_TIMEOUT_SECONDS,
    ) -> EdgeStack:
        stack = EdgeStack(
            edge_platform, Path(project_dir), tmp_path_factory.mktemp("edge-stack"), secrets=secrets, env=env
        )
        stacks.append(stack)  # before start(): a stack that fails half-way is torn down too
        return stack.start(timeout)

    try:
        yield make
    finally:
        errors: list[Any] = []
        for stack in reversed(stacks):
            try:
                stack.close()
            except Exception as exc:  # stop the others anyway, then report
                errors.append(exc)
        if errors:
            raise errors[0]
