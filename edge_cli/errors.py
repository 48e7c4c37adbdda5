"""How every command fails: one clear sentence plus what to do, exit 1; no traceback unless --debug."""

from __future__ import annotations


class CliError(Exception):
    """A failure the command explains. `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


class UsageError(CliError):
    """Wrong arguments: exit 2, like typer's own usage errors."""

    exit_code = 2
