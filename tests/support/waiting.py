"""Polling with a deadline: the same helpers users get from `edge_connector.testing`."""

from edge_connector.testing.waiting import async_wait_until, free_port, wait_until

__all__ = ["async_wait_until", "free_port", "wait_until"]
