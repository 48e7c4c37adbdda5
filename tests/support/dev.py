"""`edge-connector dev` as a child process for integration tests: its output, a scaffolded project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

CLI = [sys.executable, "-m", "edge_cli"]

ECHO_TOOL = """import {{ defineTool }} from "../lib/tool";

export default defineTool({{
  name: "echo_version",
  description: "Says which edit of this file is live",
  inputSchema: {{ type: "object", properties: {{}} }},
  async run() {{
    return {{ edit: {n} }};
  }},
}});
"""


def clean_env(config_home: Path) -> dict[str, str]:
    """The environment of a user with no token, no platform variable and no saved login."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CONFIG_HOME": str(config_home)}
    for name in ("EDGE_CONNECTOR_TOKEN", "AUTH_TOKEN_PATH", "EDGE_PLATFORM_URL", "HEALTH_PORT"):
        env.pop(name, None)
    return env


def scaffold(target: Path, name: str) -> Path:
    """`init --template ts` (with npm install) plus the echo_version tool at edit 0."""
    done = subprocess.run(
        [*CLI, "init", str(target), "--template", "ts", "--name", name], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (target / "src" / "tools" / "echo_version.ts").write_text(ECHO_TOOL.format(n=0))
    return target


class DevProcess:
    def __init__(self, project: Path, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [*CLI, "dev", str(project), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def find(self, pattern: str) -> re.Match | None:
        return re.search(pattern, self.text())

    def ready_url(self) -> str | re.Match | bool:
        """For `wait_until`: the dashboard URL once Ready is printed, True if the process ended."""
        match = self.find(r"dashboard\s+(http://\S+)/")
        return match.group(1) if match else self.process.poll() is not None
