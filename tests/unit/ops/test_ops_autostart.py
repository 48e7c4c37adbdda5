"""OS autostart: the files each OS gets (by content, on any OS), the private env file, the refusal, the CLI."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from edge_runtime import autostart, envfile

SECRET = 'dsec-Sup3r$ecret"with`quotes\\and spaces'
PYTHON = "/opt/edge connector/venv/bin/python"


@pytest.fixture
def install_dir(tmp_path) -> Path:
    directory = tmp_path / "install dir"  # a space, as in real home folders
    directory.mkdir()
    return directory


def _environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "DEPLOYMENT_ID": "dep-123",
        "DEPLOYMENT_SECRET": SECRET,
        "TOOL_RPC_URL": "wss://platform.example.com/tool-rpc",
        "UNRELATED": "not captured",
        **extra,
    }


def _unit_lines(content: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in content.splitlines() if "=" in line and not line.startswith("#"))


def test_linux_unit_runs_the_runtime_from_the_env_file_and_drains_on_stop(tmp_path, install_dir):
    result = autostart.enable(
        install_dir,
        os_name="linux",
        python=PYTHON,
        home=tmp_path / "home",
        environ=_environ(tmp_path),
        run_commands=False,
    )
    assert result.entry.path == tmp_path / "xdg" / "systemd" / "user" / "edge-connector.service"
    content = result.entry.path.read_text()
    unit = _unit_lines(content)
    resolved = install_dir.resolve()
    assert unit["ExecStart"] == f'"{PYTHON}" -m edge_cli start --dir "{resolved}"'
    assert unit["EnvironmentFile"] == f"{resolved}/edge-connector.env"
    assert unit["WorkingDirectory"] == str(resolved)
    assert unit["Restart"] == "on-failure"
    assert unit["KillSignal"] == "SIGTERM"
    assert unit["KillMode"] == "mixed"  # only the runtime gets SIGTERM; it stops its node workers itself
    assert int(unit["TimeoutStopSec"]) > 10  # longer than the 10 s drain
    assert unit["WantedBy"] == "default.target"
    assert SECRET not in content and "dep-123" not in content
    assert result.to_run == ["systemctl --user daemon-reload", "systemctl --user enable --now edge-connector.service"]


def test_linux_unit_defaults_to_home_config_without_xdg(tmp_path, install_dir):
    environ = _environ(tmp_path)
    del environ["XDG_CONFIG_HOME"]
    result = autostart.enable(
        install_dir, os_name="linux", python=PYTHON, home=tmp_path / "home", environ=environ, run_commands=False
    )
    assert result.entry.path == tmp_path / "home" / ".config" / "systemd" / "user" / "edge-connector.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_linux_unit_passes_systemd_analyze_verify(tmp_path):
    odd_dir = tmp_path / "with space and 100%"
    odd_dir.mkdir()
    result = autostart.enable(
        odd_dir, os_name="linux", python=sys.executable, home=tmp_path, environ=_environ(tmp_path), run_commands=False
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(result.entry.path)], capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert "%%" in result.entry.content  # `%` is a specifier in unit files; it must be escaped


def test_env_file_is_private_holds_the_secrets_and_round_trips(tmp_path, install_dir):
    result = autostart.enable(
        install_dir, os_name="linux", python=PYTHON, home=tmp_path, environ=_environ(tmp_path), run_commands=False
    )
    assert result.env_file == install_dir.resolve() / "edge-connector.env"
    assert stat.S_IMODE(result.env_file.stat().st_mode) == 0o600
    values = envfile.read_env_file(result.env_file)
    assert values == {
        "DEPLOYMENT_ID": "dep-123",
        "DEPLOYMENT_SECRET": SECRET,
        "TOOL_RPC_URL": "wss://platform.example.com/tool-rpc",
    }


def test_enable_keeps_edited_values_and_repairs_a_loosened_mode(tmp_path, install_dir):
    env_file = install_dir / "edge-connector.env"
    env_file.write_text('EC_WORKERS="4"\nDEPLOYMENT_SECRET="old"\n')
    env_file.chmod(0o644)
    autostart.enable(
        install_dir, os_name="linux", python=PYTHON, home=tmp_path, environ=_environ(tmp_path), run_commands=False
    )
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = envfile.read_env_file(env_file)
    assert values["EC_WORKERS"] == "4" and values["DEPLOYMENT_SECRET"] == SECRET


def test_env_file_launcher_loads_the_file_then_runs_the_command(tmp_path):
    env_file = tmp_path / "edge-connector.env"
    envfile.write_env_file(env_file, {"DEPLOYMENT_SECRET": SECRET, "EC_WORKERS": "3"})
    probe = "import os, json; print(json.dumps([os.environ['DEPLOYMENT_SECRET'], os.environ['EC_WORKERS']]))"
    completed = subprocess.run(
        [sys.executable, "-m", "edge_runtime.envfile", str(env_file), "--", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "DEPLOYMENT_SECRET"},
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == [SECRET, "3"]


def test_env_file_errors_name_the_file_and_line(tmp_path):
    env_file = tmp_path / "bad.env"
    env_file.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(envfile.EnvFileError, match=r"bad\.env line 2"):
        envfile.read_env_file(env_file)


def test_macos_agent_loads_the_env_file_and_restarts_on_failure(tmp_path, install_dir):
    result = autostart.enable(
        install_dir,
        os_name="darwin",
        python=PYTHON,
        home=tmp_path / "home",
        environ=_environ(tmp_path),
        run_commands=False,
    )
    assert result.entry.path == tmp_path / "home" / "Library" / "LaunchAgents" / "com.edge-connector.runtime.plist"
    content = result.entry.path.read_text()
    plist = plistlib.loads(content.encode())
    resolved = str(install_dir.resolve())
    assert plist["Label"] == "com.edge-connector.runtime"
    assert plist["ProgramArguments"] == [
        PYTHON,
        "-m",
        "edge_runtime.envfile",
        f"{resolved}/edge-connector.env",
        "--",
        PYTHON,
        "-m",
        "edge_cli",
        "start",
        "--dir",
        resolved,
    ]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["WorkingDirectory"] == resolved
    assert plist["ExitTimeOut"] > 10
    assert "EnvironmentVariables" not in plist and SECRET not in content and "dep-123" not in content
    assert result.to_run == [f"launchctl load -w {result.entry.path}"]


def test_other_systems_are_refused_with_a_hint(monkeypatch):
    monkeypatch.setattr(autostart.sys, "platform", "win32")
    with pytest.raises(autostart.AutostartError, match=r"not supported on win32 \(Linux and macOS only\)") as caught:
        autostart.current_os()
    assert "your own service manager" in (caught.value.hint or "")


def test_refused_when_disabled_by_environment(tmp_path, install_dir):
    environ = _environ(tmp_path, EC_DISABLE_AUTOSTART="1")
    with pytest.raises(autostart.AutostartError, match=r"OS autostart is disabled \(EC_DISABLE_AUTOSTART=1\)"):
        autostart.enable(
            install_dir, os_name="linux", python=PYTHON, home=tmp_path, environ=environ, run_commands=False
        )
    assert not (tmp_path / "xdg").exists() and not (install_dir / "edge-connector.env").exists()
    with pytest.raises(autostart.AutostartError):
        autostart.disable(os_name="linux", home=tmp_path, environ=environ, run_commands=False)


# --- the CLI, as a user runs it (real process, this OS) ---------------------------------------


def _cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("EC_DISABLE_AUTOSTART", "DEPLOYMENT_SECRET")},
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "APPDATA": str(tmp_path / "AppData"),
        # No service manager on PATH: the CLI must print the commands instead of running them.
        "PATH": str(Path(sys.executable).parent),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "edge_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=tmp_path,
    )


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the CLI round trip runs on this OS's entry (Linux here)"
)
def test_cli_enable_status_disable_round_trip(tmp_path, install_dir):
    enabled = _cli(["autostart", "enable", "--dir", str(install_dir)], tmp_path, DEPLOYMENT_SECRET=SECRET)
    assert enabled.returncode == 0, enabled.stderr
    unit = tmp_path / "xdg" / "systemd" / "user" / "edge-connector.service"
    assert unit.exists() and str(unit) in enabled.stdout
    assert "systemctl --user daemon-reload" in enabled.stderr  # printed, since systemctl is not on PATH
    assert SECRET not in enabled.stdout + enabled.stderr + unit.read_text()

    shown = _cli(["autostart", "status", "--dir", str(install_dir), "--json"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert state["enabled"] is True and state["installDir"] == str(install_dir.resolve())
    assert state["envFilePrivate"] is True

    wrong = _cli(["autostart", "disable", "--dir", str(tmp_path)], tmp_path)
    assert wrong.returncode == 1 and "Autostart is enabled for" in wrong.stderr and unit.exists()

    removed = _cli(["autostart", "disable"], tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists()
    assert json.loads(_cli(["autostart", "status", "--json"], tmp_path).stdout)["enabled"] is False


def test_cli_refuses_in_one_line_when_disabled(tmp_path, install_dir):
    refused = _cli(["autostart", "enable", "--dir", str(install_dir)], tmp_path, EC_DISABLE_AUTOSTART="1")
    assert refused.returncode == 1
    assert "OS autostart is disabled (EC_DISABLE_AUTOSTART=1)" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) <= 2
