"""`EdgeStack`: one tool project built, uploaded, assigned and served by a real runtime, for a test.

The stack talks to the platform only through its public HTTP API (as `edge-connector` does) and runs
the runtime as `edge-connector start` in a subprocess with its own installation directory, so a test
exercises exactly what production runs: esbuild, the manifest, the archive, sync, Node.js workers.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from .platform import PlatformProcess
from .runtime import RuntimeProcess
from .waiting import wait_until

#: How long `start()`/`upload()` wait for the runtime to serve a version (a first build may install esbuild).
READY_TIMEOUT_SECONDS = 120.0
_stack_numbers = itertools.count(1)


class ToolCallError(Exception):
    """A call the platform answered with an error.

    `kind` is the error kind (`invalid_arguments`, `tool_error`, `tool_timeout`, `tool_not_found`,
    `connector_unavailable`, …); `code` is the tool's own code for a `tool_error`
    (`ToolError("empty_slug", …)` → `"empty_slug"`), else the kind; `details` as the platform sent them
    (for `invalid_arguments`: `[{"path": "/json/pointer", "message": …}]`).
    """

    def __init__(self, kind: str, code: str, message: str, details: Any = None, status: int = 0) -> None:
        super().__init__(f"{kind} ({code}): {message}" if code != kind else f"{kind}: {message}")
        self.kind, self.code, self.message, self.details, self.status = kind, code, message, details, status


class EdgeStack:
    """See the module docstring; made by the `edge_stack` fixture, which also tears it down."""

    def __init__(
        self,
        platform: PlatformProcess,
        project_dir: Path,
        work_dir: Path,
        *,
        secrets: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.platform = platform
        self.project_dir = Path(project_dir).resolve()
        self.work_dir = Path(work_dir)
        self.secrets = dict(secrets or {})
        self.env = dict(env or {})
        number = next(_stack_numbers)
        # Its own organization: stacks of one test (or of parallel tests on one platform) never meet.
        self.org_id = f"stack-{os.getpid()}-{number}-{uuid.uuid4().hex[:8]}"
        self.deployment_id = ""
        self.bundle = ""
        self.version: int | None = None
        self.checksum = ""
        self.runtime: RuntimeProcess | None = None
        self._api: httpx.Client | None = None

    # --------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = READY_TIMEOUT_SECONDS) -> EdgeStack:
        token = self.platform.user_token(email=f"{self.org_id}@example.com", org_id=self.org_id)
        self._api = httpx.Client(base_url=self.platform.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        deployment = self._ok(self._api.post("/api/deployments", json={"name": "tests"}), "create a deployment")
        self.deployment_id = deployment["deploymentId"]
        self._put_secrets()
        self._build_and_upload()
        self.runtime = RuntimeProcess(
            self.work_dir / "install",
            env={
                "TOOL_RPC_URL": self.platform.ws_url,
                "DEPLOYMENT_ID": self.deployment_id,
                "DEPLOYMENT_SECRET": deployment["secret"],
                **self.env,
            },
        ).start(timeout=timeout)
        self.wait_ready(timeout)
        return self

    def close(self) -> None:
        """Stop the runtime (graceful, then killed) and forget the platform session; safe to call twice."""
        try:
            if self.runtime is not None:
                self.runtime.stop()
        finally:
            if self._api is not None:
                self._api.close()

    # ------------------------------------------------------------------------------ calls
    def call(self, tool: str, arguments: Any = None, *, timeout_ms: int | None = None) -> Any:
        """Call `tool` through the platform as an agent would; its output, or raises ToolCallError."""
        body: dict[str, Any] = {"arguments": {} if arguments is None else arguments, "deploymentId": self.deployment_id}
        if timeout_ms is not None:
            body["timeoutMs"] = timeout_ms
        response = self.api.post(f"/api/tools/{tool}/call", json=body, timeout=max(30.0, (timeout_ms or 0) / 1000 + 10))
        if response.status_code == 200:
            return response.json()["output"]
        error = _error_body(response)
        kind = str(error.get("code") or f"http_{response.status_code}")
        raise ToolCallError(
            kind,
            str(error.get("toolCode") or kind),
            str(error.get("message", response.text)),
            error.get("details"),
            response.status_code,
        )

    def upload(self, timeout: float = READY_TIMEOUT_SECONDS) -> int:
        """Build the project's current sources, upload, assign, and wait until that version answers."""
        self._build_and_upload()
        self.wait_ready(timeout)
        assert self.version is not None
        return self.version

    def disconnect(self) -> None:
        """Drop the runtime's link from the platform side (like a network cut); it reconnects by itself.

        Call `wait_ready()` to wait until it is back.
        """
        done = self._ok(
            self.api.post("/api/sim/disconnect", json={"deploymentId": self.deployment_id}), "disconnect the runtime"
        )
        if not done.get("disconnected"):
            raise AssertionError(f"the runtime of deployment {self.deployment_id} was not connected")

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Wait until the runtime is connected and serves the uploaded version's tools."""
        runtime = self.runtime
        if runtime is None:
            raise RuntimeError("the stack has not started")
        wait_until(
            lambda: runtime.exited() or self._serving(),
            timeout,
            message=f"the runtime to serve {self.bundle} v{self.version}",
        )
        if runtime.process is not None and runtime.process.poll() is not None:
            raise AssertionError(f"the runtime exited (code {runtime.process.returncode}):\n{self.logs()}")

    def logs(self) -> str:
        """Everything the runtime logged so far, its tools' console lines included (tagged with the tool name)."""
        return self.runtime.text if self.runtime is not None else ""

    def wait_for_log(self, fragment: str, timeout: float = 10.0) -> str:
        """Wait until the runtime's log holds `fragment`; returns the log.

        A tool's console lines travel apart from its result, so one may be logged a moment after the
        call returned: wait for it rather than reading `logs()` at once.
        """
        if self.runtime is None:
            raise RuntimeError("the stack has not started")
        return self.runtime.wait_for_log(fragment, timeout)

    @property
    def api(self) -> httpx.Client:
        """An HTTP client for the platform's API, signed in to this stack's organization."""
        if self._api is None:
            raise RuntimeError("the stack has not started")
        return self._api

    # ---------------------------------------------------------------------------- helpers
    def _build_and_upload(self) -> None:
        from bundler.build import build_project  # the plugin loads with pytest; the bundler only when used

        built = build_project(self.project_dir, self.work_dir / "build")
        uploaded = self._ok(
            self.api.post(
                f"/api/bundles/{built.manifest.bundle}/versions",
                content=built.archive_path.read_bytes(),
                headers={"X-Bundle-Checksum": built.checksum, "Content-Type": "application/gzip"},
            ),
            "upload the bundle",
        )
        self.bundle, self.version, self.checksum = uploaded["name"], uploaded["version"], uploaded["checksum"]
        self._ok(
            self.api.put(
                f"/api/deployments/{self.deployment_id}/bundle", json={"name": self.bundle, "version": self.version}
            ),
            "assign the bundle",
        )

    def _serving(self) -> bool:
        connectors = self.api.get("/api/connectors").json()["connectors"]
        return any(
            c.get("deploymentId") == self.deployment_id and (c.get("bundle") or {}).get("checksum") == self.checksum
            for c in connectors
        )

    def _put_secrets(self) -> None:
        for name, value in self.secrets.items():
            response = self.api.put(f"/api/secrets/{name}", json={"value": value, "deploymentId": self.deployment_id})
            if response.status_code in (404, 405) and _error_body(response).get("code") in (None, "not_found"):
                raise NotImplementedError(
                    "edge_stack(secrets=...) needs the platform's secrets API (PUT /api/secrets/{name}, "
                    "SPEC §11), which this version of edge-connector does not have yet; "
                    "pass values through env={...} meanwhile"
                )
            self._ok(response, f"set the secret {name}")

    @staticmethod
    def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 400:
            error = _error_body(response)
            raise AssertionError(
                f"could not {what}: HTTP {response.status_code} "
                f"{error.get('code', '')} {error.get('message', response.text)}"
            )
        return response.json()


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
