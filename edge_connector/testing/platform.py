"""Start a real mock platform process on 127.0.0.1 for integration tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .waiting import wait_until

_LISTENING = re.compile(r"mock-platform listening on (http://\S+)")


@dataclass
class PlatformProcess:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 20.0) -> PlatformProcess:
        cmd = [
            sys.executable,
            "-m",
            "mock_platform.serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            str(self.data_dir),
            *self.extra_args,
        ]
        self.output = []
        self.process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        threading.Thread(target=self._pump, daemon=True).start()
        found = wait_until(lambda: self._url_from_output() or self._died(), timeout, message="platform to listen")
        if not isinstance(found, str):
            raise AssertionError("mock platform exited early:\n" + "".join(self.output))
        self.url = found
        return self

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/tool-rpc"

    def _pump(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            self.output.append(line)

    def _url_from_output(self) -> str | None:
        for line in list(self.output):
            match = _LISTENING.search(line)
            if match:
                return match.group(1)
        return None

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def user_token(self, email: str = "dev@example.com", org_id: str | None = "org-test") -> str:
        """dev-login; outside dev mode (where it is 404) the `/login` page's paste-a-token answer."""
        body = {"email": email, **({"orgId": org_id} if org_id else {})}
        response = httpx.post(f"{self.url}/api/auth/dev-login", json=body, timeout=10)
        if response.status_code == 404:
            page = httpx.post(f"{self.url}/login", data={**body, "mode": "paste"}, timeout=10)
            page.raise_for_status()
            found = re.search(r'<textarea readonly id="token">([^<]+)</textarea>', page.text)
            if found is None:
                raise RuntimeError("the platform's /login page showed no token")
            return found.group(1)
        response.raise_for_status()
        return str(response.json()["token"])

    def mint_token(self, **claims) -> str:
        response = httpx.post(f"{self.url}/api/dev/tokens", json=claims, timeout=10)
        response.raise_for_status()
        return response.json()["token"]
