"""The Dockerfile, checked without a Docker daemon: parse it, run its healthcheck, run its install steps."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.dockerfile import (
    Instruction,
    copy_build_context,
    env_values,
    healthcheck_command,
    parse_dockerfile,
)

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def _only(instructions: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
    return found[0]


def _index(instructions: list[Instruction], keyword: str) -> int:
    return next(n for n, i in enumerate(instructions) if i.keyword == keyword)


def test_base_image_is_python_311_slim(instructions):
    assert instructions[0].keyword == "FROM"
    assert instructions[0].arguments == "python:3.11-slim"


def test_runs_as_a_created_non_root_user_after_the_install(instructions):
    user = _only(instructions, "USER").arguments
    assert user not in ("root", "0") and not user.startswith("0:")
    runs = [i.arguments for i in instructions if i.keyword == "RUN"]
    assert any("useradd" in run and run.rstrip().endswith(user) for run in runs), "the USER is never created"
    # Installing needs root; running must not: USER comes after every RUN and before CMD.
    user_at = _index(instructions, "USER")
    assert all(n < user_at for n, i in enumerate(instructions) if i.keyword == "RUN")
    assert user_at < _index(instructions, "CMD")


def test_container_environment_matches_the_container_answer(instructions):
    env = env_values(instructions)
    assert env["HEALTH_HOST"] == "0.0.0.0"
    assert env["EC_DISABLE_TRAY"] == "1" and env["EC_DISABLE_AUTOSTART"] == "1"
    assert _only(instructions, "EXPOSE").arguments == env["HEALTH_PORT"]
    # Never bake a credential into an image layer.
    assert not {"DEPLOYMENT_SECRET", "DEPLOYMENT_ID", "EDGE_CONNECTOR_TOKEN"} & set(env)


def test_install_dir_is_the_volume_the_command_runs_in(instructions):
    volume = _only(instructions, "VOLUME").exec_form()
    command = _only(instructions, "CMD").exec_form()
    assert command == ["edge-connector", "start", "--dir", "/data"]
    assert volume == ["/data"]
    # The volume is created (and owned by the user) before VOLUME, else it would belong to root.
    runs_before_volume = [i.arguments for i in instructions[: _index(instructions, "VOLUME")] if i.keyword == "RUN"]
    user = _only(instructions, "USER").arguments
    assert any("mkdir -p /data" in run and f"chown {user}:{user} /data" in run for run in runs_before_volume)
    assert _only(instructions, "STOPSIGNAL").arguments == "SIGTERM"


class _HealthServer(http.server.ThreadingHTTPServer):
    livez_status = 200


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        status = self.server.livez_status if self.path == "/livez" else 404  # type: ignore[attr-defined]
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def health_server():
    server = _HealthServer(("127.0.0.1", 0), _HealthHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_healthcheck(command: str, port: int) -> int:
    # As docker does for a shell-form CMD: /bin/sh -c with the image environment; `python` is ours.
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin", "HEALTH_PORT": str(port)}
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, timeout=30).returncode


def test_healthcheck_probes_livez_with_python_and_fails_when_unhealthy(instructions, health_server):
    options, command = healthcheck_command(_only(instructions, "HEALTHCHECK"))
    assert "/livez" in command and "curl" not in command and "wget" not in command  # slim has neither
    assert set(options) >= {"interval", "timeout", "start-period", "retries"}
    port = health_server.server_address[1]
    assert _run_healthcheck(command, port) == 0
    health_server.livez_status = 503
    assert _run_healthcheck(command, port) != 0
    closed = health_server.server_address[1]
    health_server.shutdown()
    health_server.server_close()
    assert _run_healthcheck(command, closed) != 0


def _copy_instruction(instructions: list[Instruction]) -> tuple[str, str]:
    source, destination = _only(instructions, "COPY").arguments.split()
    return source, destination


def test_build_context_excludes_local_state(tmp_path, instructions):
    source, _ = _copy_instruction(instructions)
    assert source == "."
    copied = copy_build_context(REPO, tmp_path / "ctx", REPO / ".dockerignore")
    assert "pyproject.toml" in copied and "edge_runtime/logs.py" in copied and "README.md" in copied
    for path in copied:
        top = path.split("/")[0]
        assert top not in {".venv", ".git", ".ci", ".briefs", "tests", "node_modules", ".edge"}, path
        assert "__pycache__" not in path and "/node_modules/" not in path, path
