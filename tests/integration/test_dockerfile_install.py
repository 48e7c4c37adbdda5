"""The Dockerfile's install step run for real: `pip install` of the build context into a fresh virtualenv.

Integration, not unit: it installs the package and its dependencies (from pip's cache or the network)
and takes tens of seconds. The Dockerfile's static checks stay in tests/unit/ops/test_ops_dockerfile.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.support.dockerfile import Instruction, copy_build_context, parse_dockerfile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse_dockerfile((REPO / "Dockerfile").read_text())


def _copy_destination(instructions: list[Instruction]) -> str:
    copies = [i for i in instructions if i.keyword == "COPY"]
    assert len(copies) == 1, f"expected one COPY, found {len(copies)}"
    return copies[0].arguments.split()[1]


@pytest.mark.slow  # ~15 s on an idle 2-core machine (pip install from the local cache); `-m "not slow"` skips it
def test_install_steps_work_in_a_fresh_virtualenv(tmp_path, instructions):
    """Run the image's install RUN step for real: `pip install` of the build context into a new venv,
    then its own checks (`edge-connector --help`, the bundled node binary runs)."""
    destination = _copy_destination(instructions)
    install_steps = [i.arguments for i in instructions if i.keyword == "RUN" and destination in i.arguments]
    assert len(install_steps) == 1 and "pip install" in install_steps[0]
    step = install_steps[0]

    # The container path of the copied context becomes a temporary folder; the venv plays the image's Python.
    context = tmp_path / "context"
    copy_build_context(REPO, context, REPO / ".dockerignore")
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    bin_dir = environment / "bin"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "EC_NODE")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    # Run from an unrelated folder so `import bundler` cannot find the repository checkout.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    completed = subprocess.run(
        ["/bin/sh", "-c", step.replace(destination, str(context))],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert not context.exists(), "the install step should remove the copied sources"
    # The printed node version proves node ran; it must be the one inside the venv, not a system node.
    assert completed.stdout.strip().splitlines()[-1].startswith("v")
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "from bundler.node import node_binary; print(node_binary())"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(environment)
    assert shutil.which("edge-connector", path=str(bin_dir))
