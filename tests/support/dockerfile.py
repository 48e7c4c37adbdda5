"""Just enough of the Dockerfile and .dockerignore formats to check our image without a Docker daemon."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper-case, e.g. "RUN"
    arguments: str  # the raw text after the keyword, continuations joined

    def exec_form(self) -> list[str] | None:
        """`["a", "b"]` arguments as a list, or None for shell form."""
        text = self.arguments.strip()
        if text.startswith("["):
            value = json.loads(text)
            assert isinstance(value, list) and all(isinstance(v, str) for v in value)
            return value
        return None


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comments inside a continued instruction are dropped, as docker does
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        pending += line
        keyword, _, arguments = pending.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                key, sep, value = pair.partition("=")
                assert sep, f"use ENV KEY=VALUE form, got {pair!r}"
                env[key] = value
    return env


def healthcheck_command(instruction: Instruction) -> tuple[dict[str, str], str]:
    """Options (`--interval` …) and the shell command of `HEALTHCHECK [OPTIONS] CMD command`."""
    options_text, marker, command = instruction.arguments.partition(" CMD ")
    assert marker, "HEALTHCHECK without CMD"
    options = dict(opt.lstrip("-").split("=", 1) for opt in options_text.split())
    return options, command.strip()


# --- .dockerignore -----------------------------------------------------------------------------


def _segment_regex(segment: str) -> str:
    out = []
    for ch in segment:
        out.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch))
    return "".join(out)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's filepath.Match (`*` stays inside one path segment) plus `**` (any number of directories)."""
    regex = ""
    for index, segment in enumerate(pattern.split("/")):
        if segment == "**":
            regex += "(?:[^/]+/)*"
        else:
            regex += _segment_regex(segment) + ("/" if index < len(pattern.split("/")) - 1 else "")
    return re.compile(regex + r"\Z")


def load_dockerignore(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        rules.append((negated, _pattern_regex(pattern.strip("/"))))
    return rules


def is_ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Last matching rule wins; a rule matching a parent directory excludes what is inside it."""
    ignored = False
    prefixes = []
    parts = relative.split("/")
    for i in range(1, len(parts) + 1):
        prefixes.append("/".join(parts[:i]))
    for negated, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def copy_build_context(context: Path, destination: Path, dockerignore: Path) -> list[str]:
    """Copy what `COPY . dest` would send, honouring .dockerignore; return the copied relative paths."""
    rules = load_dockerignore(dockerignore)
    # Without `!` rules an ignored directory can be skipped whole (it holds .venv and .git: many files).
    can_prune = not any(negated for negated, _ in rules)
    copied = []
    for folder, dirnames, filenames in os.walk(context):
        base = Path(folder).relative_to(context).as_posix()
        prefix = "" if base == "." else base + "/"
        if can_prune:
            dirnames[:] = sorted(d for d in dirnames if not is_ignored(prefix + d, rules))
        for name in sorted(filenames):
            relative = prefix + name
            source = Path(folder) / name
            if is_ignored(relative, rules) or source.is_symlink():
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(relative)
    return copied
