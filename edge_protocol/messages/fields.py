"""Reading one JSON object of a message: each reader returns the typed value or raises `InvalidMessage`
naming the field (`tools/call.timeoutMs`), so every `from_wire` states its checks once, in one line a field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from .. import jsonrpc


class InvalidMessage(jsonrpc.ProtocolError):
    """A message whose params or result break the contract; `field` names the culprit (`tools/call.timeoutMs`)."""

    def __init__(self, field: str, problem: str, request_id: Any = None) -> None:
        super().__init__(jsonrpc.INVALID_PARAMS, f"Invalid params: {field} {problem}", request_id)
        self.field = field


class Fields:
    """The fields of one JSON object at `where` (`connector.hello`, `tools/call result.bundle`)."""

    __slots__ = ("data", "where")

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    @classmethod
    def of(cls, value: Any, where: str) -> Fields:
        if not isinstance(value, dict):
            raise InvalidMessage(where, "must be an object")
        return cls(value, where)

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def at(self, key: str) -> str:
        """The name of a nested value, for the `where` of the model that reads it."""
        return f"{self.where}.{key}"

    def fail(self, key: str, problem: str) -> NoReturn:
        raise InvalidMessage(self.at(key), problem)

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            self.fail(key, "must be a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.string(key)

    def text(self, key: str) -> str:
        """Any string, the empty one too (a message, a description)."""
        value = self.data.get(key)
        if not isinstance(value, str):
            self.fail(key, "must be a string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.text(key)

    def choice(self, key: str, choices: Sequence[str]) -> str:
        value = self.string(key)
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}")
        return value

    def integer(self, key: str, minimum: int | None = 1) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "must be an integer" if minimum is None else f"must be an integer ≥ {minimum}")
        if minimum is not None and value < minimum:
            self.fail(key, f"must be an integer ≥ {minimum}")
        return value

    def optional_integer(self, key: str, minimum: int = 1) -> int | None:
        return None if self.data.get(key) is None else self.integer(key, minimum)

    def optional_number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(key, "must be a non-negative number")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def optional_schema(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(key, "must be a JSON Schema object")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list):
            self.fail(key, "must be a list")
        return value

    def optional_items(self, key: str) -> list[Any]:
        """A list that may be left out (then empty)."""
        return [] if self.data.get(key) is None else self.items(key)
