"""`edge-connector init [DIR] [--template ts|js] [--name N] [--no-install] [--force]`: scaffold a tool project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import typer

from ..console import err, out
from ..errors import CliError, UsageError


def _npm_install(project: Path) -> None:
    from bundler.node import NodeNotFound, node_env, npm_command

    try:
        command = [*npm_command(), "install", "--no-audit", "--no-fund"]
    except NodeNotFound as exc:
        raise CliError(str(exc)) from None
    err.print(f"Running npm install in {project} …", markup=False)
    # npm's own output streams through: it is the user's progress and its errors are npm's to explain.
    done = subprocess.run(command, cwd=project, env=node_env())
    if done.returncode != 0:
        raise CliError(
            f"npm install failed in {project} (exit {done.returncode})",
            f"The project files are in place; fix the npm problem above (network, registry) and run `npm install` in {project}",
        )


def init(
    directory: Path = typer.Argument(Path("."), help="Folder to create the project in.", show_default="."),
    template: str = typer.Option("ts", "--template", help="Project language: ts or js."),
    name: str = typer.Option(None, "--name", help="Bundle name (default: the folder's name)."),
    no_install: bool = typer.Option(False, "--no-install", help="Skip `npm install`."),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty folder (template files are overwritten)."
    ),
) -> None:
    """Scaffold a tool project with one working example tool and its test."""
    from bundler.errors import BuildError
    from bundler.scaffold import TEMPLATES, name_from_folder, scaffold_project

    if template not in TEMPLATES:
        raise UsageError(f"unknown template {template!r}", f"Use --template {' or --template '.join(TEMPLATES)}")
    bundle_name = name or name_from_folder(directory)
    try:
        written = scaffold_project(directory, template, bundle_name, force=force)
    except BuildError as exc:
        raise CliError(exc.message, exc.hint) from None
    out.print(f"Created tool project {bundle_name!r} in {directory} ({len(written)} files, template {template})")
    if not no_install:
        _npm_install(directory)
    cd = "" if directory.resolve() == Path.cwd() else f"cd {directory}\n  "
    install = "npm install\n  " if no_install else ""
    out.print(
        "\nNext steps:\n"
        f"  {cd}{install}npm test                      # run the example tool's test\n"
        "  edge-connector build          # bundle the tools into .edge/build/\n"
        "  edge-connector dev            # local platform + runtime, rebuilds on save",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
