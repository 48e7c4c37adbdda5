"""Fixtures shared by unit and integration tests.

The platform, stack and waiting helpers are the ones users get from `edge_connector.testing` (its
pytest plugin is registered by the package's `pytest11` entry point, so `edge_platform` and
`edge_stack` are available here as in any tool project).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def platform(edge_platform):
    """A real mock platform on 127.0.0.1 with its own data dir; stopped after the test (the plugin's)."""
    return edge_platform
