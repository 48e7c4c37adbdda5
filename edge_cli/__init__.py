"""`edge-connector`: typer commands only. Each command lives in `edge_cli/commands/<name>.py`."""
