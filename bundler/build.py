"""`build_project`: esbuild every tool, index the definitions in Node.js, write dist/ + manifest, pack.

The whole build happens in a staging folder next to the output folder and is swapped in only when
everything succeeded, so a failed build never destroys the last good build output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_protocol.archive import DEFAULT_COMPRESSLEVEL, FAST_COMPRESSLEVEL, MANIFEST_NAME, write_archive
from edge_protocol.limits import MAX_ARCHIVE_BYTES
from edge_protocol.manifest import Manifest, ToolDescriptor, content_checksum, file_entry_for
from edge_protocol.sandbox import SANDBOX_FILE

from .diagnostics import build_error_from_esbuild
from .errors import BuildError
from .esbuild import Esbuild, EsbuildNotFound, find_esbuild
from .filelock import exclusive_lock
from .incremental import EsbuildErrors, IncrementalEsbuild
from .index_server import IndexServer
from .indexing import check_definition, duplicate_name_problems
from .project import DEFAULT_OUT_DIR, METAFILE_NAME, ProjectConfig, load_project, tool_sources
from .size_report import too_large_error
from .staleness import is_stale  # noqa: F401  (re-exported: `upload` and `dev` ask the build module)

DIST_DIR = "dist"
#: Makes Node.js read dist/*.js as ES modules wherever the build output sits.
DIST_PACKAGE_JSON = '{\n  "type": "module"\n}\n'
#: Prepended to every output file: the CommonJS packages bundled into ES modules call `require("fs")`
#: (esbuild keeps such calls for Node's built-ins and `external` packages), which an ES module lacks.
ESM_REQUIRE_BANNER = (
    'import { createRequire as __edgeCreateRequire } from "node:module"; '
    "const require = __edgeCreateRequire(import.meta.url);"
)
ESBUILD_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class BuiltTool:
    name: str
    source: str  # project-relative path of the source file
    entry: str  # bundle-relative path, e.g. dist/get_weather.js
    size: int


@dataclass
class BuildResult:
    manifest: Manifest
    out_dir: Path
    archive_path: Path
    archive_size: int
    tools: list[BuiltTool]
    esbuild: Esbuild
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        return self.manifest.checksum

    @property
    def dist_dir(self) -> Path:
        return self.out_dir / DIST_DIR

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    def to_json(self) -> dict[str, Any]:
        """What `build --json` prints."""
        return {
            "bundle": self.manifest.bundle,
            "checksum": self.checksum,
            "archive": str(self.archive_path),
            "archiveSize": self.archive_size,
            "outDir": str(self.out_dir),
            "manifest": str(self.manifest_path),
            "esbuild": self.esbuild.version,
            "sandbox": self.manifest.sandbox.to_wire(),
            "tools": [{"name": t.name, "source": t.source, "entry": t.entry, "size": t.size} for t in self.tools],
        }


def default_out_dir(project_dir: Path) -> Path:
    return Path(project_dir).resolve() / DEFAULT_OUT_DIR


def build_project(
    project_dir: Path | str,
    out_dir: Path | str | None = None,
    *,
    announce: Callable[[str], None] | None = None,
    max_archive_bytes: int = MAX_ARCHIVE_BYTES,
    fast_pack: bool = False,
    indexer: IndexServer | None = None,
    incremental: IncrementalEsbuild | None = None,
) -> BuildResult:
    """Build the tool project in `project_dir` into `out_dir` (default `project_dir/.edge/build`).

    Raises `BuildError` for every problem a user can fix. `announce` gets the one-line notice of a
    first-use esbuild install. `fast_pack` packs with gzip level 1 (a dev loop on loopback: ~3x less
    CPU for a somewhat bigger archive; the checksum is the same). `indexer`: a Node.js indexer kept
    between builds (a dev session's), instead of one started for this build; `incremental`: an esbuild
    context kept between builds (a dev session's), instead of an esbuild process for this build.
    """
    started = time.perf_counter()
    with contextlib.ExitStack() as owned:
        if indexer is None:  # this build's own, started now: Node.js boots while esbuild runs
            indexer = owned.enter_context(IndexServer().started())
        config = load_project(Path(project_dir))
        out = Path(out_dir).resolve() if out_dir is not None else default_out_dir(config.root)
        _check_out_dir(out, config.root)
        sources = tool_sources(config)
        try:
            esbuild = find_esbuild(config.root, announce=announce)
        except EsbuildNotFound as exc:
            raise BuildError(str(exc)) from None
        timings: dict[str, float] = {"prepare": _ms_since(started)}

        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the build output is an ordinary folder
        try:
            mark = time.perf_counter()
            metafile = _run_esbuild(esbuild, config, sources, staging, incremental)
            timings["esbuild"] = _ms_since(mark)
            # Before indexing: the built files must load as ES modules wherever they sit.
            (staging / DIST_DIR / "package.json").write_text(DIST_PACKAGE_JSON, encoding="utf-8")

            mark = time.perf_counter()
            entries = [f"{DIST_DIR}/{source.name.rsplit('.', 1)[0]}.js" for source in sources]
            tools = _index_tools(config, sources, entries, staging, indexer)
            timings["index"] = _ms_since(mark)

            mark = time.perf_counter()
            if not config.sandbox.empty:
                # Listed in `files` like any built file, so a change of the requests alone changes the checksum.
                (staging / SANDBOX_FILE).write_text(
                    json.dumps(config.sandbox.to_wire(), indent=2) + "\n", encoding="utf-8"
                )
            manifest = _manifest(config, staging, tools, esbuild, metafile)
            (staging / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
            # No indent: json.dumps then uses its C encoder (metafiles of big projects are megabytes).
            (staging / METAFILE_NAME).write_text(json.dumps(metafile), encoding="utf-8")
            archive_path = staging / config.archive_file_name
            archive_size = write_archive(
                staging, manifest, archive_path, FAST_COMPRESSLEVEL if fast_pack else DEFAULT_COMPRESSLEVEL
            )
            timings["pack"] = _ms_since(mark)
            if archive_size > max_archive_bytes:
                raise too_large_error(archive_size, metafile, max_archive_bytes)

            _swap_into_place(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        sizes = {entry.path: entry.size for entry in manifest.files}
        built = [
            BuiltTool(t.name, source.relative_to(config.root).as_posix(), t.entry, sizes[t.entry])
            for t, source in zip(manifest.tools, sources, strict=True)
        ]
        timings["total"] = _ms_since(started)
        return BuildResult(manifest, out, out / config.archive_file_name, archive_size, built, esbuild, timings)


def _ms_since(mark: float) -> float:
    return round((time.perf_counter() - mark) * 1000, 1)


def _check_out_dir(out: Path, root: Path) -> None:
    """Only ever replace a folder that is empty or a previous build output (never the project itself)."""
    if out == root or out in root.parents:
        raise BuildError(f"the output folder {out} contains the project itself", "choose a new folder for --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise BuildError(
            f"the output folder {out} holds files that are not a build output; build would replace them",
            "choose an empty or new folder for --out",
        )
    if out.exists() and not out.is_dir():
        raise BuildError(f"the output path {out} is a file", "choose a folder for --out")


def esbuild_options(config: ProjectConfig, sources: list[Path]) -> dict[str, Any]:
    """The build's esbuild options, in the JavaScript API's names (the command line is derived from them).

    One build for every tool, ES modules with code splitting: what several tools import (zod, a shared
    lib/ file) goes once into a `dist/chunk-<hash>.js` that every tool entry imports, so Node.js parses
    it once per process (the indexer, a worker) instead of once per tool.
    """
    return {
        # Project-relative, so paths in errors and in the bundle's comments are project-relative
        # (which also keeps the output identical wherever the project is checked out).
        "entryPoints": [source.relative_to(config.root).as_posix() for source in sources],
        "bundle": True,
        "platform": "node",
        "format": "esm",
        "splitting": True,
        "banner": {"js": ESM_REQUIRE_BANNER},
        # CommonJS code reading its own location keeps working in an ES module.
        "define": {"__dirname": "import.meta.dirname", "__filename": "import.meta.filename"},
        "target": config.target,
        "outbase": config.tools_dir,
        "logLevel": "error",
        "logLimit": 0,
        "color": False,
        "external": list(config.external),
    }


def esbuild_command_line(options: dict[str, Any], outdir: Path, metafile: Path) -> list[str]:
    """`options` as esbuild's command-line arguments."""
    args = list(options["entryPoints"])
    for name, value in options.items():
        flag = "--" + "".join(f"-{c.lower()}" if c.isupper() else c for c in name)
        if name == "entryPoints":
            continue
        if isinstance(value, bool):
            args.append(flag if value else f"{flag}=false")
        elif isinstance(value, dict):
            args += [f"{flag}:{key}={item}" for key, item in value.items()]
        elif isinstance(value, list):
            args += [f"{flag}:{item}" for item in value]
        else:
            args.append(f"{flag}={value}")
    return [*args, f"--outdir={outdir}", f"--metafile={metafile}"]


def _run_esbuild(
    esbuild: Esbuild,
    config: ProjectConfig,
    sources: list[Path],
    staging: Path,
    incremental: IncrementalEsbuild | None = None,
) -> dict[str, Any]:
    """Build every tool into `staging/dist`; returns esbuild's metafile. `incremental`: a dev session's
    kept esbuild context, used when it can be (else the command-line esbuild runs)."""
    options = esbuild_options(config, sources)
    if incremental is not None:
        try:
            metafile = incremental.build(esbuild, config.root, options, staging / DIST_DIR)
        except EsbuildErrors as exc:
            raise build_error_from_esbuild(str(exc), str(config.root)) from None
        if metafile is not None:
            return metafile
    metafile_path = staging / "esbuild-meta.json"
    command = [esbuild.path, *esbuild_command_line(options, staging / DIST_DIR, metafile_path)]
    try:
        # cwd = project root: the entry points and the paths in messages are relative to it.
        done = subprocess.run(
            command,
            cwd=config.root,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=ESBUILD_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"esbuild took more than {ESBUILD_TIMEOUT_SECONDS} s", "check for a huge dependency") from None
    except OSError as exc:
        raise BuildError(
            f"esbuild at {esbuild.path} could not be started ({exc})",
            "reinstall it, or set ESBUILD_BINARY_PATH to a working esbuild",
        ) from None
    if done.returncode != 0:
        raise build_error_from_esbuild(done.stderr, str(config.root))
    metafile = json.loads(metafile_path.read_text(encoding="utf-8"))
    metafile_path.unlink()
    return metafile


def _index_tools(
    config: ProjectConfig, sources: list[Path], entries: list[str], staging: Path, indexer: IndexServer
) -> list[ToolDescriptor]:
    labels = [source.relative_to(config.root).as_posix() for source in sources]
    results = indexer.load_definitions([staging / entry for entry in entries], labels)
    problems: list[str] = []
    tools: list[ToolDescriptor] = []
    named: list[tuple[str, str]] = []
    for source, entry, raw in zip(sources, entries, results, strict=True):
        label = source.relative_to(config.root).as_posix()
        definition, found = check_definition(label, raw)
        problems += found
        if definition is None:
            continue
        named.append((definition.name, label))
        tools.append(
            ToolDescriptor(
                name=definition.name,
                description=definition.description,
                inputSchema=definition.input_schema,
                entry=entry,
                outputSchema=definition.output_schema,
                **({"timeoutMs": definition.timeout_ms} if definition.timeout_ms is not None else {}),
            )
        )
    problems += duplicate_name_problems(named)
    if problems:
        hint = "fix the tool definitions (see SPEC: name, description, inputSchema, run), then build again"
        if any("more than one file" in p for p in problems):
            hint = 'give every tool a unique "name", then build again'
        raise BuildError("\n".join(problems), hint)
    return tools


def _manifest(
    config: ProjectConfig, staging: Path, tools: list[ToolDescriptor], esbuild: Esbuild, metafile: dict[str, Any]
) -> Manifest:
    paths = sorted(path.relative_to(staging).as_posix() for path in (staging / DIST_DIR).rglob("*") if path.is_file())
    files = [file_entry_for(staging, path) for path in paths]
    return Manifest(
        bundle=config.name,
        checksum=content_checksum(files),
        files=files,
        tools=tools,
        createdAt=_created_at(config, metafile),
        version=None,
        builder={"edgeConnector": _edge_connector_version(), "esbuild": esbuild.version},
        sandbox=config.sandbox,
    )


def _created_at(config: ProjectConfig, metafile: dict[str, Any]) -> str:
    """The newest source's time (or `SOURCE_DATE_EPOCH`), so unchanged sources rebuild to identical bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        newest = float(epoch)
    else:
        own_inputs = [config.root / p for p in metafile.get("inputs", {}) if "node_modules/" not in p]
        newest = max((p.stat().st_mtime for p in [*own_inputs, *config.config_files()] if p.is_file()), default=0.0)
    return datetime.fromtimestamp(int(newest), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _edge_connector_version() -> str:
    """The product's version, as the runtime reports it (importing `importlib.metadata` costs a build
    tens of milliseconds; a unit test keeps the constant equal to the installed distribution's)."""
    from edge_protocol import __version__

    return __version__


def _swap_into_place(staging: Path, out: Path) -> None:
    """Replace `out` with `staging` by renames; the old output is removed only after the new one is in place.

    A lock serialises two builds finishing at once (a `dev` rebuild and a manual `build`): last one wins.
    """
    old = None
    with exclusive_lock(out.with_name(f".{out.name}.lock")):
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
            os.replace(out, old)
        os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
