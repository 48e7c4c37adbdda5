"""`edge_connector.testing`, the pytest plugin, as a user meets it (SPEC.md §15).

A fresh `edge-connector init` project (real npm install) and `pytest` run in it as a subprocess with
this environment's Python, where edge-connector is installed and registers the plugin: the scaffolded
tests pass, serially and with `-n 2`, and no process of any stack outlives the run, even when a test
fails half-way. The stack API itself (call, ToolCallError, upload, disconnect, logs) is exercised here
in-process through the same fixtures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from edge_connector.testing import ToolCallError
from tests.fixtures.projects.support import installed_npm_deps, make_project

CLI = str(Path(sys.executable).with_name("edge-connector"))

FAILING_TESTS = """
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_fails_after_the_stack_is_up(edge_stack):
    stack = edge_stack(PROJECT)
    assert stack.call("make_slug", {"text": "a b"}) == {"slug": "a-b"}
    assert False, "this test fails on purpose"


def test_a_project_that_does_not_build_fails_cleanly(edge_stack, tmp_path):
    (tmp_path / "package.json").write_text('{"name": "broken"}')
    (tmp_path / "src/tools").mkdir(parents=True)
    (tmp_path / "src/tools/t.ts").write_text("export default {")
    edge_stack(tmp_path)
"""


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> Path:
    """What a user has after `edge-connector init` (ts template, npm install from the registry)."""
    root = tmp_path_factory.mktemp("user")
    done = subprocess.run(
        [CLI, "init", "slugs", "--template", "ts"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "slugs"


def run_pytest(project: Path, basetemp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


def processes_under(folder: Path) -> list[str]:
    """Live processes whose command line or working directory lies in `folder` (platform, runtime, node)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        where = " ".join(info["cmdline"] or []) + " " + (info["cwd"] or "")
        if str(folder) in where:
            found.append(f"{info['pid']}: {' '.join(info['cmdline'] or [])}")
    return found


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_scaffolded_tests_pass_in_a_fresh_project_and_leave_no_process(user_project, tmp_path, workers):
    basetemp = tmp_path / "run"
    result = run_pytest(user_project, basetemp, *workers)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "2 passed" in output
    if workers:  # each xdist worker has its own temp root: both ran a stack
        assert sorted(p.name for p in basetemp.iterdir() if p.name.startswith("popen-gw")) == ["popen-gw0", "popen-gw1"]
    assert processes_under(basetemp) == []


def test_stacks_are_torn_down_when_a_test_fails(user_project, tmp_path):
    tests_file = user_project / "tests" / "test_failing_on_purpose.py"
    tests_file.write_text(FAILING_TESTS)
    basetemp = tmp_path / "run"
    try:
        result = run_pytest(user_project, basetemp, str(tests_file))
    finally:
        tests_file.unlink()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "2 failed" in output
    assert "this test fails on purpose" in output
    assert "src/tools/t.ts" in output  # the build error names the file
    assert processes_under(basetemp) == []


def test_the_complete_file_of_docs_testing_md_passes(user_project, tmp_path):
    page = (Path(__file__).resolve().parents[2] / "docs/testing.md").read_text()
    example = re.search(r"## A complete test file.*?```python\n(.*?)```", page, re.S)
    assert example, "docs/testing.md lost its complete test file"
    tests_file = user_project / "tests" / "test_from_the_docs.py"
    tests_file.write_text(example.group(1))
    try:
        result = run_pytest(user_project, tmp_path / "run", str(tests_file))
    finally:
        tests_file.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout
    assert processes_under(tmp_path / "run") == []


# ---- the stack API in-process, on a zod tool with a console line and a ToolError ----------------------

GREET = """import {{ z }} from "zod";

export default {{
  name: "greet",
  description: "Greets someone",
  inputSchema: z.object({{ who: z.object({{ name: z.string().min(1) }}) }}),
  async run(input: {{ who: {{ name: string }} }}) {{
    console.log("greeting", input.who.name);
    if (input.who.name === "nobody") {{
      const error = new Error("nobody to greet");
      Object.assign(error, {{ name: "ToolError", code: "no_one" }});
      throw error;
    }}
    return {{ text: "{greeting}, " + input.who.name }};
  }},
}};
"""


@pytest.fixture
def greet_project(tmp_path) -> Path:
    return make_project(
        tmp_path / "greet",
        node_modules=installed_npm_deps(),
        name="greet-tools",
        files={"src/tools/greet.ts": GREET.format(greeting="Hello")},
    )


def test_call_errors_hot_update_disconnect_and_logs(edge_stack, greet_project):
    stack = edge_stack(greet_project)
    assert stack.call("greet", {"who": {"name": "Ada"}}) == {"text": "Hello, Ada"}
    assert "greeting Ada" in stack.wait_for_log("greeting Ada")

    with pytest.raises(ToolCallError) as failed:
        stack.call("greet", {"who": {"name": "nobody"}})
    assert (failed.value.kind, failed.value.code, failed.value.message) == ("tool_error", "no_one", "nobody to greet")
    with pytest.raises(ToolCallError) as invalid:
        stack.call("greet", {"who": {"name": 7}})
    assert invalid.value.kind == invalid.value.code == "invalid_arguments"
    assert [d["path"] for d in invalid.value.details] == ["/who/name"]
    with pytest.raises(ToolCallError) as missing:
        stack.call("nope", {})
    assert missing.value.kind == "tool_not_found"

    first = stack.version
    (greet_project / "src/tools/greet.ts").write_text(GREET.format(greeting="Hi"))
    assert stack.upload() == first + 1
    assert stack.call("greet", {"who": {"name": "Ada"}}) == {"text": "Hi, Ada"}

    stack.disconnect()
    stack.wait_ready()
    assert stack.call("greet", {"who": {"name": "Bo"}}) == {"text": "Hi, Bo"}
    stack.wait_for_log("Disconnected from platform server")


def test_two_stacks_in_one_test_are_isolated(edge_stack, greet_project, tmp_path):
    other = make_project(
        tmp_path / "other",
        node_modules=installed_npm_deps(),
        name="greet-tools",
        files={"src/tools/greet.ts": GREET.format(greeting="Hej")},
    )
    first, second = edge_stack(greet_project), edge_stack(other)
    assert first.call("greet", {"who": {"name": "A"}}) == {"text": "Hello, A"}
    assert second.call("greet", {"who": {"name": "A"}}) == {"text": "Hej, A"}
    assert first.deployment_id != second.deployment_id and first.runtime.health_url != second.runtime.health_url
    # Each stack's processes live in its own temp dir (what the leftover check above looks for).
    assert any("edge_cli start" in line for line in processes_under(first.work_dir))
    assert any("host.mjs" in line for line in processes_under(second.work_dir))


SECRET_TOOL = """export default {
  name: "secret_length",
  description: "How long the API_KEY secret is",
  inputSchema: { type: "object" },
  async run(input: unknown, ctx: { secrets?: Record<string, string> }) {
    return { length: ctx.secrets?.API_KEY?.length ?? null };
  },
};
"""


def test_secrets_reach_the_tools_or_name_the_missing_capability(edge_platform, edge_stack, tmp_path):
    project = make_project(
        tmp_path / "secret",
        node_modules=installed_npm_deps(),
        name="secret-tools",
        files={"src/tools/secret_length.ts": SECRET_TOOL},
    )
    # Without a token, an existing route refuses 401; a platform without the secrets API answers 404.
    has_secrets_api = (
        httpx.put(f"{edge_platform.url}/api/secrets/PROBE", json={"value": "x"}, timeout=10).status_code != 404
    )
    if has_secrets_api:  # SPEC §11 has landed: the value is the deployment's, read by the tool as ctx.secrets
        stack = edge_stack(project, secrets={"API_KEY": "s3cr3t-value"})
        assert stack.call("secret_length") == {"length": len("s3cr3t-value")}
        assert "s3cr3t-value" not in stack.logs()
    else:
        with pytest.raises(NotImplementedError, match=r"needs the platform's secrets API \(PUT /api/secrets/\{name\}"):
            edge_stack(project, secrets={"API_KEY": "s3cr3t-value"})
