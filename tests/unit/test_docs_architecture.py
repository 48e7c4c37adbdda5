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
    module.write_text("import os\nfrom mock_platform.hub import Hub\nfrom .sibling import x\nimport edge_protocol.limits\n"
                      "from bundler.node import node_binary\n")
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
