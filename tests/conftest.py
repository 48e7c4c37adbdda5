"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import pytest

from tests.support.platform import PlatformProcess


@pytest.fixture
def platform(tmp_path):
    """A real mock platform on 127.0.0.1 with its own data dir; stopped after the test."""
    proc = PlatformProcess(tmp_path / "platform-data").start()
    try:
        yield proc
    finally:
        proc.stop()
