"""`edge-connector auth --browser | --token T | status | logout`: get, show and forget the CLI's token."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from ..console import err, out, print_json
from ..errors import CliError, UsageError

#: How long `auth --browser` waits for the browser to come back (EC_AUTH_TIMEOUT shortens it for tests).
DEFAULT_LOGIN_TIMEOUT = 300.0

auth_app = typer.Typer(help="Log in to the platform, show or forget the saved token.", no_args_is_help=False)


def _interactive() -> bool:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        return False
    return sys.stdin.isatty()


def can_open_a_browser() -> bool:
    """Only with a desktop (or an explicit $BROWSER): on a bare Linux console, `webbrowser` would start a
    text browser such as lynx in this very terminal, taking it over while we wait for the callback."""
    if os.environ.get("BROWSER") or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@auth_app.callback(invoke_without_command=True)
def auth(
    ctx: typer.Context,
    browser: bool = typer.Option(
        False, "--browser", help="Sign in in the browser; the token comes back to a loopback callback."
    ),
    token: str = typer.Option(
        None,
        "--token",
        help="Save a token: `--token -` reads it from stdin (keeps it out of shell history and `ps`); a literal token also works. Checked for shape, expiry and organization first.",
    ),
    callback_port: int = typer.Option(
        0, "--callback-port", min=0, max=65535, help="Fixed port for the loopback callback (for SSH port forwarding)."
    ),
    no_open: bool = typer.Option(False, "--no-open", help="Only print the sign-in URL; do not open a browser."),
    platform: str = typer.Option(
        None, "--platform", help="Platform URL (default: EDGE_PLATFORM_URL, edge.json, saved, http://127.0.0.1:8000)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Log in: `auth --browser`, or `auth --token -` with the token on stdin; see also `auth status` and `auth logout`."""
    from ..client import resolve_platform_url

    if ctx.invoked_subcommand is not None:
        return
    if browser and token:
        raise UsageError("Use either --browser or --token, not both")
    url = resolve_platform_url(platform, Path.cwd())
    if token == "-":
        _save_checked(_token_from_stdin(), url, as_json)
    elif token:
        _save_checked(token.strip(), url, as_json)
    elif browser:
        _browser_login(url, callback_port, open_browser=not no_open, as_json=as_json)
    else:
        out.print(ctx.get_help())
        raise typer.Exit(2)


def _token_from_stdin() -> str:
    """`--token -`: piped in, or typed at a prompt that does not echo."""
    if sys.stdin.isatty():
        value = typer.prompt("Token", hide_input=True, err=True)
    else:
        value = sys.stdin.read()
    value = value.strip()
    if not value:
        raise CliError("No token on stdin", "Pipe it in: edge-connector auth --token - < token.txt")
    return value


def _save_checked(token: str, url: str, as_json: bool) -> None:
    from ..client import ENV_TOKEN, save_token
    from ..jwt_claims import check_usable, read_claims

    info = read_claims(token)
    check_usable(info)
    path = save_token(token, url)
    if as_json:
        print_json(
            {
                "saved": str(path),
                "sub": info.sub,
                "orgId": info.org_id,
                "expiresAt": info.expiry_iso(),
                "platformUrl": url,
            }
        )
    else:
        out.print(f"Logged in as {info.sub} (organization {info.org_id}), token valid until {info.expiry_iso()}.")
        out.print(f"Saved to {path} (mode 0600) for {url}.")
    if os.environ.get(ENV_TOKEN):
        err.print(f"Note: {ENV_TOKEN} is set and overrides the saved token.")


def _browser_login(url: str, callback_port: int, open_browser: bool, as_json: bool) -> None:
    from ..browser_login import CallbackServer, LoginTimeout
    from ..client import ENV_TOKEN, PlatformClient

    if not _interactive():
        raise CliError(
            "auth --browser needs an interactive terminal (no TTY, or CI=true)",
            f"Non-interactive ways: edge-connector auth --token - (the token on stdin), or set {ENV_TOKEN} in the environment",
        )
    with PlatformClient(url) as platform:
        platform.get("/healthz")  # a platform that is down fails now, not after five minutes of waiting
    import secrets  # here and below: `--help` need not load them
    import webbrowser
    from urllib.parse import urlencode

    state = secrets.token_urlsafe(24)
    timeout = float(os.environ.get("EC_AUTH_TIMEOUT", DEFAULT_LOGIN_TIMEOUT))
    try:
        server = CallbackServer(state, port=callback_port)
    except OSError as exc:
        raise CliError(
            f"Cannot listen for the login callback on 127.0.0.1:{callback_port} ({exc.strerror or exc})",
            "Choose another --callback-port, or leave it out to use any free port",
        ) from None
    with server:
        login_url = f"{url}/login?" + urlencode({"callback": server.callback_url, "state": state})
        err.print("Open this URL to sign in (your browser should open it now):", markup=False)
        err.print(f"  {login_url}", markup=False, soft_wrap=True)
        err.print(
            "Browser on another machine (SSH, WSL)? Forward the callback port (ssh -L "
            f"{server.port}:127.0.0.1:{server.port} …, and use --callback-port to fix it), or choose "
            "'Show a token to paste instead' on the page and run edge-connector auth --token - (then paste it).",
            markup=False,
        )
        if open_browser and can_open_a_browser():
            try:
                webbrowser.open(login_url)
            except Exception:  # a missing browser is fine: the URL is printed above
                pass
        try:
            token = server.wait(timeout)
        except LoginTimeout:
            raise CliError(
                f"Timed out after {timeout:.0f} seconds waiting for the browser sign-in",
                "Run edge-connector auth --browser again, or use edge-connector auth --token <token>",
            ) from None
    _save_checked(token, url, as_json)


@auth_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Show the token the CLI would use: where it comes from, subject, organization, expiry."""
    from ..client import load_token, resolve_platform_url
    from ..jwt_claims import check_usable, read_claims

    stored = load_token()
    info = read_claims(stored.token)
    url = resolve_platform_url(None, Path.cwd())
    data = {
        "source": stored.source,
        "sub": info.sub,
        "orgId": info.org_id,
        "orgs": info.orgs,
        "deploymentId": info.deployment_id,
        "expiresAt": info.expiry_iso(),
        "expired": info.expired(),
        "platformUrl": url,
    }
    if as_json:
        print_json(data)
    else:
        out.print(f"Subject       {info.sub}")
        out.print(f"Organization  {info.org_id or '(none)'}")
        out.print(f"Expires       {info.expiry_iso() or '(never)'}{'  (expired)' if info.expired() else ''}")
        out.print(f"Token from    {stored.source}")
        out.print(f"Platform      {url}")
    check_usable(info)


@auth_app.command("logout")
def logout(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Delete the saved token file."""
    from ..client import ENV_TOKEN, delete_token_file, token_file_path

    removed = delete_token_file()
    if as_json:
        print_json({"removed": str(removed) if removed else None})
    elif removed:
        out.print(f"Logged out: removed {removed}.")
    else:
        out.print(f"No saved token at {token_file_path()}; nothing to do.")
    if os.environ.get(ENV_TOKEN):
        err.print(f"Note: {ENV_TOKEN} is still set in this environment and will keep being used.")


def register(app: typer.Typer) -> None:
    app.add_typer(auth_app, name="auth")
