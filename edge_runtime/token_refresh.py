"""A client-credentials link refreshes its token in band before each expiry (`connector.reauth`,
SPEC.md §16), so no call fails at the hour the token runs out."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from .auth import AuthProblem, ClientCredentials
from .connection import Failure
from .session import ReauthFailed, Session

log = logging.getLogger("edge_runtime")

#: Pause before trying again when the credentials exchange for an in-band refresh fails.
REFRESH_RETRY_SECONDS = 2.0


async def serve_refreshing(session: Session, auth: ClientCredentials) -> Failure:
    """Serve the link while refreshing its token in band before each expiry."""
    async with asyncio.TaskGroup() as tasks:
        refresher = tasks.create_task(refresh_in_band(session, auth), name="token-refresh")
        try:
            return await session.serve()
        finally:
            refresher.cancel()


async def refresh_in_band(session: Session, auth: ClientCredentials) -> None:
    while True:
        await asyncio.sleep(auth.seconds_until_refresh())
        try:
            token = await auth.token()  # due: exchanges the credentials for a fresh token
        except AuthProblem as problem:
            log.warning(
                "Cannot refresh the deployment token: %s; retrying in %.0fs", problem.message, REFRESH_RETRY_SECONDS
            )
            await asyncio.sleep(REFRESH_RETRY_SECONDS)
            continue
        try:
            expires_at = await session.reauth(token)
        except ReauthFailed as exc:
            log.warning(
                "The platform did not take the refreshed token on the open link (%s); the link ends "
                "when the current token expires and the runtime reconnects",
                exc,
            )
            return
        log.info(
            "Refreshed the deployment token on the open link; valid until %s",
            datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
