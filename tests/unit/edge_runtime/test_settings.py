"""Settings precedence (flag > env > config.json > default) and one-line refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from edge_runtime.settings import SETTINGS, Settings, SettingsError, describe, load_settings, platform_http_url


def write_config(directory: Path, **values) -> None:
    (directory / "config.json").write_text(json.dumps(values))


def test_defaults_follow_the_spec(tmp_path):
    settings = load_settings(tmp_path, env={})
    assert settings.install_dir == tmp_path.resolve()
    assert settings.tool_rpc_url == "ws://127.0.0.1:8000/tool-rpc"
    assert settings.token_path == tmp_path.resolve() / "auth-token.json"
    assert (settings.health_host, settings.health_port) == ("127.0.0.1", 8080)
    assert settings.sync_interval_seconds == 600
    assert (settings.backoff_initial_seconds, settings.backoff_max_seconds) == (5, 60)
    assert settings.heartbeat_seconds == 30
    assert settings.tool_timeout_seconds == 30
    assert (settings.workers, settings.max_concurrency) == (2, 64)
    assert settings.log_format == "text"
    assert settings.deployment_id is None and settings.deployment_secret is None
    assert not settings.uses_client_credentials


def test_install_dir_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, env={}).install_dir == tmp_path.resolve()


def test_flag_beats_env_beats_config_beats_default(tmp_path):
    write_config(tmp_path, healthPort=9001, heartbeatSeconds=11, workers=3)
    env = {"HEALTH_PORT": "9002", "EC_HEARTBEAT": "12"}
    settings = load_settings(tmp_path, flags={"health_port": 9003, "workers": None}, env=env)
    assert settings.health_port == 9003  # flag
    assert settings.heartbeat_seconds == 12  # env over config
    assert settings.workers == 3  # config over default (a None flag is "not given")
    assert settings.max_concurrency == 64  # default


def test_every_setting_has_an_environment_variable_and_config_keys_are_camel_case():
    for spec in SETTINGS:
        assert spec.env, spec.attr
        if spec.config_key:
            assert "_" not in spec.config_key and spec.config_key[0].islower()


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HEALTH_PORT": "abc"}, "Invalid setting HEALTH_PORT: 'abc'; allowed: a port number from 0 to 65535"),
        ({"HEALTH_PORT": "70000"}, "Invalid setting HEALTH_PORT: '70000'"),
        ({"EC_WORKERS": "0"}, "Invalid setting EC_WORKERS: '0'; allowed: a whole number of at least 1"),
        ({"EC_HEARTBEAT": "-1"}, "Invalid setting EC_HEARTBEAT: '-1'; allowed: a number of seconds greater than 0"),
        ({"EC_LOG_FORMAT": "xml"}, "Invalid setting EC_LOG_FORMAT: 'xml'; allowed: one of text, json"),
        (
            {"TOOL_RPC_URL": "http://x/tool-rpc"},
            "Invalid setting TOOL_RPC_URL: 'http://x/tool-rpc'; allowed: a ws:// or wss:// URL",
        ),
        ({"EC_MAX_CONCURRENCY": "2.5"}, "Invalid setting EC_MAX_CONCURRENCY: '2.5'"),
    ],
)
def test_bad_environment_values_are_refused_with_key_value_and_allowed(tmp_path, env, fragment):
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, env=env)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bad_config_value_names_the_file_key(tmp_path):
    write_config(tmp_path, healthPort="eighty")
    with pytest.raises(SettingsError, match=r"Invalid setting config.json healthPort: 'eighty'; allowed: a port"):
        load_settings(tmp_path, env={})


def test_bad_flag_names_the_flag(tmp_path):
    with pytest.raises(SettingsError, match=r"Invalid setting --workers: -2"):
        load_settings(tmp_path, flags={"workers": -2}, env={})


def test_unknown_config_key_and_broken_json_are_refused(tmp_path):
    write_config(tmp_path, helthPort=1)
    with pytest.raises(SettingsError, match="unknown setting 'helthPort'; allowed keys: .*healthPort"):
        load_settings(tmp_path, env={})
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(SettingsError, match=r"config.json is not valid JSON \(line 1"):
        load_settings(tmp_path, env={})
    (tmp_path / "config.json").write_text("[1]")
    with pytest.raises(SettingsError, match="must hold a JSON object"):
        load_settings(tmp_path, env={})


def test_secret_is_env_only_never_echoed_and_needs_the_id(tmp_path):
    write_config(tmp_path, deploymentId="dep-1")
    settings = load_settings(tmp_path, env={"DEPLOYMENT_SECRET": "s3cret-value-123"})
    assert settings.uses_client_credentials
    assert "s3cret-value-123" not in repr(settings)
    assert describe(settings)["deploymentSecretSet"] is True
    assert "s3cret-value-123" not in json.dumps(describe(settings))
    with pytest.raises(SettingsError, match="DEPLOYMENT_SECRET is set without DEPLOYMENT_ID"):
        load_settings(tmp_path / "other", env={"DEPLOYMENT_SECRET": "s3cret-value-123"})
    write_config(tmp_path, deploymentSecret="x")
    with pytest.raises(SettingsError, match="unknown setting 'deploymentSecret'"):
        load_settings(tmp_path, env={})


def test_relative_token_path_is_relative_to_the_install_dir(tmp_path):
    settings = load_settings(tmp_path, env={"AUTH_TOKEN_PATH": "secrets/token.json"})
    assert settings.token_path == tmp_path.resolve() / "secrets" / "token.json"


def test_backoff_max_below_initial_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="backoffMaxSeconds"):
        load_settings(tmp_path, env={"EC_BACKOFF_INITIAL": "10", "EC_BACKOFF_MAX": "5"})


def test_health_port_zero_is_allowed(tmp_path):
    assert load_settings(tmp_path, env={"HEALTH_PORT": "0"}).health_port == 0


@pytest.mark.parametrize(
    ("ws", "http"),
    [
        ("ws://127.0.0.1:8000/tool-rpc", "http://127.0.0.1:8000"),
        ("wss://edge.example.com/tool-rpc", "https://edge.example.com"),
        ("wss://edge.example.com/platform/tool-rpc", "https://edge.example.com/platform"),
    ],
)
def test_platform_http_url_is_derived_from_the_websocket_url(ws, http):
    assert platform_http_url(ws) == http


def test_settings_is_frozen(tmp_path):
    settings: Settings = load_settings(tmp_path, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.health_port = 1
