"""The `edge-connector` typer application: wires the command modules and the error policy."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from . import typer_params
from .console import error_line
from .errors import CliError

typer_params.install()

app = typer.Typer(
    name="edge-connector",
    help="Build, publish and run AI-agent tools at the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help formatter: typer's rich one loads rich's markdown, syntax and traceback
    # renderers (about twice `import typer` again) before printing a line of help.
    rich_markup_mode=None,
)

# One module per command (or command group); each exposes `register(app)`.
COMMAND_MODULES = [
    "init",
    "build",
    "upload",
    "bundle",
    "deployment",
    "org",
    "auth",
    "start",
    "status",
    "call",
    "dev",
    "platform",
    "sim",
    "autostart",
    "mcp",
    "tail",
    "secret",
]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.", envvar="EC_DEBUG"),
) -> None:
    if debug:
        os.environ["EC_DEBUG"] = "1"


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edge_cli.commands.{name}")
        module.register(app)


_register_commands()


def main() -> None:
    """Console-script entry: run the app, turning explained failures into one line and an exit code."""
    try:
        # In non-standalone mode click returns typer.Exit's code instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except CliError as exc:
        if os.environ.get("EC_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        error_line(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's usage errors and aborts come here in non-standalone mode
        import click

        # typer >= 0.29 raises its vendored copy of click's exceptions (typer._click), not click's own.
        flavours = [click.exceptions]
        try:
            from typer._click import exceptions as typer_click_exceptions

            flavours.append(typer_click_exceptions)
        except ImportError:
            pass
        for flavour in flavours:
            if isinstance(exc, flavour.ClickException):
                exc.show()
                sys.exit(exc.exit_code)
            if isinstance(exc, flavour.Abort):
                sys.exit(1)
            if isinstance(exc, flavour.Exit):
                sys.exit(exc.exit_code)
        if os.environ.get("EC_DEBUG") == "1":
            raise
        error_line(
            f"{type(exc).__name__}: {exc}. Run again with --debug to see the traceback, and report it if it persists."
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
