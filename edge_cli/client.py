"""How the CLI talks to the platform: which URL, which token, and an HTTP client that retries sanely.

- which URL: `platform_url.resolve_platform_url`; which token: `token_file.load_token`; a refusal's
  words: `refusals.refusal_to_cli_error` (all three importable from here too).
- `PlatformClient`: JSON in and out; retries network errors, 429 and 5xx (3 times, backoff, `Retry-After`),
  never a 4xx; every refusal becomes a `CliError` in the words of the troubleshooting page.
Tokens never appear in an error message.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

from edge_protocol.backoff import Backoff, parse_retry_after
from edge_protocol.failures import is_retryable_status
from edge_protocol.origins import insecure_allowed, insecure_refusal, origin_of
from edge_runtime.tls import TlsSetupError, certificate_problem, tls_context

from .errors import CliError
from .platform_url import DEFAULT_PLATFORM_URL, ENV_PLATFORM_URL, resolve_platform_url
from .refusals import NO_ORG_HINT, REAUTH_HINT, network_error, refusal_to_cli_error
from .stdlib_transport import StdlibTransport, environment_proxy
from .token_file import (
    ENV_TOKEN,
    ENV_TOKEN_PATH,
    StoredToken,
    delete_token_file,
    find_token,
    load_token,
    save_token,
    token_file_path,
)

__all__ = [
    "PlatformClient",
    "connect",
    "dev_session_client",
    "retry_backoff",
    "token_destination_refusal",
    "DEFAULT_PLATFORM_URL",
    "ENV_PLATFORM_URL",
    "ENV_TOKEN",
    "ENV_TOKEN_PATH",
    "MAX_RETRIES",
    "MAX_RETRY_AFTER_SECONDS",
    "NO_ORG_HINT",
    "REAUTH_HINT",
    "StoredToken",
    "delete_token_file",
    "find_token",
    "load_token",
    "refusal_to_cli_error",
    "resolve_platform_url",
    "save_token",
    "token_file_path",
]

#: First retry delay in seconds (doubles each time); tests shorten it.
ENV_RETRY_BASE = "EC_HTTP_RETRY_BASE"
MAX_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 60.0
UPLOAD_CHUNK = 256 * 1024


def retry_backoff(base: float | None = None) -> Backoff:
    """The schedule of one request's retries: `base`, twice that, … and a refusal's `Retry-After` up to
    a minute. No jitter: one person is waiting here, not a fleet that could retry in step."""
    if base is None:
        base = float(os.environ.get(ENV_RETRY_BASE, "0.5"))
    return Backoff(initial=base, maximum=base * 2**MAX_RETRIES, jitter=0.0, max_retry_after=MAX_RETRY_AFTER_SECONDS)


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


ProgressCallback = Callable[[int], None]


class PlatformClient:
    """JSON API client of one platform URL with one token (or none, for open routes)."""

    def __init__(
        self, url: str, token: str | None = None, *, timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._sleep = sleep
        headers = {"User-Agent": "edge-connector-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # A plain-HTTP origin never handshakes (redirects are not followed), so it loads no CA bundle:
        # building the trust store takes tens of milliseconds of every command's start-up.
        trust: ssl.SSLContext | bool = False
        if self.url.startswith("https://"):
            try:
                trust = tls_context()  # the runtime's trust: the OS store plus SSL_CERT_FILE / SSL_CERT_DIR
            except TlsSetupError as exc:
                raise CliError(str(exc)) from None
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
            verify=trust,
            # httpx's own transport when a proxy is set: it routes through it (and honours NO_PROXY).
            transport=None
            if environment_proxy()
            else StdlibTransport(trust if isinstance(trust, ssl.SSLContext) else None),
        )

    @property
    def token(self) -> str | None:
        """The token this client sends (for a command that opens its own WebSocket to the same origin)."""
        return self._token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- verbs
    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None} or None)

    def post(self, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        return self.request("POST", path, json=body, timeout=timeout)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        response = self._send(
            lambda: self._http.request(
                method, path, json=json, params=params, timeout=timeout if timeout is not None else self._http.timeout
            )
        )
        return _json_of(response)

    def request_raw(
        self, method: str, path: str, *, json: Any = None, timeout: float | None = None, retry: bool = False
    ) -> tuple[int, Any]:
        """`(status, body)` for any HTTP status, for callers that interpret refusals themselves (`call`).

        Without `retry` only a refused connection is retried (the request never arrived); a tool call
        must never run twice because an answer was slow or failed.
        """
        response = self._send(
            lambda: self._http.request(
                method, path, json=json, timeout=timeout if timeout is not None else self._http.timeout
            ),
            retry=retry,
            raise_refusals=False,
        )
        return response.status_code, _json_or_none(response)

    def upload(
        self,
        path: str,
        file: Path,
        headers: dict[str, str],
        progress: ProgressCallback | None = None,
        restart: Callable[[], None] | None = None,
    ) -> tuple[int, Any]:
        """Stream `file` as the request body; returns `(status, json)`. `restart` is told when a retry resends."""
        size = Path(file).stat().st_size
        first = [True]

        def send() -> httpx.Response:
            if not first[0] and restart:
                restart()
            first[0] = False
            body = _file_chunks(Path(file), progress)
            return self._http.post(
                path,
                content=body,
                headers={**headers, "Content-Type": "application/gzip", "Content-Length": str(size)},
                timeout=httpx.Timeout(300.0, connect=10.0),
            )

        response = self._send(send)
        return response.status_code, _json_of(response)

    def _send(
        self, attempt_once: Callable[[], httpx.Response], *, retry: bool = True, raise_refusals: bool = True
    ) -> httpx.Response:
        backoff = retry_backoff()
        for attempt in range(MAX_RETRIES + 1):
            last = attempt == MAX_RETRIES
            try:
                response = attempt_once()
            except httpx.HTTPError as exc:
                # An untrusted certificate stays untrusted: say so at once instead of retrying.
                if last or not (retry or isinstance(exc, httpx.ConnectError)) or certificate_problem(exc):
                    raise network_error(exc, self.url) from None
                self._sleep(backoff.next_delay())
                continue
            if retry and is_retryable_status(response.status_code) and not last:
                self._sleep(backoff.delay_after(_retry_after(response)))
                continue
            if response.status_code >= 400 and raise_refusals:
                raise refusal_to_cli_error(response.status_code, _json_or_none(response), self.url)
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _file_chunks(path: Path, progress: ProgressCallback | None) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            if progress:
                progress(len(chunk))
            yield chunk


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json_of(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise CliError(
            f"The platform answered HTTP {response.status_code} with something that is not JSON",
            "Is --platform pointing at an edge-connector platform?",
        ) from None


def token_destination_refusal(stored: StoredToken, url: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why `stored` must not be sent to `url` (SPEC.md §9), or None.

    A saved token goes only to the origin it was saved for (a cloned project's `edge.json` must not
    collect it); `EDGE_CONNECTOR_TOKEN` goes where it is pointed. Neither crosses a network in
    clear text unless `EC_ALLOW_INSECURE=1`.
    """
    if stored.source != ENV_TOKEN:
        saved = origin_of(stored.platform_url or DEFAULT_PLATFORM_URL)
        chosen = origin_of(url)
        if saved != chosen:
            return (
                f"The saved token belongs to {saved}, not {chosen}; "
                f"run edge-connector auth --platform {url} or pass --platform"
            )
    if insecure_allowed(environ):
        return None
    return insecure_refusal(url, "your token")


def connect(
    platform_flag: str | None = None,
    project_dir: Path | str | None = None,
    need_token: bool = True,
    *,
    dev: bool = False,
) -> PlatformClient:
    """The client every command uses: resolved URL, the CLI's token (required unless `need_token` False).

    A token that may not go to that URL stops a command that needs one; one that does not need a
    token then goes without it. With `dev` (the commands a second terminal uses beside
    `edge-connector dev`: call, tail, status, secret, sim, mcp) and no `--platform`/token given, the
    running dev session of the project is used.
    """
    if dev and platform_flag is None and not _explicit_platform_or_token():
        session = dev_session_client(project_dir)
        if session is not None:
            return session
    url = resolve_platform_url(platform_flag, project_dir)
    found = load_token() if need_token else find_token()
    if found is None:
        return PlatformClient(url, None)
    refusal = token_destination_refusal(found, url)
    if refusal is not None:
        if need_token:
            raise CliError(refusal)
        return PlatformClient(url, None)
    return PlatformClient(url, found.token)


def _explicit_platform_or_token() -> bool:
    return any(os.environ.get(name, "").strip() for name in (ENV_PLATFORM_URL, ENV_TOKEN, ENV_TOKEN_PATH))


def dev_session_client(project_dir: Path | str | None) -> PlatformClient | None:
    """A client of the `dev` session running for the project `project_dir` is in, or None when no
    session was ever started there. A project where `dev` ran but runs no more, with no token saved
    either, gets the one-line answer that says how to start one."""
    from . import dev_state

    project = dev_state.find_project(Path(project_dir) if project_dir is not None else Path.cwd())
    if project is None:
        return None
    state = dev_state.read(project)
    if state is not None:
        try:
            token = json.loads(Path(state.token_path).read_text("utf-8"))["token"]
        except (OSError, ValueError, KeyError, TypeError):
            raise CliError(
                f"The dev session's token file {state.token_path} cannot be read", "Restart edge-connector dev"
            ) from None
        return PlatformClient(state.platform_url, token)
    if dev_state.had_session(project) and find_token() is None:
        raise CliError(
            f"No edge-connector dev session is running in {project}",
            f"Start one with: {dev_state.command_hint()} dev {project} "
            "(or pass --platform, or log in with edge-connector auth --browser)",
        )
    return None
