"""The body of every refusal of the HTTP API and of the handshake: `{"error": {code, message, ...}}`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fields import Fields


@dataclass(frozen=True, slots=True)
class RestError:
    """The body of every refusal of the HTTP API and of the handshake: `{"error": {code, message, ...}}`."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, data: Any) -> RestError:
        error = Fields.of(Fields.of(data, "body").get("error"), "body.error")
        code, message = error.string("code"), error.text("message")
        return cls(code, message, {k: v for k, v in error.data.items() if k not in ("code", "message")})

    def to_wire(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}
