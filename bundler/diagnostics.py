"""Turn esbuild's error output into `file:line:column: message` lines and one helpful hint."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BuildError

# esbuild prints "✘ [ERROR] message" (or "X [ERROR]" on Windows consoles), then an indented
# "file:line:column:" location line when the error has one. Columns there are 0-based.
_ERROR_LINE = re.compile(r"^\S*\s*\[ERROR\] (?P<message>.+)$")
_LOCATION_LINE = re.compile(r"^\s+(?P<file>.+?):(?P<line>\d+):(?P<column>\d+):$")
_UNRESOLVED = re.compile(r'^Could not resolve "(?P<spec>[^"]+)"')
_NATIVE_ADDON = re.compile(r'^No loader is configured for "\.node" files: (?P<addon>.+)$')


@dataclass(frozen=True)
class EsbuildMessage:
    text: str
    file: str | None = None
    line: int | None = None
    column: int | None = None  # 1-based, as editors count

    def __str__(self) -> str:
        if self.file is None:
            return self.text
        return f"{self.file}:{self.line}:{self.column}: {self.text}"


def parse_errors(stderr: str) -> list[EsbuildMessage]:
    """Every `[ERROR]` of esbuild's text log, with its first location if it has one."""
    messages: list[EsbuildMessage] = []
    lines = stderr.splitlines()
    for index, raw in enumerate(lines):
        match = _ERROR_LINE.match(raw)
        if not match:
            continue
        location = None
        for follow in lines[index + 1 : index + 4]:
            if _ERROR_LINE.match(follow):
                break
            location = _LOCATION_LINE.match(follow)
            if location:
                break
        if location:
            messages.append(
                EsbuildMessage(match["message"], location["file"], int(location["line"]), int(location["column"]) + 1)
            )
        else:
            messages.append(EsbuildMessage(match["message"]))
    # esbuild parses files in parallel, so its order varies; sorted output is stable and reads top-down.
    return sorted(messages, key=lambda m: (m.file is None, m.file or "", m.line or 0, m.column or 0))


def package_of(specifier: str) -> str | None:
    """The npm package an import specifier names (`lodash/fp` → `lodash`), or None for a relative path."""
    if specifier.startswith((".", "/")) or specifier.startswith("node:") or re.match(r"^[A-Za-z]:[\\/]", specifier):
        return None
    parts = specifier.split("/")
    return "/".join(parts[:2]) if specifier.startswith("@") and len(parts) > 1 else parts[0]


def build_error_from_esbuild(stderr: str, project_dir_label: str) -> BuildError:
    """One `BuildError` for a failed esbuild run: every error on its own line, the most useful hint."""
    messages = parse_errors(stderr)
    if not messages:
        tail = stderr.strip().splitlines()[-1:] or ["no output"]
        return BuildError(f"esbuild failed: {tail[0]}", "run again with --debug, and check the esbuild installation")

    lines: list[str] = []
    missing_packages: list[str] = []
    native_addons: list[str] = []
    for message in messages:
        native = _NATIVE_ADDON.match(message.text)
        if native:
            addon = native["addon"]
            native_addons.append(addon)
            where = f"{message.file}:{message.line}:{message.column}: " if message.file else ""
            lines.append(f"{where}native addon {addon} cannot be bundled (a compiled .node file, not JavaScript)")
            continue
        unresolved = _UNRESOLVED.match(message.text)
        if unresolved:
            package = package_of(unresolved["spec"])
            if package and package not in missing_packages:
                missing_packages.append(package)
            if package:
                lines.append(f"{message}: package {package!r} is not installed")
                continue
        lines.append(str(message))

    if native_addons:
        hint = (
            "tools are bundled into plain JavaScript files that run in Node.js workers on any machine, "
            "so native addons cannot be shipped; use a pure-JavaScript or WebAssembly alternative of that package"
        )
    elif missing_packages:
        hint = f"run `npm install {' '.join(missing_packages)}` in {project_dir_label}, then build again"
    else:
        hint = "fix the code at the place shown, then build again"
    return BuildError("\n".join(lines), hint)
