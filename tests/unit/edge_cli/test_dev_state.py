"""How a second terminal finds the running `dev` session: `.edge/dev.json`, stale pids, the client it gives."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge_cli import dev_state
from edge_cli.client import connect
from edge_cli.dev_children import first_free_port
from edge_cli.dev_state import DevState
from edge_cli.errors import CliError
from edge_runtime.private_files import write_private_json


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("EDGE_PLATFORM_URL", "EDGE_CONNECTOR_TOKEN", "AUTH_TOKEN_PATH", "HEALTH_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no saved user token


def _session(project: Path, pid: int, url: str = "http://127.0.0.1:8787") -> DevState:
    token_path = write_private_json(project / ".edge" / "dev-token.json", {"token": "tok-dev", "platformUrl": url})
    state = DevState(
        platform_url=url, health_url="http://127.0.0.1:8788", token_path=str(token_path), deployment_id="dep_1", pid=pid
    )
    dev_state.write(project, state)
    (project / ".edge" / "dev").mkdir(exist_ok=True)
    return state


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_written_private_and_read_back(tmp_path: Path) -> None:
    state = _session(tmp_path, os.getpid())
    path = tmp_path / ".edge" / "dev.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(state.token_path).stat().st_mode) == 0o600
    assert dev_state.read(tmp_path) == state
    assert "tok-dev" not in path.read_text()  # the session file names the token file, never the token


def test_a_dead_pid_is_stale_and_ignored(tmp_path: Path) -> None:
    _session(tmp_path, _dead_pid())
    assert dev_state.read(tmp_path) is None
    assert dev_state.read(tmp_path, check_alive=False) is not None


def test_remove_only_removes_our_own_file(tmp_path: Path) -> None:
    _session(tmp_path, os.getpid())
    dev_state.remove(tmp_path, os.getpid() + 1)  # a newer session's file stays
    assert (tmp_path / ".edge" / "dev.json").exists()
    dev_state.remove(tmp_path, os.getpid())
    assert not (tmp_path / ".edge" / "dev.json").exists()


def test_project_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "edge.json").write_text("{}")
    inner = tmp_path / "src" / "tools"
    inner.mkdir(parents=True)
    assert dev_state.find_project(inner) == tmp_path.resolve()


def test_connect_uses_the_running_session(tmp_path: Path) -> None:
    _session(tmp_path, os.getpid(), "http://127.0.0.1:9123")
    with connect(None, tmp_path / "src", dev=True) as client:
        assert client.url == "http://127.0.0.1:9123"
        assert client.token == "tok-dev"


def test_an_explicit_platform_or_token_wins_over_the_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _session(tmp_path, os.getpid(), "http://127.0.0.1:9123")
    monkeypatch.setenv("EDGE_CONNECTOR_TOKEN", "tok-ci")
    with connect("http://127.0.0.1:9999", tmp_path, dev=True) as client:
        assert (client.url, client.token) == ("http://127.0.0.1:9999", "tok-ci")
    with connect(None, tmp_path, dev=True) as client:  # a token in the environment: the normal rules
        assert client.token == "tok-ci"
    monkeypatch.delenv("EDGE_CONNECTOR_TOKEN")
    with connect(None, tmp_path, need_token=False, dev=False) as client:  # commands that are not dev-aware never use it
        assert client.url != "http://127.0.0.1:9123"


def test_a_stopped_session_says_how_to_start_one(tmp_path: Path) -> None:
    _session(tmp_path, _dead_pid())
    with pytest.raises(CliError) as failure:
        connect(None, tmp_path, dev=True)
    assert "No edge-connector dev session is running in" in str(failure.value)
    assert " dev " in (failure.value.hint or "")


def test_first_free_port_skips_taken_ones() -> None:
    busy = {8787, 8788}
    assert first_free_port(8787, is_free=lambda port, host: port not in busy) == 8789
    assert first_free_port(8787, taken=(8789,), is_free=lambda port, host: port not in busy) == 8790
    assert first_free_port(8000, is_free=lambda port, host: True) == 8000
    with pytest.raises(CliError):
        first_free_port(8000, is_free=lambda port, host: False)


def test_command_hint_is_a_command_that_runs() -> None:
    hint = dev_state.command_hint()
    done = subprocess.run([*hint.split(), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
