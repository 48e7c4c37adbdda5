"""`edge-connector build [DIR] [--out DIR] [--json]`: bundle the tools, print sizes and the checksum."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..console import err, paint, plain_line, print_json, wants_colour
from ..errors import CliError

if TYPE_CHECKING:  # imported where used, so that `--help` stays light
    from bundler.build import BuildResult


def run_build(project_dir: Path, out_dir: Path | None = None) -> BuildResult:
    """Build, turning a `BuildError` into the CLI's one-line failure (also used by `upload` and `dev`)."""
    from bundler.errors import BuildError
    from bundler.index_server import IndexServer

    try:
        # Node.js (the indexer) boots while the rest of the build's code is imported.
        with IndexServer().started() as indexer:
            from bundler.build import build_project

            return build_project(
                project_dir, out_dir, announce=lambda line: err.print(line, markup=False), indexer=indexer
            )
    except BuildError as exc:
        raise CliError(exc.message, exc.hint) from None


def print_result(result: BuildResult) -> None:
    """The tools as aligned columns, then the archive and checksum: plain lines (no rich: its import
    would cost a build about as much as bundling a small tool)."""
    from bundler.size_report import human_bytes

    colour = wants_colour(sys.stdout)
    rows = [("Tool", "Source", "Entry", "Size")]
    rows += [(t.name, t.source, t.entry, human_bytes(t.size)) for t in result.tools]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [paint(f"Bundle {result.manifest.bundle}", "bold", colour)]
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=False)] + [row[3].rjust(widths[3])]
        line = "  " + "  ".join(cells)
        lines.append(paint(line, "bold", colour) if index == 0 else line)
    lines += [
        f"Archive   {result.archive_path} ({human_bytes(result.archive_size)}, {result.archive_size:,} bytes)",
        f"Checksum  {result.checksum}",
        f"Asks for  {result.manifest.sandbox.summary()}",
    ]
    plain_line("\n".join(lines))


def build(
    directory: Path = typer.Argument(Path("."), help="The tool project folder.", show_default="."),
    out_dir: Path = typer.Option(None, "--out", help="Output folder (default: DIR/.edge/build)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (with the archive path)."),
) -> None:
    """Bundle every tool with esbuild, index the definitions, write dist/ + manifest.json and pack the archive."""
    result = run_build(directory, out_dir)
    if as_json:
        print_json(result.to_json())
    else:
        print_result(result)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
