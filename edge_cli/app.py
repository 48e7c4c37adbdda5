"""The `edge-connector` typer application: wires the command modules and the error policy.

A run registers only the command it invokes (`command_module`); `edge_cli.app.app` has them all."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence

import typer

from . import typer_params
from .console import error_line
from .errors import CliError

typer_params.install()

# One module per top-level command (or command group) of the same name; each exposes `register(app)`.
# `--help` lists the commands, then the groups, each in this order.
COMMAND_MODULES = (
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
)
#: Options of the root that may come before the command name; all of them flags (take no value).
ROOT_FLAGS = ("--debug",)


def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors.", envvar="EC_DEBUG"),
) -> None:
    if debug:
        os.environ["EC_DEBUG"] = "1"


def build_app(modules: Iterable[str] = COMMAND_MODULES) -> typer.Typer:
    """The typer application with the commands of `modules` registered."""
    cli = typer.Typer(
        name="edge-connector",
        help="Build, publish and run AI-agent tools at the edge.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Click's plain help formatter: typer's rich one loads rich's markdown, syntax and traceback
        # renderers (about twice `import typer` again) before printing a line of help.
        rich_markup_mode=None,
    )
    cli.callback()(_root)
    for name in modules:
        # `__import__`, not `importlib.import_module`: `python -X importtime` does not see the latter.
        __import__(f"edge_cli.commands.{name}", fromlist=["register"]).register(cli)
    return cli


def command_module(args: Sequence[str]) -> str | None:
    """The one command module that `args` (argv after the program name) runs, or None when every command
    is needed: no command (the root's help), or a name that is not a command (click's "No such command"
    and its suggestions). Importing and introspecting all of them costs every command ~50 ms at start-up.
    """
    rest = list(args)
    while rest and rest[0] in ROOT_FLAGS:
        rest.pop(0)
    return rest[0] if rest and rest[0] in COMMAND_MODULES else None


def __getattr__(name: str) -> typer.Typer:
    """`edge_cli.app.app`: the application with every command (the CLI reference, tests), built on first use."""
    if name == "app":
        full = build_app(COMMAND_MODULES)
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry: run the app, turning explained failures into one line and an exit code."""
    try:
        # In non-standalone mode click returns typer.Exit's code instead of exiting.
        command = command_module(sys.argv[1:])
        cli = build_app([command] if command else COMMAND_MODULES)
        code = cli(standalone_mode=False)
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
