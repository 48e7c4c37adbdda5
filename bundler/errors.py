"""The one exception type of the bundler: what went wrong, and what to do about it."""

from __future__ import annotations


class BuildError(Exception):
    """A build that cannot finish. `message` may hold several lines (one per esbuild error); `hint` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Hints read as their own sentence after the message ("… is missing. Create it with …").
        self.hint = hint[:1].upper() + hint[1:] if hint else hint

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message
