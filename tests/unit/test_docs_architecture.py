"""docs/architecture.md stays true: the dependency arrows between packages point the way it says.

edge_cli → {bundler, edge_runtime, mock_platform} → edge_protocol, and edge_runtime and mock_platform
never import each other (they meet only in edge_protocol and on the wire). edge_connector (the pytest
plugin for users' tests) sits beside edge_cli: it may use the packages below, and nothing imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("edge_protocol", "bundler", "edge_runtime", "mock_platform", "edge_cli", "edge_connector")

ALLOWED = {
    "edge_protocol": set(),
    "bundler": {"edge_protocol"},
    "edge_runtime": {"edge_protocol"},
    "mock_platform": {"edge_protocol"},
    "edge_cli": {"edge_protocol", "bundler", "edge_runtime", "mock_platform"},
    "edge_connector": {"edge_protocol", "bundler", "edge_runtime", "mock_platform"},
}
# The one documented side door: finding Node.js is done in one place, `bundler/node.py`, which the
# runtime borrows to start its workers (bundler imports nothing of the runtime, so there is no cycle).
ALLOWED_MODULES = {"edge_runtime": {"bundler.node"}}


def imported_packages(path: Path, package: str) -> set[str]:
    """The project packages a module imports (absolute imports; relative ones stay inside `package`),
    leaving out the modules `ALLOWED_MODULES` lets this package use."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        allowed = ALLOWED_MODULES.get(package, set())
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES and name not in allowed}
    return found - {package}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_documented_arrows(package: str) -> None:
    wrong = []
    for path in sorted((REPO / package).rglob("*.py")):
        for target in imported_packages(path, package) - ALLOWED[package]:
            wrong.append(f"{path.relative_to(REPO)} imports {target}")
    assert not wrong, "imports against the arrows of docs/architecture.md:\n" + "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom mock_platform.hub import Hub\nfrom .sibling import x\nimport edge_protocol.limits\n"
        "from bundler.node import node_binary\n"
    )
    assert imported_packages(module, "edge_runtime") == {"mock_platform", "edge_protocol"}
    module.write_text("from bundler.build import build_project\n")
    assert imported_packages(module, "edge_runtime") == {"bundler"}


def test_the_architecture_page_states_these_arrows() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "`edge_runtime` and `mock_platform` **never import each other.**" in page
    assert "`bundler/node.py`" in page  # the side door ALLOWED_MODULES permits is documented
    assert "`edge_connector` sits beside `edge_cli`" in page
    for package in PACKAGES:
        assert f"`{package}/`" in page


# ------------------------------------------------------------------------------------ wire messages
# The wire is one contract (`edge_protocol.messages`, `edge_protocol.link`): the runtime and the platform
# never make a JSON-RPC frame themselves. REST bodies (`/statusz`, `/api/...`) use camelCase keys too and
# are not frames, so the check looks at what makes frames, not at every camelCase key.
FRAME_BUILDERS = {"request", "notification", "result", "error", "encode", "Request", "Notification", "Response"}
#: Keys that exist only in protocol messages; the link shells must not spell them out.
WIRE_ONLY_KEYS = {
    "callId",
    "timeoutMs",
    "archiveUrl",
    "connectorVersion",
    "heartbeatSeconds",
    "assignedBundle",
    "connectorId",
    "durationMs",
    "expiresAt",
    "jsonrpc",
}
LINK_SHELLS = ("edge_runtime/session.py", "mock_platform/hub.py")


def hand_built_frames(path: Path, shell: bool) -> list[str]:
    """Where a module builds a wire frame by hand: a call of `jsonrpc.request(...)` & co., a dict with a
    `"jsonrpc"` key, or (in a link shell) any wire-only key written out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    from_jsonrpc = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("jsonrpc")
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "jsonrpc"
                and func.attr in FRAME_BUILDERS
            ):
                found.append(f"line {node.lineno}: jsonrpc.{func.attr}(...)")
            elif isinstance(func, ast.Name) and func.id in from_jsonrpc and func.id in FRAME_BUILDERS:
                found.append(f"line {node.lineno}: {func.id}(...) from jsonrpc")
        elif isinstance(node, ast.Dict):
            keys = {key.value for key in node.keys if isinstance(key, ast.Constant) and isinstance(key.value, str)}
            if "jsonrpc" in keys:
                found.append(f"line {node.lineno}: a dict with a 'jsonrpc' key")
        if shell and isinstance(node, ast.Constant) and node.value in WIRE_ONLY_KEYS:
            found.append(f"line {node.lineno}: the wire key {node.value!r}")
    return found


@pytest.mark.parametrize("package", ["edge_runtime", "mock_platform"])
def test_runtime_and_platform_never_build_wire_frames_by_hand(package: str) -> None:
    wrong = []
    for path in sorted((REPO / package).rglob("*.py")):
        relative = str(path.relative_to(REPO))
        wrong += [f"{relative} {where}" for where in hand_built_frames(path, relative in LINK_SHELLS)]
    assert not wrong, (
        "wire frames built by hand (use the models of edge_protocol.messages and the machines of "
        "edge_protocol.link):\n" + "\n".join(wrong)
    )


def test_the_frame_checker_sees_hand_built_frames(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from edge_protocol import jsonrpc\nws.send(jsonrpc.request(1, 'tools/call', {}))\n")
    assert hand_built_frames(module, shell=False) == ["line 2: jsonrpc.request(...)"]
    module.write_text("from edge_protocol.jsonrpc import notification as n, notification\nnotification('x', {})\n")
    assert hand_built_frames(module, shell=False) == ["line 2: notification(...) from jsonrpc"]
    module.write_text("frame = orjson.dumps({'jsonrpc': '2.0', 'id': 1, 'result': {}})\n")
    assert hand_built_frames(module, shell=False) == ["line 1: a dict with a 'jsonrpc' key"]
    module.write_text("params = {'callId': call_id, 'name': tool}\n")
    assert hand_built_frames(module, shell=True) == ["line 1: the wire key 'callId'"]
    assert hand_built_frames(module, shell=False) == []  # a REST body elsewhere may say callId


def test_every_link_shell_exists() -> None:
    assert all((REPO / shell).is_file() for shell in LINK_SHELLS)
