"""`/mcp`'s list_changed under a reconnect storm: one organization's burst of tool-set changes is one
recompute of its tool list (O(its connectors)), not one per change, and the list it sends is the
registry as it is after the burst."""

from __future__ import annotations

import asyncio
import types
from typing import Any

from edge_protocol.messages import ToolInfo
from mock_platform.events import EventBus, ToolSetChanged
from mock_platform.mcp_sessions import McpSessions
from mock_platform.registry import ConnectorRecord, Registry


def test_a_burst_of_changes_in_one_org_is_one_recompute_and_one_list_changed() -> None:
    registry = Registry()
    hub: Any = types.SimpleNamespace(registry=registry, events=EventBus())  # what McpSessions reads of a Hub
    sessions = McpSessions(hub, "test")
    recomputed: list[str] = []
    heard: list[str] = []
    real_tools = sessions.tools.tools

    async def counting_tools(org_id: str):
        recomputed.append(org_id)
        return await real_tools(org_id)

    async def changed(org_id: str) -> None:
        heard.append(org_id)

    sessions.tools.tools = counting_tools  # type: ignore[method-assign]
    sessions.changes = types.SimpleNamespace(changed=changed)  # type: ignore[assignment]

    async def storm() -> None:
        # 2,000 connectors come back: a close and a hello each, as the hub publishes them.
        changes = []
        for i in range(2000):
            registry.add(ConnectorRecord(f"conn_{i}", "org-a", f"dep-{i}", f"t{i:05d}"))
            changes.append(sessions._on_event(ToolSetChanged("org-a")))
            changes.append(sessions._on_event(ToolSetChanged("org-a")))
        # The last one to arrive brings a tool: the list sent must include it.
        registry.add(ConnectorRecord("conn_last", "org-a", "dep-last", "t99999", tools={"echo": ToolInfo("echo")}))
        changes.append(sessions._on_event(ToolSetChanged("org-a")))
        changes.append(sessions._on_event(ToolSetChanged("org-b")))  # another org settles on its own
        await asyncio.gather(*changes)

    asyncio.run(storm())
    assert sorted(recomputed) == ["org-a", "org-b"]
    assert heard == ["org-a", "org-b"] or heard == ["org-b", "org-a"]
    assert b'"echo"' in sessions._listed["org-a"]

    # After the window, a change is heard again (and an unchanged list is not sent twice).
    asyncio.run(sessions._on_event(ToolSetChanged("org-a")))
    assert recomputed.count("org-a") == 2 and heard.count("org-a") == 1
