"""Messages that keep the link itself going: liveness (`connector.ping`), draining, a changed set of
secrets to fetch (SPEC.md §11, §14) and a fresh token on the open link (`connector.reauth`, SPEC.md §16)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jsonrpc
from .fields import Fields


@dataclass(frozen=True, slots=True)
class _Empty:
    """A notification without content (`{}`); extra keys are ignored, so it may grow later."""

    METHOD: ClassVar[str] = ""

    @classmethod
    def from_wire(cls, data: Any) -> Any:
        Fields.of(data, cls.METHOD)
        return cls()

    def to_wire(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class SecretsUpdated(_Empty):
    """Platform → connector (SPEC.md §11): this deployment's effective secrets changed; fetch them."""

    METHOD: ClassVar[str] = jsonrpc.SECRETS_UPDATED


@dataclass(frozen=True, slots=True)
class ConnectorDraining(_Empty):
    """Connector → platform (SPEC.md §14): send me no new calls; the ones in flight finish."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_DRAINING


@dataclass(frozen=True, slots=True)
class ConnectorPing(_Empty):
    """Platform → connector request (SPEC.md §14): are you there? The result is `{}`; any answer,
    even an error from a connector that does not know it, proves the link is alive."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_PING


@dataclass(frozen=True, slots=True)
class ReauthParams:
    """Connector → platform request (SPEC.md §16): a fresh token for the open link."""

    METHOD: ClassVar[str] = jsonrpc.CONNECTOR_REAUTH

    token: str

    def __repr__(self) -> str:  # a token never reaches a log line through a repr
        return "ReauthParams(token=<redacted>)"

    @classmethod
    def from_wire(cls, data: Any) -> ReauthParams:
        return cls(Fields.of(data, cls.METHOD).string("token"))

    def to_wire(self) -> dict[str, Any]:
        return {"token": self.token}


@dataclass(frozen=True, slots=True)
class ReauthResult:
    """The answer to `connector.reauth`: the link now lives until `expires_at` (Unix seconds)."""

    expires_at: int

    @classmethod
    def from_wire(cls, data: Any) -> ReauthResult:
        return cls(Fields.of(data, f"{jsonrpc.CONNECTOR_REAUTH} result").integer("expiresAt"))

    def to_wire(self) -> dict[str, Any]:
        return {"expiresAt": self.expires_at}
