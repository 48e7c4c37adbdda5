"""Copy a tool-project template (`templates/ts` or `templates/js`) into a folder, with its name filled in."""

from __future__ import annotations

import re
from pathlib import Path

from edge_protocol.limits import BUNDLE_NAME_RE

from .errors import BuildError

TEMPLATES = ("ts", "js")
NAME_PLACEHOLDER = "{{name}}"
#: Template file names that packaging would drop or misread, and what they become in the project.
RENAMED = {"gitignore": ".gitignore"}
#: Python packaging leftovers that are not part of a template.
SKIPPED = {"__init__.py", "__pycache__"}


def name_from_folder(folder: Path) -> str:
    """A valid bundle name from a folder name: `My Tools!` → `my-tools`."""
    name = re.sub(r"[^a-z0-9._-]+", "-", folder.resolve().name.lower()).strip("-._")
    return name or "my-tools"


def check_bundle_name(name: str) -> None:
    if not BUNDLE_NAME_RE.match(name):
        raise BuildError(
            f"{name!r} is not a valid bundle name",
            "use lowercase letters, digits, '-', '_' or '.', like an npm package name (e.g. --name my-tools)",
        )


def template_root(template: str) -> Path:
    """The folder of a shipped template (the `templates` package sits next to this one, also in a wheel)."""
    if template not in TEMPLATES:
        raise BuildError(f"there is no template {template!r}", f"use one of: {', '.join(TEMPLATES)}")
    import templates

    # __path__ rather than __file__: an editable install made before templates/__init__.py existed
    # maps `templates` as a namespace package, which has no __file__.
    for folder in templates.__path__:
        candidate = Path(folder) / template
        if candidate.is_dir():
            return candidate
    raise BuildError(f"the {template!r} template is missing from this installation", "reinstall edge-connector")


def _walk(node: Path, prefix: str = "") -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name in SKIPPED or child.name.endswith(".pyc"):
            continue
        relative = f"{prefix}{RENAMED.get(child.name, child.name)}"
        if child.is_dir():
            files += _walk(child, relative + "/")
        else:
            files.append((relative, child))
    return files


def scaffold_project(target: Path, template: str = "ts", name: str | None = None, force: bool = False) -> list[Path]:
    """Write the template into `target` (created if needed); returns the files written.

    Refuses a folder that already holds files unless `force`, which overwrites the template's
    files and leaves every other file alone.
    """
    target = Path(target)
    bundle_name = name if name is not None else name_from_folder(target)
    check_bundle_name(bundle_name)
    root = template_root(template)
    if target.exists() and not target.is_dir():
        raise BuildError(f"{target} is a file", "choose a new or empty folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise BuildError(
            f"{target} is not empty",
            "choose a new or empty folder, or pass --force to write the template over it (other files stay)",
        )
    written = []
    for relative, source in _walk(root):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        data = source.read_bytes()
        if NAME_PLACEHOLDER.encode() in data:
            data = data.replace(NAME_PLACEHOLDER.encode(), bundle_name.encode())
        destination.write_bytes(data)
        written.append(destination)
    return written
