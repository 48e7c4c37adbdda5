"""The reference: the official `mcp` Python SDK serving a trivial echo tool over stdio.

Started by `benchmarks/call_path.py` as a subprocess and driven by the SDK's own client, so the
figures compare our platform → runtime → node path against what a user would get from the SDK.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

server = MCPServer("echo-reference", log_level="WARNING")


@server.tool(description="Return the input unchanged")
def echo(message: str) -> dict[str, Any]:
    return {"message": message}


if __name__ == "__main__":
    server.run("stdio")
