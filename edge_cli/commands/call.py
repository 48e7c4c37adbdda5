"""`edge-connector call TOOL [JSON]`: call a tool through the platform, as an agent would."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ..console import plain_line, print_json
from ..errors import CliError, UsageError
from ..options import JSON_OPTION, PLATFORM_OPTION, PROJECT_OPTION

#: Refusals that are about the token, not the tool: reported in the troubleshooting page's words.
_AUTH_CODES = {"unauthenticated", "token_expired", "token_invalid", "no_organization", "user_token_required"}


def parse_arguments(text: str | None) -> object:
    if text is None or not text.strip():
        return {}
    if text.strip() == "-":
        text = sys.stdin.read()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"The arguments are not valid JSON ({exc})", 'Pass an object, e.g. \'{"city": "Paris"}\''
        ) from None


def call(
    tool: str = typer.Argument(..., help="Tool name."),
    arguments: str = typer.Argument(None, metavar="[JSON]", help="Arguments as a JSON object ('-' reads stdin)."),
    deployment: str = typer.Option(None, "--deployment", help="Call this deployment's connector only."),
    timeout: float = typer.Option(None, "--timeout", min=0.001, help="Deadline in seconds."),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Call a tool through the platform and print its output; a tool error prints its code and message, exit 1."""
    from ..client import connect

    body: dict = {"arguments": parse_arguments(arguments)}
    if deployment:
        body["deploymentId"] = deployment
    if timeout is not None:
        body["timeoutMs"] = max(1, int(timeout * 1000))
    http_timeout = (timeout or 30.0) + 30.0  # the platform answers tool_timeout itself; never cut it off first
    with connect(platform, project or Path.cwd(), dev=True) as client:
        # Never retried past a refused connection: a tool call must not run twice.
        status, result = client.request_raw("POST", f"/api/tools/{tool}/call", json=body, timeout=http_timeout)
    if status >= 400:
        raise _failure(status, result, client.url, as_json)
    if as_json:
        print_json(result)
        return
    output = result.get("output") if isinstance(result, dict) else result
    text = output if isinstance(output, str) else json.dumps(output, indent=2, ensure_ascii=False)
    # Plain lines, as the tool answered them (no markup, emoji codes or wrapping; no rich at start-up).
    plain_line(text)
    plain_line(f"({result.get('durationMs')} ms on {result.get('deploymentId')})", sys.stderr)


def _failure(status: int, body: object, url: str, as_json: bool) -> CliError:
    from ..client import refusal_to_cli_error

    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") in _AUTH_CODES:
        return refusal_to_cli_error(status, body, url)
    if as_json:
        print_json(body)
    code = error.get("toolCode") or error.get("code") or f"HTTP {status}"
    message = str(error.get("message") or "").rstrip(".")
    details = error.get("details")
    suffix = f" — details: {json.dumps(details, ensure_ascii=False)}" if details not in (None, {}, []) else ""
    return CliError(f"Tool call failed: {code}: {message}{suffix}")


def register(app: typer.Typer) -> None:
    app.command("call")(call)
