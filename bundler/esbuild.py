"""Find the esbuild binary, or install the pinned one into the user cache on first use.

Order: `ESBUILD_BINARY_PATH` > the project's own `node_modules` (so a project pins its esbuild) >
`<user cache>/esbuild-<pinned>/`. We run the native binary of esbuild's platform package directly:
npm 11 blocks esbuild's postinstall script, and the binary needs no Node.js at all.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .filelock import exclusive_lock
from .node import NodeNotFound, node_env, npm_command

#: The esbuild this edge-connector is tested with; installed into the user cache when needed.
PINNED_ESBUILD_VERSION = "0.28.2"


class EsbuildNotFound(RuntimeError):
    """esbuild could not be located or installed; the message says what to do."""


@dataclass(frozen=True)
class Esbuild:
    path: str
    version: str
    #: where it came from: "ESBUILD_BINARY_PATH", "project" or "cache"
    source: str


def platform_package() -> str:
    """esbuild's npm package holding the native binary for this machine, e.g. `@esbuild/linux-x64`."""
    machine = platform.machine().lower()
    arch = {
        "x86_64": "x64",
        "amd64": "x64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "i386": "ia32",
        "i686": "ia32",
        "x86": "ia32",
        "armv7l": "arm",
        "ppc64le": "ppc64",
        "s390x": "s390x",
        "riscv64": "riscv64",
        "loongarch64": "loong64",
    }.get(machine, machine)
    system = "freebsd" if sys.platform.startswith("freebsd") else sys.platform  # linux, darwin
    return f"@esbuild/{system}-{arch}"


def _binary_in(node_modules: Path) -> Path | None:
    package_dir = node_modules.joinpath(*platform_package().split("/"))
    candidate = package_dir / "bin" / "esbuild"
    return candidate if candidate.is_file() else None


def cache_root() -> Path:
    """The user cache folder of edge-connector (`EDGE_CONNECTOR_CACHE_DIR` overrides, e.g. for tests)."""
    override = os.environ.get("EDGE_CONNECTOR_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("edge-connector"))


def cached_install_dir(version: str = PINNED_ESBUILD_VERSION) -> Path:
    return cache_root() / f"esbuild-{version}"


@lru_cache(maxsize=32)
def _version_of(path: str) -> str:
    packaged = _packaged_version(Path(path))
    if packaged is not None:
        return packaged
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, env=node_env())
    except (OSError, subprocess.TimeoutExpired, NodeNotFound) as exc:
        raise EsbuildNotFound(
            f"esbuild at {path} could not be run ({exc}); reinstall it or unset ESBUILD_BINARY_PATH"
        ) from None
    if done.returncode != 0 or not done.stdout.strip():
        raise EsbuildNotFound(f"esbuild at {path} did not report a version; reinstall it or unset ESBUILD_BINARY_PATH")
    return done.stdout.strip()


def _packaged_version(binary: Path) -> str | None:
    """The version in the npm package around a native binary (`@esbuild/<platform>/bin/esbuild` beside
    `@esbuild/<platform>/package.json`): what `esbuild --version` says, without starting it (~20 ms a build)."""
    package = binary.parent.parent
    if binary.parent.name != "bin" or package.parent.name != "@esbuild":
        return None
    try:
        version = json.loads((package / "package.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) and version else None


def _project_binary(project_dir: Path) -> Path | None:
    """The project's esbuild, looking in `node_modules` of the project and its parents (hoisting)."""
    for folder in (project_dir, *project_dir.parents):
        node_modules = folder / "node_modules"
        if not node_modules.is_dir():
            continue
        native = _binary_in(node_modules)
        if native is not None:
            return native
        shim = node_modules / ".bin" / "esbuild"
        if shim.is_file():
            return shim
    return None


def find_esbuild(project_dir: Path | None = None, *, announce: Callable[[str], None] | None = None) -> Esbuild:
    """Locate esbuild for `project_dir`, installing the pinned one into the cache if nothing else is there.

    `announce` receives one line when a first-use install starts (default: printed to stderr).
    """
    override = os.environ.get("ESBUILD_BINARY_PATH")
    if override:
        if not Path(override).is_file():
            raise EsbuildNotFound(
                f"ESBUILD_BINARY_PATH is set to {override!r}, which is not a file; point it at an esbuild binary or unset it"
            )
        return Esbuild(override, _version_of(override), "ESBUILD_BINARY_PATH")
    if project_dir is not None:
        found = _project_binary(Path(project_dir).resolve())
        if found is not None:
            return Esbuild(str(found), _version_of(str(found)), "project")
    path = ensure_cached_esbuild(announce=announce)
    return Esbuild(str(path), _version_of(str(path)), "cache")


def ensure_cached_esbuild(
    version: str = PINNED_ESBUILD_VERSION, *, announce: Callable[[str], None] | None = None
) -> Path:
    """The cached esbuild binary, installed with the bundled npm the first time.

    A lock file serialises concurrent first uses (parallel test processes, two terminals); the
    install goes to a staging folder renamed into place, so a killed install never leaves half a
    binary behind.
    """
    target = cached_install_dir(version)
    existing = _binary_in(target / "node_modules")
    if existing is not None:
        return existing
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target.parent / f"esbuild-{version}.lock"):
        existing = _binary_in(target / "node_modules")
        if existing is not None:  # another process installed it while we waited
            return existing
        say = announce or (lambda line: print(line, file=sys.stderr, flush=True))
        say(f"Installing esbuild {version} into {target} (first use; later builds reuse it)")
        staging = Path(tempfile.mkdtemp(prefix=f"esbuild-{version}.staging-", dir=target.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        try:
            _npm_install_esbuild(staging, version)
            if _binary_in(staging / "node_modules") is None:
                raise EsbuildNotFound(
                    f"npm installed esbuild {version} but not its binary package {platform_package()}; "
                    "this platform may be unsupported: install esbuild yourself and set ESBUILD_BINARY_PATH"
                )
            if target.exists():  # a broken earlier install
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    binary = _binary_in(target / "node_modules")
    assert binary is not None
    return binary


def _npm_install_esbuild(folder: Path, version: str) -> None:
    (folder / "package.json").write_text('{"private": true, "description": "esbuild for edge-connector"}\n')
    try:
        command = [
            *npm_command(),
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--no-package-lock",
            "--loglevel=error",
            f"esbuild@{version}",
        ]
    except NodeNotFound as exc:
        raise EsbuildNotFound(f"cannot install esbuild: {exc}") from None
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300, env=node_env())
    except subprocess.TimeoutExpired:
        raise EsbuildNotFound(
            f"npm install esbuild@{version} took more than 5 minutes; check the network or set ESBUILD_BINARY_PATH"
        ) from None
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EsbuildNotFound(
            f"npm could not install esbuild@{version} ({detail}); check the network and npm registry, "
            "or install esbuild yourself and set ESBUILD_BINARY_PATH"
        )
