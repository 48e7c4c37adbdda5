"""`edge-connector`: typer commands only. Each command lives in `edge_cli/commands/<name>.py`."""

import sys

# `import httpx` also imports httpx's own command-line client (click, rich, pygments: over half of what
# importing httpx costs) unless that import fails, when httpx falls back to a stub `httpx.main`. Nothing
# here runs httpx's CLI, so it is made to fail: every command and the runtime start faster and smaller.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
