"""A real mock platform process on 127.0.0.1: the one `edge_connector.testing` starts for users."""

import httpx

from edge_connector.testing.platform import PlatformProcess

from .waiting import wait_until

__all__ = ["PlatformProcess", "wait_platform_serves"]


def wait_platform_serves(api: httpx.Client, deployment_id: str, bundle: str, timeout: float = 30.0) -> None:
    """Wait until the platform routes `deployment_id`'s calls to a connector serving `bundle`.

    The runtime's /statusz shows a new bundle the moment it swaps; the platform learns its tools from
    the `tools.updated` that follows. A test that calls through the platform waits for the latter.
    """

    def serving() -> bool:
        connectors = api.get("/api/connectors").json()["connectors"]
        return any(
            c["deploymentId"] == deployment_id and (c.get("bundle") or {}).get("name") == bundle for c in connectors
        )

    wait_until(serving, timeout, message=f"the platform to route {deployment_id} to bundle {bundle}")
