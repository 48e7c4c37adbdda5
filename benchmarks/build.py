"""Benchmark 3 — `build` of a 20-tool project importing npm packages vs the raw esbuild CLI.

    .venv/bin/python -m benchmarks.build [--quick] [--runs N] [--cache DIR]

The project is generated into a cache folder and its npm packages are installed there once with
the bundled npm (pinned versions, so every run bundles the same code). Each run then times, on the
same entries and the same esbuild binary:
  * raw esbuild: one `esbuild <20 entries> --bundle --platform=node --format=cjs --target=node20` process;
  * `edge-connector build DIR --out OUT` as a user runs it (a fresh Python process: CLI start included);
  * `bundler.build.build_project(DIR, OUT)` in this process (the library cost without interpreter start).
Medians over the runs, after one warm-up of each, are printed with the overhead and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .output import emit
from .stats import Table, fmt_ms, fmt_ratio, verdict

TOOL_COUNT = 20
OVERHEAD_BUDGET_MS = 300.0

#: Pinned so that every machine bundles the same amount of code.
PACKAGES = {
    "zod": "3.23.8",
    "lodash": "4.17.21",
    "date-fns": "3.6.0",
    "uuid": "9.0.1",
    "yaml": "2.4.5",
    "dayjs": "1.11.13",
}

#: What each package contributes to a tool's body: (import line, expression using it).
_USES = {
    "zod": ('import { z } from "zod";', "z.object({ text: z.string() }).parse(input).text.length"),
    "lodash": ('import _ from "lodash";', "_.camelCase(String(input.text))"),
    "date-fns": ('import { formatISO, addDays } from "date-fns";', "formatISO(addDays(new Date(0), 1))"),
    "uuid": ('import { v4 as uuidv4 } from "uuid";', "uuidv4()"),
    "yaml": ('import YAML from "yaml";', "YAML.stringify({ text: input.text })"),
    "dayjs": ('import dayjs from "dayjs";', 'dayjs(0).add(1, "day").toISOString()'),
}

TOOL_TS = """import {{ defineTool }} from "../lib/tool";
{imports}

export default defineTool({{
  name: "{name}",
  description: "Benchmark tool {index} using {packages}",
  inputSchema: {{ type: "object", properties: {{ text: {{ type: "string" }} }}, required: ["text"] }},
  async run(input: {{ text: string }}) {{
    return {{ {fields} }};
  }},
}});
"""

LIB_TOOL_TS = """export interface ToolDefinition<I = any, O = any> {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  timeoutMs?: number;
  run(input: I, ctx: { callId: string; signal: AbortSignal; log(...args: unknown[]): void }): Promise<O> | O;
}

export function defineTool<I = any, O = any>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}

export class ToolError extends Error {
  name = "ToolError";
  constructor(public code: string, message: string, public details?: unknown) {
    super(message);
  }
}
"""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge-connector-benchmarks"


def tool_packages(index: int) -> list[str]:
    """Tool i imports 1–3 packages in a rotating pattern, so every package is shared by several tools."""
    names = list(PACKAGES)
    count = 1 + index % 3
    return [names[(index + k) % len(names)] for k in range(count)]


def tool_source(index: int) -> str:
    packages = tool_packages(index)
    imports = "\n".join(_USES[p][0] for p in packages)
    fields = ", ".join(f"r{k}: {_USES[p][1]}" for k, p in enumerate(packages))
    return TOOL_TS.format(
        imports=imports, name=f"tool_{index:02d}", index=index, packages=", ".join(packages), fields=fields
    )


def write_project(root: Path, tools: int = TOOL_COUNT) -> list[Path]:
    """(Re)write the sources of the benchmark project; returns the tool entry files."""
    (root / "src" / "tools").mkdir(parents=True, exist_ok=True)
    (root / "src" / "lib").mkdir(parents=True, exist_ok=True)
    package = {"name": "bench-tools", "version": "1.0.0", "private": True, "dependencies": PACKAGES}
    _write_if_changed(root / "package.json", json.dumps(package, indent=2) + "\n")
    _write_if_changed(root / "edge.json", json.dumps({"name": "bench-tools", "toolsDir": "src/tools"}, indent=2) + "\n")
    _write_if_changed(
        root / "tsconfig.json",
        json.dumps(
            {
                "compilerOptions": {
                    "target": "ES2022",
                    "module": "ESNext",
                    "moduleResolution": "Bundler",
                    "strict": False,
                    "esModuleInterop": True,
                    "skipLibCheck": True,
                }
            },
            indent=2,
        )
        + "\n",
    )
    _write_if_changed(root / "src" / "lib" / "tool.ts", LIB_TOOL_TS)
    entries = []
    for i in range(1, tools + 1):
        path = root / "src" / "tools" / f"tool_{i:02d}.ts"
        _write_if_changed(path, tool_source(i))
        entries.append(path)
    return entries


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def ensure_installed(root: Path) -> None:
    """npm-install the pinned packages once; later runs reuse the cache folder."""
    npm_once(root, "install", json.dumps(PACKAGES, sort_keys=True), ", ".join(PACKAGES))


def npm_once(root: Path, verb: str, wanted: str, what: str) -> None:
    """`npm <verb>` in `root` unless the last one was for `wanted` (a marker in node_modules remembers)."""
    marker = root / "node_modules" / ".bench-installed"
    if marker.exists() and marker.read_text() == wanted:
        return
    from bundler.node import node_env, npm_command

    print(f"installing {what} into {root} (once) …", file=sys.stderr)
    subprocess.run(
        [*npm_command(), verb, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        env=node_env(),
        check=True,
        stdout=sys.stderr,
    )  # stdout is for the table
    marker.write_text(wanted)


def esbuild_binary(project: Path) -> str:
    """The esbuild binary the bundler itself picks for this project, so both sides run the same code."""
    from bundler.esbuild import find_esbuild

    return find_esbuild(project).path


def time_once(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ms(action: Callable[[], None], runs: int) -> tuple[float, list[float]]:
    action()  # warm-up: page cache, esbuild's first start, Python imports
    samples = [time_once(action) * 1000 for _ in range(runs)]
    return statistics.median(samples), samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.build", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 timed runs instead of 7")
    parser.add_argument("--runs", type=int, default=None, help="timed runs of each side (default 7, --quick 2)")
    parser.add_argument("--cache", type=Path, default=None, help="where the project and its node_modules live")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 2 if args.quick else 7
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    project = (args.cache or default_cache_dir()) / "build-project"
    project.mkdir(parents=True, exist_ok=True)
    entries = write_project(project)
    ensure_installed(project)
    esbuild = esbuild_binary(project)
    from bundler.build import build_project

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        raw_out, cli_out, lib_out = Path(tmp, "raw"), Path(tmp, "cli"), Path(tmp, "lib")

        def raw() -> None:
            shutil.rmtree(raw_out, ignore_errors=True)
            subprocess.run(
                [
                    esbuild,
                    *map(str, entries),
                    "--bundle",
                    "--platform=node",
                    "--format=cjs",
                    "--target=node20",
                    f"--outdir={raw_out}",
                    "--log-level=warning",
                ],
                cwd=project,
                check=True,
            )

        def cli() -> None:
            shutil.rmtree(cli_out, ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "edge_cli", "build", str(project), "--out", str(cli_out)],
                cwd=project,
                check=True,
                stdout=subprocess.DEVNULL,
            )

        phases: list[dict[str, float]] = []

        def library() -> None:
            shutil.rmtree(lib_out, ignore_errors=True)
            phases.append(build_project(project, out_dir=lib_out).timings_ms)

        def startup() -> None:
            subprocess.run([sys.executable, "-m", "edge_cli", "--help"], check=True, stdout=subprocess.DEVNULL)

        raw_ms, _ = median_ms(raw, args.runs)
        cli_ms, _ = median_ms(cli, args.runs)
        lib_ms, _ = median_ms(library, args.runs)
        startup_ms, _ = median_ms(startup, args.runs)
        raw_bytes = sum(p.stat().st_size for p in raw_out.glob("*.js"))
        ours_bytes = (
            sum(p.stat().st_size for p in (lib_out / "dist").glob("*.js")) if (lib_out / "dist").exists() else 0
        )

    table = Table(
        f"build: {TOOL_COUNT} tools importing {len(PACKAGES)} npm packages (median of {args.runs})",
        ["what", "time", "overhead vs raw esbuild", "ratio", "budget", "met"],
    )
    table.add("raw esbuild CLI (1 process, 20 entries)", fmt_ms(raw_ms), "—", "1.00×", "—", "—")
    table.add(
        "`edge-connector build` (CLI, fresh process)",
        fmt_ms(cli_ms),
        fmt_ms(cli_ms - raw_ms),
        fmt_ratio(cli_ms / raw_ms),
        f"≤ +{OVERHEAD_BUDGET_MS:.0f} ms",
        verdict(cli_ms - raw_ms <= OVERHEAD_BUDGET_MS),
    )
    table.add(
        "`build_project()` (in process)",
        fmt_ms(lib_ms),
        fmt_ms(lib_ms - raw_ms),
        fmt_ratio(lib_ms / raw_ms),
        f"≤ +{OVERHEAD_BUDGET_MS:.0f} ms",
        verdict(lib_ms - raw_ms <= OVERHEAD_BUDGET_MS),
    )
    timed = phases[1:]  # without the warm-up
    breakdown = ", ".join(
        f"{name} {statistics.median(p.get(name, 0.0) for p in timed):.0f} ms" for name in timed[0] if name != "total"
    )
    table.note(f"where `build_project()` spends it (its own timings, median): {breakdown}")
    table.note(f"CLI start alone (`python -m edge_cli --help`): {fmt_ms(startup_ms)}")
    table.note(f"output JS: raw {raw_bytes / 1024:.0f} KiB, ours {ours_bytes / 1024:.0f} KiB; esbuild {esbuild}")
    emit(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
