"""Sign-in and tokens: dev-login, the browser `/login` page, dev tokens, `/api/me`, `/oauth/token`."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .auth import Principal, bearer_token, current_user
from .config import is_loopback
from .errors import ApiError
from .models import (
    AUTH_ERRORS,
    EMAIL_PATTERN,
    DevLoginRequest,
    DevTokenRequest,
    MeResponse,
    OAuthTokenResponse,
    TokenResponse,
    error_responses,
)
from .oauth_token import NO_STORE, exchange
from .store import NotAMember

router = APIRouter()


def _platform(request: Request):
    return request.app.state.platform


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def not_a_member(org_id: str) -> ApiError:
    return ApiError(
        403, "not_a_member", f"You are not a member of organization {org_id}; ask one of its owners to invite you"
    )


def _user_token(request: Request, email: str, org_id: str | None) -> TokenResponse:
    platform = _platform(request)
    try:
        sub, org, orgs = platform.store.sign_in(email, org_id)
    except NotAMember as refused:
        raise not_a_member(refused.org_id) from None
    ttl = platform.config.user_token_ttl_seconds
    token = platform.tokens.issue(sub, org_id=org, orgs=orgs, expires_in=ttl)
    return TokenResponse(token=token, expiresAt=_iso(platform.tokens.decode(token).exp))


def require_dev_mode(request: Request) -> None:
    if not _platform(request).config.dev:
        raise ApiError(404, "not_found", "Dev routes are off; start the platform with --dev")


@router.post(
    "/api/auth/dev-login", response_model=TokenResponse, tags=["auth"], responses=error_responses(403, 404, 422)
)
def dev_login(body: DevLoginRequest, request: Request) -> TokenResponse:
    """Open, dev mode only. Creates the user (and the organization if new) and returns a user token;
    an existing organization admits only its members and invitees (403 `not_a_member`)."""
    require_dev_mode(request)
    return _user_token(request, body.email, body.orgId)


@router.post("/api/dev/tokens", response_model=TokenResponse, tags=["auth"], responses=error_responses(404, 422))
def mint_dev_token(body: DevTokenRequest, request: Request) -> TokenResponse:
    """Open, dev mode only. Mints any token: expired (negative `expiresIn`), org-less, deployment tokens."""
    require_dev_mode(request)
    platform = _platform(request)
    token = platform.tokens.issue(
        body.sub, org_id=body.orgId, orgs=body.orgs, expires_in=body.expiresIn, deployment_id=body.deploymentId
    )
    now = int(datetime.now(UTC).timestamp())
    return TokenResponse(token=token, expiresAt=_iso(now + body.expiresIn))


@router.get("/api/me", response_model=MeResponse, tags=["auth"], responses=error_responses(*AUTH_ERRORS))
def me(request: Request, principal: Annotated[Principal, Depends(current_user)]) -> MeResponse:
    """Who the token says you are (a user token)."""
    claims = _platform(request).tokens.verify(bearer_token(request))  # already accepted: only read here
    return MeResponse(
        sub=principal.sub,
        orgId=principal.org_id,
        orgs=claims.orgs or {principal.org_id: "member"},
        deploymentId=principal.deployment_id,
        expiresAt=_iso(claims.exp),
    )


@router.post("/oauth/token", response_model=OAuthTokenResponse, tags=["auth"], responses=error_responses(400, 401, 429))
async def oauth_token(
    request: Request,
    grant_type: Annotated[str, Form(json_schema_extra={"enum": ["client_credentials"]})],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> Response:
    """Open. Client credentials (DEPLOYMENT_ID / DEPLOYMENT_SECRET, in the form or HTTP Basic) → deployment token.

    Usually answered by `oauth_token.TokenFastPath` with the same `exchange`; this route reads the rest."""
    body = exchange(
        _platform(request),
        request.app.state.oauth_limits,
        request.client.host if request.client else "",
        time.monotonic(),
        grant_type,
        client_id,
        client_secret,
        request.headers.get("authorization", ""),
    )
    return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)


# ------------------------------------------------------------------------------------ browser flow
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = r"([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: What `is_loopback_callback` accepts (or empty: no callback), as the OpenAPI document states it;
#: other URLs get a 400 page.
LOOPBACK_CALLBACK_PATTERN = (
    rf"^(http://(localhost|127\.{_OCTET}\.{_OCTET}\.{_OCTET}|\[::1\])(:{_PORT})?"
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?)?$"
)


def is_loopback_callback(url: str) -> bool:
    """Only `http://127.0.0.1|[::1]|localhost:PORT/...`: a token must never be sent off the machine."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme != "http" or not host:
        return False
    return is_loopback(host)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · edge-connector mock platform</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #1b1f24; }}
 label {{ display: block; margin: .8rem 0 .2rem; font-weight: 600; }}
 input[type=text], input[type=email] {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
 button {{ margin: 1rem .5rem 0 0; padding: .55rem 1rem; font-size: 1rem; }}
 code, textarea {{ font-family: ui-monospace, monospace; }}
 textarea {{ width: 100%; height: 7rem; word-break: break-all; }}
 .note {{ color: #57606a; font-size: .9rem; }} .error {{ color: #b42318; }}
</style></head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


_HTML = {"text/html": {"schema": {"type": "string"}}}


@router.get(
    "/login",
    response_class=HTMLResponse,
    tags=["auth"],
    responses={400: {"description": "the callback is not a loopback URL", "content": _HTML}},
)
def login_page(
    callback: Annotated[
        str | None,
        Query(description="loopback URL the CLI listens on", json_schema_extra={"pattern": LOOPBACK_CALLBACK_PATTERN}),
    ] = None,
    state: Annotated[str, Query(description="opaque value sent back unchanged")] = "",
) -> HTMLResponse:
    """Open. The sign-in form of `edge-connector auth --browser`."""
    if callback and not is_loopback_callback(callback):
        return _page(
            "Sign-in refused",
            "<h1>Sign-in refused</h1><p class=error>The callback must be a loopback "
            "address (http://127.0.0.1, http://[::1] or http://localhost); tokens are never sent "
            "elsewhere.</p>",
            400,
        )
    esc = html.escape
    target = (
        f"<p>After you sign in, your browser returns to the CLI at <code>{esc(callback)}</code>.</p>"
        if callback
        else "<p>After you sign in, this page shows a token to paste into the CLI.</p>"
    )
    body = f"""<h1>Sign in to the mock platform</h1>{target}
<form method="post" action="/login">
 <input type="hidden" name="callback" value="{esc(callback or "")}">
 <input type="hidden" name="state" value="{esc(state)}">
 <label for="email">Email</label><input id="email" name="email" type="email" required placeholder="you@example.com">
 <label for="orgId">Organization</label><input id="orgId" name="orgId" type="text" placeholder="(your personal organization)">
 <button type="submit" name="mode" value="callback">Sign in</button>
 <button type="submit" name="mode" value="paste">Show a token to paste instead</button>
</form>
<p class=note>Can't reach this machine's callback (SSH, WSL, a container)? Choose <em>Show a token to paste
instead</em> and run <code>edge-connector auth --token -</code> where the CLI runs, then paste it.</p>"""
    return _page("Sign in", body)


@router.post(
    "/login",
    response_class=HTMLResponse,
    tags=["auth"],
    responses={
        200: {"description": "the token to paste", "content": _HTML},
        303: {"description": "back to the loopback callback with the token (no body)", "content": {}},
        400: {"description": "bad form", "content": _HTML},
        403: {"description": "not a member of that organization", "content": _HTML},
    },
)
def login_submit(
    request: Request,
    email: Annotated[str, Form(json_schema_extra={"pattern": EMAIL_PATTERN, "minLength": 3, "maxLength": 254})],
    orgId: Annotated[str, Form(json_schema_extra={"pattern": r"^([A-Za-z0-9][A-Za-z0-9._-]{0,99})?$"})] = "",
    callback: Annotated[str, Form(json_schema_extra={"pattern": LOOPBACK_CALLBACK_PATTERN})] = "",
    state: Annotated[str, Form()] = "",
    mode: Annotated[str, Form(json_schema_extra={"enum": ["callback", "paste"]})] = "callback",
):
    """Open. Signs in, then redirects to `callback?token=…&state=…` or shows the token to paste."""
    try:
        if mode not in ("callback", "paste"):
            raise ValueError(mode)
        form = DevLoginRequest(email=email, orgId=orgId or None)
    except ValueError:
        return _page(
            "Sign-in failed",
            "<h1>Sign-in failed</h1><p class=error>Enter a valid email address and an "
            "organization id made of letters, digits, '.', '_' or '-'.</p>",
            400,
        )
    if callback and not is_loopback_callback(callback):
        return _page(
            "Sign-in refused",
            "<h1>Sign-in refused</h1><p class=error>The callback must be a loopback address.</p>",
            400,
        )
    try:
        issued = _user_token(request, form.email, form.orgId)
    except ApiError as refused:
        return _page(
            "Sign-in refused",
            f"<h1>Sign-in refused</h1><p class=error>{html.escape(refused.message)}</p>",
            refused.status,
        )
    if callback and mode != "paste":
        return RedirectResponse(_with_query(callback, token=issued.token, state=state), status_code=303)
    esc = html.escape
    body = f"""<h1>Your token</h1>
<p>Paste it where the CLI runs:</p>
<textarea readonly id="token">{esc(issued.token)}</textarea>
<p><code>edge-connector auth --token -</code> (then paste it; it stays out of your shell history)</p>
<p class=note>Valid until {esc(issued.expiresAt)}. Treat it like a password.</p>"""
    return _page("Your token", body)
