"""What a bundle asks of the runtime beyond the default sandbox (SPEC.md §10, §11).

A tool project states it in `edge.json` (`env`, `permissions`, `secrets.required`, `secretsInEnv`);
the build copies it into the manifest as one `sandbox` object (and into `dist/sandbox.json`, so the
content checksum changes when only the requests change); the runtime reads it from the manifest;
`build`, `upload`, `bundle list` and the runtime's load log line print `describe()`.

Pure values and checks only: the runtime turns them into Node.js flags and a worker environment
(`edge_runtime/sandbox.py`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

#: Secret names (SPEC.md §11); also the rule for `env` and `secretsInEnv` entries.
SECRET_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,63}$"
SECRET_NAME_RE = re.compile(SECRET_NAME_PATTERN)
#: Host variable names `env` may pass through (any usual variable name, any case).
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Variables of the runtime itself that no bundle may ask for: they are its credentials and its wiring.
RESERVED_ENV_NAMES = frozenset(
    {
        "DEPLOYMENT_SECRET",
        "DEPLOYMENT_ID",
        "AUTH_TOKEN_PATH",
        "EDGE_CONNECTOR_TOKEN",
        "TOOL_RPC_URL",
        "EC_CHANNEL_FD",
        "HOME",
        "TMPDIR",
        "NODE_OPTIONS",
    }
)
#: The file of a built bundle that repeats the requests, so they are covered by the checksum.
SANDBOX_FILE = "dist/sandbox.json"

#: Node.js permission names (the `permission` field of ERR_ACCESS_DENIED) -> the edge.json key granting it.
GRANT_KEYS = {
    "FileSystemRead": "permissions.fsRead",
    "FileSystemWrite": "permissions.fsWrite",
    "ChildProcess": "permissions.childProcess",
    "WorkerThreads": "permissions.workerThreads",
    "Addon": "permissions.addons",
    "WASI": "permissions.wasi",
}


class SandboxError(ValueError):
    """A request that is not of the documented shape; the message names the key (`edge.json` spelling)."""


@dataclass(frozen=True)
class Permissions:
    fs_read: tuple[str, ...] = ()
    fs_write: tuple[str, ...] = ()
    child_process: bool = False
    worker_threads: bool = False
    addons: bool = False
    wasi: bool = False

    def to_wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.fs_read:
            data["fsRead"] = list(self.fs_read)
        if self.fs_write:
            data["fsWrite"] = list(self.fs_write)
        for key, value in (
            ("childProcess", self.child_process),
            ("workerThreads", self.worker_threads),
            ("addons", self.addons),
            ("wasi", self.wasi),
        ):
            if value:
                data[key] = True
        return data


@dataclass(frozen=True)
class SandboxRequest:
    """Everything a bundle asks for; the empty value asks for nothing (the default sandbox)."""

    env: tuple[str, ...] = ()
    permissions: Permissions = field(default_factory=Permissions)
    secrets_required: tuple[str, ...] = ()
    secrets_in_env: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.to_wire()

    def to_wire(self) -> dict[str, Any]:
        """The manifest's `sandbox` object (only the keys that ask for something)."""
        data: dict[str, Any] = {}
        if self.env:
            data["env"] = list(self.env)
        permissions = self.permissions.to_wire()
        if permissions:
            data["permissions"] = permissions
        if self.secrets_required:
            data["secrets"] = {"required": list(self.secrets_required)}
        if self.secrets_in_env:
            data["secretsInEnv"] = list(self.secrets_in_env)
        return data

    @classmethod
    def from_wire(cls, data: Any, where: str = "edge.json") -> SandboxRequest:
        """Read the requests from an `edge.json` object or a manifest's `sandbox` object (same keys)."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise SandboxError(f"{where}: 'sandbox' must be an object")
        env = _names(data.get("env"), f'{where}: "env"', ENV_NAME_RE, 'host variable names like "MY_API_BASE"')
        reserved = sorted(set(env) & RESERVED_ENV_NAMES)
        if reserved:
            raise SandboxError(
                f'{where}: "env" may not pass {", ".join(reserved)} to tools '
                "(the runtime's own credentials and wiring never reach a tool)"
            )
        secrets = data.get("secrets")
        if secrets is not None and not isinstance(secrets, dict):
            raise SandboxError(f'{where}: "secrets" must be an object like {{"required": ["API_KEY"]}}')
        required = _names(
            (secrets or {}).get("required"),
            f'{where}: "secrets.required"',
            SECRET_NAME_RE,
            'secret names like "API_KEY"',
        )
        in_env = _names(
            data.get("secretsInEnv"), f'{where}: "secretsInEnv"', SECRET_NAME_RE, 'secret names like "API_KEY"'
        )
        reserved = sorted(set(in_env) & RESERVED_ENV_NAMES)
        if reserved:
            raise SandboxError(f'{where}: "secretsInEnv" may not name {", ".join(reserved)}')
        return cls(env, _permissions(data.get("permissions"), where), required, in_env)

    def describe(self) -> list[str]:
        """One short phrase per request, for `build`, `upload`, `bundle list` and the load log line."""
        parts: list[str] = []
        p = self.permissions
        if p.fs_read:
            parts.append("read " + ", ".join(p.fs_read))
        if p.fs_write:
            parts.append("write " + ", ".join(p.fs_write))
        for granted, label in (
            (p.child_process, "child processes"),
            (p.worker_threads, "worker threads"),
            (p.addons, "native addons"),
            (p.wasi, "WASI"),
        ):
            if granted:
                parts.append(label)
        if self.env:
            parts.append("host env " + ", ".join(self.env))
        if self.secrets_required:
            parts.append("secrets " + ", ".join(self.secrets_required))
        if self.secrets_in_env:
            parts.append("secrets in env " + ", ".join(self.secrets_in_env))
        return parts

    def summary(self) -> str:
        """`describe()` as one line; "default sandbox" when it asks for nothing."""
        return "; ".join(self.describe()) or "default sandbox"


def missing_secrets(request: SandboxRequest, available: Collection[str]) -> list[str]:
    """The required secrets not in `available`, in the order the bundle lists them."""
    return [name for name in request.secrets_required if name not in available]


def missing_secret_hint(name: str) -> str:
    return f"edge-connector secret put {name}"


def _names(value: Any, where: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) and pattern.match(x) for x in value):
        raise SandboxError(f"{where} must be a list of {what}")
    return tuple(dict.fromkeys(value))  # order kept, duplicates dropped


def _permissions(value: Any, where: str) -> Permissions:
    if value is None:
        return Permissions()
    if not isinstance(value, dict):
        raise SandboxError(f'{where}: "permissions" must be an object like {{"fsRead": ["/data"]}}')
    known = {"fsRead", "fsWrite", "childProcess", "workerThreads", "addons", "wasi"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise SandboxError(f'{where}: "permissions" has unknown key {unknown[0]!r}; use {", ".join(sorted(known))}')
    paths = {}
    for key in ("fsRead", "fsWrite"):
        items = value.get(key, [])
        if not isinstance(items, list) or not all(isinstance(x, str) and _absolute(x) for x in items):
            raise SandboxError(f'{where}: "permissions.{key}" must be a list of absolute paths like "/srv/data"')
        paths[key] = tuple(dict.fromkeys(items))
    flags = {}
    for key in ("childProcess", "workerThreads", "addons", "wasi"):
        flag = value.get(key, False)
        if not isinstance(flag, bool):
            raise SandboxError(f'{where}: "permissions.{key}" must be true or false')
        flags[key] = flag
    return Permissions(
        paths["fsRead"], paths["fsWrite"], flags["childProcess"], flags["workerThreads"], flags["addons"], flags["wasi"]
    )


def _absolute(path: str) -> bool:
    # POSIX absolute, or a Windows drive path; never a relative one (it would depend on the worker's cwd).
    return path.startswith("/") or bool(re.match(r"^[A-Za-z]:[\\/]", path))
