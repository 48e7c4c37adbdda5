"""The installation directory's environment file: settings and secrets for an autostarted runtime.

Secrets never go on a command line (every local user can read it in `ps`) nor into a unit/plist/.cmd
file (often world-readable). They live in `<install dir>/edge-connector.env`, mode 0600, in a
`KEY="value"` format that systemd's `EnvironmentFile=` reads natively. launchd cannot read such a
file, so there the runtime is started through this module:

    python -m edge_runtime.envfile ENV_FILE -- COMMAND...

which loads the file into the environment and then execs COMMAND.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from .private_files import write_private_file

ENV_FILE_NAME = "edge-connector.env"
ENV_FILE_MODE = 0o600

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvFileError(ValueError):
    """The environment file cannot be read or parsed; the message names the file and the line."""


def _quote(value: str) -> str:
    # Double quotes with backslash escapes: the subset systemd and `parse_env_file` agree on.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    if "\n" in escaped or "\r" in escaped:
        raise ValueError("environment values cannot contain line breaks")
    return f'"{escaped}"'


def format_env_file(values: Mapping[str, str]) -> str:
    lines = ["# edge-connector runtime environment (secrets: keep this file mode 0600)"]
    for name in sorted(values):
        if not _NAME.match(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        lines.append(f"{name}={_quote(values[name])}")
    return "\n".join(lines) + "\n"


def parse_env_file(text: str, source: str = "environment file") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(";"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise EnvFileError(f'{source} line {number}: expected NAME="value"')
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, body = value[0], value[1:-1]
            value = re.sub(r"\\(.)", r"\1", body) if quote == '"' else body
        values[name] = value
    return values


def read_env_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise EnvFileError(f"Cannot read {path}: {exc.strerror}; check its owner and permissions") from None
    return parse_env_file(text, str(path))


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write atomically with mode 0600 from the first byte, through a random `O_EXCL` temporary name."""
    write_private_file(path, format_env_file(values), ENV_FILE_MODE)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m edge_runtime.envfile ENV_FILE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    env_file, command = Path(args[0]), args[2:]
    try:
        os.environ.update(read_env_file(env_file))
    except EnvFileError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    os.execvp(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
