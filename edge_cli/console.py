"""Shared output: rich consoles for data (stdout) and messages (stderr), JSON printing, plain lines.

`rich.console` costs about half of `import typer` at start-up, so the consoles are built on first use:
a command that prints plain lines (`call`, `status`'s error, every one-line failure written to a file or
pipe) never loads it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A `rich.console.Console` built the first time anything of it is used."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The real console (for rich APIs that take one, e.g. `Progress(console=…)`)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


out = LazyConsole(highlight=False, soft_wrap=True)
err = LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def plain_line(text: str, stream: TextIO | None = None) -> None:
    """`text` and a newline exactly as given: no markup, no emoji codes, no wrapping (tool output, timings)."""
    target = stream or sys.stdout
    target.write(text + "\n")
    target.flush()


def wants_colour(stream: TextIO) -> bool:
    """What rich decides for a console on `stream`, for the cases that matter here (NO_COLOR, a terminal)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


#: Select Graphic Rendition codes of the styles `paint` knows.
_SGR = {"bold": "1", "red": "31", "green": "32", "yellow": "33"}


def paint(text: str, style: str, colour: bool) -> str:
    """`text` in `style` (words of `_SGR`, e.g. "bold red") when `colour`, else as it is. Unlike rich markup,
    nothing inside `text` is read as a style, and printing a line of it needs no rich (start-up)."""
    if not colour:
        return text
    codes = ";".join(_SGR[word] for word in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def error_line(message: str) -> None:
    """`Error: message` on stderr, in bold red on a terminal; a pipe or file gets the plain line without rich."""
    if wants_colour(sys.stderr):
        from rich.markup import escape

        err.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)
    else:
        plain_line(f"Error: {message}", sys.stderr)
