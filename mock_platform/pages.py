"""The dashboard (`GET /`): a server-rendered page shell plus a small script that reads the JSON API.

The page itself holds no data: the API needs a bearer token, which a plain browser GET does not carry,
so the script fetches everything with the token it keeps in sessionStorage (never in a URL).
The assets ship inside the package (no build step, no CDN), and a strict Content-Security-Policy
allows only them: no inline script, no third-party origin.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}

# Small enough to live here; without one the browser asks for /favicon.ico and logs a 404.
_FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1d2330"/>'
    '<path d="M3 8h6M7 5l3 3-3 3" stroke="#7fa4ff" stroke-width="1.8" fill="none" stroke-linecap="round"/>'
    '<circle cx="12.5" cy="8" r="1.6" fill="#7fa4ff"/></svg>'
)


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_dashboard(dev_mode: bool) -> str:
    """The page shell; dev mode shows the email + organization sign-in, otherwise the token field."""
    return Template(_asset("dashboard.html")).substitute(
        dev_mode="true" if dev_mode else "false",
        dev_login_hidden="" if dev_mode else "hidden",
        token_login_open="" if dev_mode else "open",
    )


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    dev_mode = bool(request.app.state.platform.config.dev)
    return HTMLResponse(render_dashboard(dev_mode), headers=_SECURITY_HEADERS)


@router.get("/static/favicon.svg")
def favicon() -> Response:
    return Response(_FAVICON_SVG, media_type="image/svg+xml", headers=_SECURITY_HEADERS)


@router.get("/static/{name}")
def dashboard_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        return Response(
            status_code=404,
            content='{"error": {"code": "not_found", "message": "no such asset"}}',
            media_type="application/json",
        )
    return Response(_asset(name), media_type=media_type, headers=_SECURITY_HEADERS)
