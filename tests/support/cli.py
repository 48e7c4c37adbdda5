"""Run the installed `edge-connector` as a user would, with its own token file and config dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

EDGE_CONNECTOR = str(Path(sys.executable).parent / "edge-connector")
_SECRETS = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+|ecs_[\w-]+")


def redact(text: str) -> str:
    """Failure messages never show a token or a deployment secret."""
    return _SECRETS.sub("<redacted>", text)


class Cli:
    """`cli("bundle", "list")` runs the CLI against `url` with `AUTH_TOKEN_PATH` under `home`.

    `ok=True` (default) asserts exit 0, `ok=False`/`None` returns whatever happened.
    """

    def __init__(self, home: Path, url: str) -> None:
        self.home = home
        self.token_path = home / "auth-token.json"
        self.env = {k: v for k, v in os.environ.items() if k not in ("EDGE_CONNECTOR_TOKEN", "CI", "EC_DEBUG")}
        self.env.update(
            {
                "EDGE_PLATFORM_URL": url,
                "AUTH_TOKEN_PATH": str(self.token_path),
                "XDG_CONFIG_HOME": str(home / "config"),
                "HOME": str(home),
                "EC_HTTP_RETRY_BASE": "0.01",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            }
        )

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        ok: bool | None = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [EDGE_CONNECTOR, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.env, **(env or {})},
            cwd=cwd or self.home,
            input=input if input is not None else "",
        )
        if ok is True:
            assert result.returncode == 0, redact(
                f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str, **kwargs) -> dict:
        return json.loads(self(*args, "--json", **kwargs).stdout)
