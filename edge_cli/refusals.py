"""A platform's refusal or a failed connection in the words of the troubleshooting page, with what to do."""

from __future__ import annotations

from typing import Any

import httpx

from edge_protocol import tokens
from edge_runtime.tls import CertificateNotTrusted, certificate_problem

from .errors import CliError

REAUTH_HINT = "Re-authenticate with edge-connector auth --browser or edge-connector auth --token <new-token>"
NO_ORG_HINT = (
    "The JWT must contain an orgId claim or an orgs map. Log in to an organization "
    "(edge-connector auth --browser) and generate a new token"
)


def refusal_to_cli_error(status: int, body: Any, url: str) -> CliError:
    """A platform refusal in the words of the troubleshooting page, with what to do."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if code == tokens.CODE_TOKEN_EXPIRED:
        return CliError(tokens.TOKEN_EXPIRED, REAUTH_HINT)
    if code == tokens.CODE_UNAUTHENTICATED:
        return CliError(
            f"{tokens.NO_TOKEN}: the platform at {url} got no token",
            "Run edge-connector auth --browser, or edge-connector auth --token <token>",
        )
    if code == tokens.CODE_TOKEN_INVALID:
        return CliError(
            message or tokens.TOKEN_INVALID_PREFIX.rstrip(": "),
            f"Was it issued by the platform at {url}? {REAUTH_HINT}",
        )
    if code == tokens.CODE_NO_ORGANIZATION:
        return CliError(tokens.NO_ORGANIZATION, NO_ORG_HINT)
    if code == "user_token_required":
        return CliError(
            message or "This needs a user token",
            "Log in as a person (edge-connector auth --browser); deployment tokens only sync bundles",
        )
    if status == 413:
        return CliError(
            message or "Bundle too large for the platform (50 MB)",
            "Reduce inlined dependencies or split the tools across bundles",
        )
    if message:
        return CliError(f"{message.rstrip('.')} ({code or status})")
    return CliError(f"The platform at {url} answered HTTP {status}", "Check the platform's log")


def network_error(exc: httpx.HTTPError, url: str) -> CliError:
    untrusted = certificate_problem(exc)
    if untrusted is not None:
        refused = CertificateNotTrusted(url, untrusted.verify_message or str(untrusted))
        return CliError(refused.problem, refused.HINT)
    if isinstance(exc, httpx.ConnectError):
        return CliError(
            f"Connection refused (ECONNREFUSED): cannot reach the platform at {url}",
            "Is the platform running? Start it with edge-connector platform serve, "
            "or point --platform / EDGE_PLATFORM_URL at it",
        )
    if isinstance(exc, httpx.TimeoutException):
        return CliError(
            f"The platform at {url} did not answer in time ({type(exc).__name__})",
            "Check that it is running and reachable, then try again",
        )
    return CliError(
        f"Lost the connection to the platform at {url} ({type(exc).__name__})",
        "Check the network and the platform, then try again",
    )
