"""Delivery of tool secrets to this connector (SPEC.md §11).

After each connect, and at once on `secrets.updated`, the runtime asks the platform for its
deployment's effective secrets (`GET /api/deployments/{id}/secrets`, with its deployment token) and
hands them to the executor, which replaces its workers like in a swap: new calls see the new values,
calls in flight finish on the old workers. Values live in memory only; each one is registered with the
log redactor before anything else happens to it. `/statusz` shows names and times, never values.

Only a deployment token may read values (no route returns one to a user token). A runtime started with
a user token therefore has no secrets; this is said once in the log, with the fix.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import httpx

from edge_protocol.routes import deployment_secrets_path

from .logs import register_secret
from .platform_errors import error_body

#: How long to wait before retrying a failed fetch (a push or the next connect also retries at once).
RETRY_SECONDS = 5.0


class SecretsTarget(Protocol):
    async def set_secrets(self, secrets: dict[str, str]) -> bool: ...


class SecretsFetchError(Exception):
    """The platform did not hand over the secrets; the message says why, without any value."""


def parse_secrets(body: Any) -> dict[str, str]:
    """`{"secrets": {NAME: value}}` -> the mapping; anything else is refused without echoing it."""
    secrets = body.get("secrets") if isinstance(body, dict) else None
    if not isinstance(secrets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise SecretsFetchError('the platform\'s answer is not {"secrets": {NAME: value}}')
    return dict(secrets)


class SecretsSync:
    def __init__(
        self,
        http: httpx.AsyncClient,
        token_provider: Callable[[], Awaitable[str]],
        deployment_id: Callable[[], str | None],
        target: SecretsTarget,
        logger: logging.Logger,
    ) -> None:
        self.http = http
        self.token_provider = token_provider
        self.deployment_id = deployment_id
        self.target = target
        self.logger = logger
        self._trigger = asyncio.Event()
        self._reasons: list[str] = []
        self._lock = asyncio.Lock()
        self._told_user_token = False
        # What /statusz shows (names only)
        self.names: list[str] = []
        self.fetched_at: float | None = None
        self.last_error: str | None = None
        self.fetches = 0

    def request(self, reason: str) -> None:
        """Fetch as soon as possible (after a connect, on `secrets.updated`)."""
        self._reasons.append(reason)
        self._trigger.set()

    async def run(self) -> None:
        """Fetch on every trigger until cancelled; a failed fetch is retried after RETRY_SECONDS."""
        while True:
            await self._trigger.wait()
            if not await self.fetch_now() and self.last_error is not None:
                try:
                    await asyncio.wait_for(self._trigger.wait(), RETRY_SECONDS)
                except TimeoutError:
                    self._reasons.append("retry")
                    self._trigger.set()

    async def fetch_now(self) -> bool:
        """One fetch for every trigger gathered so far; True when the secrets were applied."""
        async with self._lock:
            self._trigger.clear()
            reasons, self._reasons = self._reasons, []
            try:
                secrets = await self._fetch()
            except SecretsFetchError as exc:
                self.last_error = str(exc)
                self.logger.error("Tool secrets not updated: %s", exc)
                return False
            if secrets is None:
                return False
            applied = await self.target.set_secrets(secrets)
            self.fetches += 1
            self.names = sorted(secrets)
            self.fetched_at = time.time()
            self.last_error = None if applied else "new tool workers did not start; the previous ones keep serving"
            self.logger.info(
                "Tool secrets updated (%s): %d names%s",
                ", ".join(dict.fromkeys(reasons)) or "request",
                len(secrets),
                f": {', '.join(self.names)}" if self.names else "",
            )
            return applied

    async def _fetch(self) -> dict[str, str] | None:
        deployment_id = self.deployment_id()
        if not deployment_id:
            self._user_token_once("this runtime has no deployment")
            return None
        try:
            token = await self.token_provider()
            response = await self.http.get(
                deployment_secrets_path(deployment_id), headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise SecretsFetchError(f"could not reach the platform ({type(exc).__name__})") from None
        except Exception as exc:  # the token source's own problems (expired, refused) are logged by the link
            raise SecretsFetchError(f"no token to fetch them with ({exc})") from None
        if response.status_code == 403 and error_body(response.content)[0] == "deployment_token_required":
            self._user_token_once("it connects with a user token")
            return None
        if response.status_code != 200:
            raise SecretsFetchError(
                f"the platform answered HTTP {response.status_code} {error_body(response.content)[0] or ''}".rstrip()
            )
        try:
            secrets = parse_secrets(response.json())
        except ValueError:
            raise SecretsFetchError("the platform's answer is not JSON") from None
        for value in secrets.values():
            register_secret(value)  # before anything else can log or raise with it
        return secrets

    def _user_token_once(self, why: str) -> None:
        if not self._told_user_token:
            self._told_user_token = True
            self.logger.warning(
                "Tool secrets are not delivered because %s: secrets reach only a connector that runs with its "
                "deployment credentials (set DEPLOYMENT_ID and DEPLOYMENT_SECRET; see docs/secrets.md)",
                why,
            )

    def status(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "fetchedAt": _iso(self.fetched_at),
            "fetches": self.fetches,
            "lastError": self.last_error,
        }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
