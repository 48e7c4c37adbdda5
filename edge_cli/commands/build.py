"""`edge-connector build [DIR] [--out DIR] [--json]`: bundle the tools, print sizes and the checksum."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..console import err, out, print_json
from ..errors import CliError

if TYPE_CHECKING:  # imported where used, so that `--help` stays light
    from bundler.build import BuildResult


def run_build(project_dir: Path, out_dir: Path | None = None) -> BuildResult:
    """Build, turning a `BuildError` into the CLI's one-line failure (also used by `upload` and `dev`)."""
    from bundler.build import build_project
    from bundler.errors import BuildError

    try:
        return build_project(project_dir, out_dir, announce=lambda line: err.print(line, markup=False))
    except BuildError as exc:
        raise CliError(exc.message, exc.hint) from None


def print_result(result: BuildResult) -> None:
    from rich.table import Table

    from bundler.size_report import human_bytes

    table = Table(title=f"Bundle {result.manifest.bundle}", title_justify="left")
    table.add_column("Tool")
    table.add_column("Source")
    table.add_column("Entry")
    table.add_column("Size", justify="right")
    for tool in result.tools:
        table.add_row(tool.name, tool.source, tool.entry, human_bytes(tool.size))
    out.print(table)
    out.print(f"Archive   {result.archive_path} ({human_bytes(result.archive_size)}, {result.archive_size:,} bytes)")
    out.print(f"Checksum  {result.checksum}")
    out.print(f"Asks for  {result.manifest.sandbox.summary()}", markup=False)


def _warm_table_printer() -> None:
    """Import rich's console and table on a thread while the build's subprocesses (esbuild, Node.js) run:
    the import costs about as much as the rest of the command's start-up, and the main thread is mostly
    waiting meanwhile. Python serialises imports, so a print that comes first simply waits for it."""
    import threading

    def load() -> None:
        import rich.console
        import rich.table  # noqa: F401

    threading.Thread(target=load, name="warm-rich", daemon=True).start()


def build(
    directory: Path = typer.Argument(Path("."), help="The tool project folder.", show_default="."),
    out_dir: Path = typer.Option(None, "--out", help="Output folder (default: DIR/.edge/build)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (with the archive path)."),
) -> None:
    """Bundle every tool with esbuild, index the definitions, write dist/ + manifest.json and pack the archive."""
    if not as_json:
        _warm_table_printer()
    result = run_build(directory, out_dir)
    if as_json:
        print_json(result.to_json())
    else:
        print_result(result)


def register(app: typer.Typer) -> None:
    app.command("build")(build)
