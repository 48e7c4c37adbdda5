"""The example project builds with the real bundler and its own tests pass with the bundled Node.js."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from bundler.build import build_project
from bundler.node import node_env, npm_command
from edge_connector.testing import ToolCallError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "weather-tools"
EXPECTED_TOOLS = {"get_forecast", "sun_times", "feels_like", "get_alerts"}


@pytest.fixture(scope="module")
def example_copy(tmp_path_factory) -> Path:
    """A copy of the example with its locked dependencies installed (`npm ci`), outside the source tree."""
    project = tmp_path_factory.mktemp("example") / "weather-tools"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("node_modules", ".edge"))
    result = subprocess.run(
        [*npm_command(), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=project,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return project


def test_example_builds_and_the_manifest_lists_its_four_tools(example_copy: Path, tmp_path: Path) -> None:
    result = build_project(example_copy, tmp_path / "build")

    tools = {tool.name: tool for tool in result.manifest.tools}
    assert set(tools) == EXPECTED_TOOLS
    assert result.manifest.bundle == "weather-tools"
    assert tools["get_forecast"].timeoutMs == 10_000
    # Declared with zod, written as JSON Schema 2020-12 by the build.
    assert tools["feels_like"].inputSchema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert tools["feels_like"].inputSchema["properties"]["unit"] == {
        "type": "string",
        "enum": ["C", "F"],
        "description": "Unit of temperature, dewPoint and the answer",
    }
    assert tools["feels_like"].inputSchema["required"] == ["temperature", "unit"]
    assert tools["feels_like"].inputSchema["additionalProperties"] is False
    # The npm dependency is inlined: a runtime has no node_modules to require it from.
    sun_times = (result.out_dir / tools["sun_times"].entry).read_text()
    assert "getTimes" in sun_times
    assert 'require("suncalc")' not in sun_times
    # The four tools share one copy of zod (~110 KB of the gzip'd archive, unminified) in a chunk.
    zod_files = [path.name for path in (result.out_dir / "dist").iterdir() if "node_modules/zod/" in path.read_text()]
    assert len(zod_files) == 1 and zod_files[0].startswith("chunk-"), zod_files
    assert result.archive_path.is_file() and result.archive_size < 200_000
    # The host variables get_forecast and get_alerts read pass the sandbox on purpose (edge.json "env").
    assert result.manifest.sandbox.env == ("WEATHER_API_URL", "WEATHER_API_TIMEOUT_MS", "WEATHER_ALERTS_URL")


def test_example_tests_pass_with_npm_test(example_copy: Path) -> None:
    result = subprocess.run(
        [*npm_command(), "test"],
        cwd=example_copy,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "# fail 0" in output or "ℹ fail 0" in output
    for suite in EXPECTED_TOOLS:
        assert suite in output


# ---- end to end: the built example served by a real runtime, called through a real platform ----------


class FakeOpenMeteo:
    """A loopback stand-in for api.open-meteo.com that answers as the test says.

    The stdlib server is enough for a test double that serves one request at a time.
    """

    FORECAST = {
        "current": {
            "time": "2026-11-28T10:00",
            "temperature_2m": 7.5,
            "relative_humidity_2m": 81,
            "wind_speed_10m": 14.2,
        },
        "daily": {
            "time": ["2026-11-28"],
            "temperature_2m_min": [3.1],
            "temperature_2m_max": [9.0],
            "precipitation_sum": [1.2],
        },
    }

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        fake = self
        self.mode = "ok"
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                fake.paths.append(self.path)
                if fake.mode == "slow":
                    fake.release.wait(10)  # longer than the tool's upstream timeout
                    return
                status, body = (200, json.dumps(fake.FORECAST)) if fake.mode == "ok" else (503, "maintenance")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def weather_stack(edge_stack, example_copy: Path):
    """The example served end to end by the testing plugin's stack, its weather API a loopback fake."""
    fake = FakeOpenMeteo()
    try:
        # 3 s: room for a busy shared machine to answer the "ok" case; the "slow" case still outlasts it.
        stack = edge_stack(example_copy, env={"WEATHER_API_URL": fake.url, "WEATHER_API_TIMEOUT_MS": "3000"})
        yield stack, fake
    finally:
        fake.close()


def test_example_tools_answer_through_platform_and_runtime(weather_stack) -> None:
    stack, fake = weather_stack

    forecast = stack.call("get_forecast", {"latitude": 52.52, "longitude": 13.41, "days": 1})
    assert forecast["current"]["temperatureC"] == 7.5
    assert fake.paths[-1].startswith("/v1/forecast?latitude=52.52&longitude=13.41")
    stack.wait_for_log("forecast for 52.52,13.41")  # the tool's ctx.log line

    # Upstream failures become ToolErrors with their own codes.
    fake.mode = "down"
    with pytest.raises(ToolCallError) as down:
        stack.call("get_forecast", {"latitude": 0, "longitude": 0})
    assert (down.value.status, down.value.kind, down.value.code) == (502, "tool_error", "upstream_error")
    assert down.value.details["status"] == 503
    fake.mode = "slow"
    with pytest.raises(ToolCallError) as slow:
        stack.call("get_forecast", {"latitude": 0, "longitude": 0})
    assert (slow.value.status, slow.value.code) == (502, "upstream_timeout")

    # The npm dependency works inside the bundle.
    sun = stack.call("sun_times", {"latitude": 52.52, "longitude": 13.405, "date": "2026-06-21"})
    assert sun["sunrise"].startswith("2026-06-21T02:4")

    # Validation: the schema is enforced before the tool runs; the semantic check is the tool's own.
    with pytest.raises(ToolCallError) as both:
        stack.call("feels_like", {"temperature": 20, "unit": "C", "relativeHumidity": 50, "dewPoint": 10})
    assert (both.value.status, both.value.kind) == (422, "invalid_arguments")
    # A zod .refine() rule: checked in Node.js, reported at the field its path names.
    assert both.value.details == [{"path": "/dewPoint", "message": "give relativeHumidity or dewPoint, not both"}]
    with pytest.raises(ToolCallError) as bad_unit:
        stack.call("feels_like", {"temperature": 20, "unit": "K"})
    assert bad_unit.value.kind == "invalid_arguments" and [d["path"] for d in bad_unit.value.details] == ["/unit"]
    with pytest.raises(ToolCallError) as dew:
        stack.call("feels_like", {"temperature": 20, "unit": "C", "dewPoint": 25})
    assert (dew.value.status, dew.value.code) == (502, "dew_point_above_temperature")
    chill = stack.call("feels_like", {"temperature": -10, "unit": "C", "windSpeedKmh": 30})
    assert chill == {"feelsLike": -19.5, "unit": "C", "method": "wind_chill"}

    # The tool that needs an API key says how to set it, and calls nothing without it.
    calls_before = len(fake.paths)
    with pytest.raises(ToolCallError) as alerts:
        stack.call("get_alerts", {"latitude": 52.52, "longitude": 13.41})
    assert (alerts.value.status, alerts.value.kind, alerts.value.code) == (502, "tool_error", "missing_secret")
    assert "edge-connector secret put WEATHER_API_KEY" in alerts.value.message
    assert len(fake.paths) == calls_before
