"""The worker sandbox (SPEC.md §10): the environment and the Node.js permission flags of a tool worker.

Pure functions of plain values, so every rule is unit-tested without starting node:
- `worker_environment`: an allow-list of the runtime's environment (locale, PATH, proxy and CA
  variables so tools reach the network the way the runtime does), HOME/TMPDIR at the bundle's scratch
  dir, the host variables the bundle names in `env`, and its `secretsInEnv` values. Never the
  runtime's credentials, whatever the bundle asks.
- `permission_flags`: `--permission`, read the bundle's own directory and the host script, read and
  write the scratch dir, plus what `edge.json` `permissions` grants.
- `check_grants`: a grant that would open the installation directory (tokens, config, the autostart
  env file, the lock) is refused before any worker starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePath

from edge_protocol.sandbox import RESERVED_ENV_NAMES, SandboxRequest

#: Variables passed from the runtime's environment when it has them.
ALLOWED_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "NODE_ENV",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SYSTEMROOT",
    "WINDIR",  # Windows cannot start a process without them
)
_ALLOWED_PREFIXES = ("LC_",)
#: Where the runtime keeps each bundle's scratch directory, under the installation directory.
SCRATCH_DIR = ".scratch"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class SandboxRefused(ValueError):
    """A bundle asks for something the runtime never grants; the message says what and why."""


def scratch_dir_for(root: Path, bundle: str) -> Path:
    """`<root>/<bundle name>`: one per bundle name, so a new version finds what the previous one cached."""
    return Path(root) / (_UNSAFE_NAME.sub("-", bundle.lstrip("@")) or "bundle")


def worker_environment(
    host_env: Mapping[str, str],
    request: SandboxRequest,
    scratch_dir: Path,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a tool worker (the channel fd is added by the worker itself)."""
    env = {name: value for name, value in host_env.items() if name in ALLOWED_ENV or name.startswith(_ALLOWED_PREFIXES)}
    for name in request.env:
        if name in host_env and name not in RESERVED_ENV_NAMES:
            env[name] = host_env[name]
    for name in request.secrets_in_env:
        if secrets and name in secrets and name not in RESERVED_ENV_NAMES:
            env[name] = secrets[name]
    env["HOME"] = env["TMPDIR"] = str(scratch_dir)
    if os.name == "nt":
        env["USERPROFILE"] = env["TEMP"] = env["TMP"] = str(scratch_dir)
    return env


def permission_flags(
    bundle_dir: Path,
    scratch_dir: Path,
    host_script: Path,
    request: SandboxRequest,
    host_env: Mapping[str, str] | None = None,
) -> list[str]:
    """Node.js flags: the permission model with exactly the reads, writes and capabilities allowed."""
    # The bundle's folder as `<dir>/*`: node then grants it and everything in it even when it does not
    # exist yet (workers start while the bundle still downloads); a plain path that does not exist at
    # start grants nothing. Nothing beside it matches (`<dir>2/` does not).
    reads = [os.path.join(bundle_dir, "*"), str(scratch_dir), str(host_script), *request.permissions.fs_read]
    ca_file = (host_env or {}).get("NODE_EXTRA_CA_CERTS")
    if ca_file:
        reads.append(ca_file)  # node reads it itself when a tool first opens a TLS connection
    writes = [str(scratch_dir), *request.permissions.fs_write]
    flags = ["--permission"]
    flags += [f"--allow-fs-read={path}" for path in dict.fromkeys(reads)]
    flags += [f"--allow-fs-write={path}" for path in dict.fromkeys(writes)]
    p = request.permissions
    for granted, flag in (
        (p.child_process, "--allow-child-process"),
        (p.worker_threads, "--allow-worker"),
        (p.addons, "--allow-addons"),
        (p.wasi, "--allow-wasi"),
    ):
        if granted:
            flags.append(flag)
    return flags


def check_grants(request: SandboxRequest, protected: list[Path]) -> None:
    """Refuse an `fsRead`/`fsWrite` grant that is, contains or lies inside a protected path."""
    for key, paths in (("fsRead", request.permissions.fs_read), ("fsWrite", request.permissions.fs_write)):
        for raw in paths:
            granted = _normal(Path(raw))
            for path in protected:
                guarded = _normal(path)
                if granted == guarded or _inside(granted, guarded) or _inside(guarded, granted):
                    raise SandboxRefused(
                        f"edge.json permissions.{key} grants {raw}, which would expose the connector's "
                        f"installation directory {guarded}; grant a folder outside it"
                    )


def _normal(path: Path) -> PurePath:
    try:
        return Path(os.path.realpath(path))
    except OSError:
        return Path(os.path.normpath(path))


def _inside(path: PurePath, folder: PurePath) -> bool:
    return folder in path.parents
