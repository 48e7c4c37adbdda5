"""A tool project's settings: `edge.json` (SPEC.md §3.1) with the name falling back to `package.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_protocol.limits import BUNDLE_NAME_RE
from edge_protocol.manifest import is_safe_relative_path
from edge_protocol.sandbox import SandboxError, SandboxRequest

from .errors import BuildError

EDGE_JSON = "edge.json"
PACKAGE_JSON = "package.json"
DEFAULT_TOOLS_DIR = "src/tools"
DEFAULT_TARGET = "node20"
#: Files whose change makes a build stale even though no bundled source changed.
LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb")
#: Where a build goes unless told otherwise, and esbuild's metafile inside it (staleness and size reports read it).
DEFAULT_OUT_DIR = Path(".edge") / "build"
METAFILE_NAME = "metafile.json"
#: Source files the bundler treats as tool entries (one file = one tool).
TOOL_SUFFIXES = (".ts", ".js", ".mts", ".mjs", ".cts", ".cjs")


@dataclass(frozen=True)
class ProjectConfig:
    root: Path
    name: str
    tools_dir: str = DEFAULT_TOOLS_DIR
    target: str = DEFAULT_TARGET
    external: list[str] = field(default_factory=list)
    #: `env`, `permissions`, `secrets.required`, `secretsInEnv` (SPEC.md §10-§11), carried into the manifest.
    sandbox: SandboxRequest = field(default_factory=SandboxRequest)

    @property
    def tools_path(self) -> Path:
        return self.root / self.tools_dir

    @property
    def archive_file_name(self) -> str:
        """`<name>.tar.gz`, with a scoped name's `@scope/` flattened so it stays one file name."""
        return self.name.lstrip("@").replace("/", "-") + ".tar.gz"

    def config_files(self) -> list[Path]:
        names = (EDGE_JSON, PACKAGE_JSON, "tsconfig.json", *LOCKFILES)
        return [self.root / n for n in names if (self.root / n).is_file()]


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BuildError(f"{path} is not UTF-8 text", "save it as UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise BuildError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            f"fix the JSON syntax in {path.name}",
        ) from None
    if not isinstance(data, dict):
        raise BuildError(f"{path} must hold a JSON object", f"write {path.name} as {{ ... }}")
    return data


def load_project(project_dir: Path) -> ProjectConfig:
    """Read `edge.json` and `package.json` of `project_dir`; every problem is a `BuildError` naming the file."""
    root = Path(project_dir).resolve()
    if not root.is_dir():
        raise BuildError(f"{root} is not a folder", "pass the folder of a tool project (made by `edge-connector init`)")
    edge_path, package_path = root / EDGE_JSON, root / PACKAGE_JSON
    if not edge_path.is_file() and not package_path.is_file():
        raise BuildError(
            f"{root} has neither {EDGE_JSON} nor {PACKAGE_JSON}, so it is not a tool project",
            "run `edge-connector init` there, or pass the project folder",
        )
    if not package_path.is_file():
        raise BuildError(
            f"{package_path} is missing",
            "create it with `npm init -y` (the bundler resolves your npm dependencies through it)",
        )
    package = _read_json_object(package_path)
    edge = _read_json_object(edge_path) if edge_path.is_file() else {}

    name = edge.get("name", package.get("name"))
    source = EDGE_JSON if "name" in edge else PACKAGE_JSON
    if name is None:
        raise BuildError(
            f'no bundle name: neither {edge_path} nor {package_path} has a "name"',
            f'add "name": "my-tools" to {EDGE_JSON}',
        )
    if not isinstance(name, str) or not BUNDLE_NAME_RE.match(name):
        raise BuildError(
            f'{root / source}: "name" {name!r} is not a valid bundle name',
            "use lowercase letters, digits, '-', '_' or '.', like an npm package name (e.g. \"my-tools\")",
        )
    tools_dir = _string(edge, "toolsDir", DEFAULT_TOOLS_DIR, edge_path)
    if Path(tools_dir).is_absolute() or ".." in Path(tools_dir).parts:
        raise BuildError(f'{edge_path}: "toolsDir" must be a folder inside the project', 'use e.g. "src/tools"')
    target = _string(edge, "target", DEFAULT_TARGET, edge_path)
    external = edge.get("external", [])
    if not isinstance(external, list) or not all(isinstance(x, str) and x for x in external):
        raise BuildError(f'{edge_path}: "external" must be a list of package names', 'e.g. "external": ["pg-native"]')
    # Read by the CLI (edge_cli.client), which must work in any folder; checked here with the rest of edge.json.
    platform_url = edge.get("platformUrl")
    if platform_url is not None and not isinstance(platform_url, str):
        raise BuildError(f'{edge_path}: "platformUrl" must be a string', 'e.g. "platformUrl": "http://127.0.0.1:8000"')
    try:
        sandbox = SandboxRequest.from_wire(edge, str(edge_path))
    except SandboxError as exc:
        raise BuildError(str(exc), "see docs/sandbox.md and docs/secrets.md for the keys edge.json accepts") from None
    return ProjectConfig(root, name, tools_dir, target, list(external), sandbox)


def _string(data: dict[str, Any], key: str, default: str, path: Path) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise BuildError(f'{path}: "{key}" must be a non-empty string', f'remove it to use the default "{default}"')
    return value


def tool_sources(config: ProjectConfig) -> list[Path]:
    """The tool entry files: `toolsDir/*` with a JS/TS suffix, not tests and not type declarations."""
    folder = config.tools_path
    if not folder.is_dir():
        raise BuildError(
            f"the tools folder {folder} does not exist",
            f'create it and add one file per tool, or set "toolsDir" in {EDGE_JSON}',
        )
    sources = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if not path.is_file() or not name.endswith(TOOL_SUFFIXES) or name.startswith("."):
            continue
        if ".test." in name or ".spec." in name or name.endswith((".d.ts", ".d.mts", ".d.cts")):
            continue
        sources.append(path)
    if not sources:
        raise BuildError(
            f"no tools found in {folder}",
            "add one file per tool there (e.g. hello.ts with `export default defineTool({...})`)",
        )
    stems: dict[str, Path] = {}
    for path in sources:
        stem = path.name.rsplit(".", 1)[0]
        if not is_safe_relative_path(f"dist/{stem}.js"):
            # A newline in a path would make the bundle checksum ambiguous (SPEC.md §3.2).
            raise BuildError(
                f"the tool file name {path.name!r} in {folder} holds a control character, ':' or '\\'",
                "rename it to letters, digits, '-' and '_'",
            )
        if stem in stems:
            raise BuildError(
                f"{stems[stem].name} and {path.name} in {folder} would both build to dist/{stem}.js",
                "rename or remove one of them",
            )
        stems[stem] = path
    return sources
