"""How the CLI talks to the platform: which URL, which token, and an HTTP client that retries sanely.

- `resolve_platform_url`: `--platform` > `EDGE_PLATFORM_URL` > `edge.json` `platformUrl` > the URL saved
  with the token > `http://127.0.0.1:8000` (SPEC.md §4).
- `load_token`: `EDGE_CONNECTOR_TOKEN` > the file at `AUTH_TOKEN_PATH` > `<user config dir>/auth-token.json`.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import platformdirs

from edge_protocol import tokens
from edge_protocol.backoff import Backoff, parse_retry_after
from edge_protocol.failures import is_retryable_status
from edge_protocol.origins import insecure_allowed, insecure_refusal, origin_of
from edge_runtime.private_files import write_private_json
from edge_runtime.tls import CertificateNotTrusted, TlsSetupError, certificate_problem, tls_context

from .errors import CliError

DEFAULT_PLATFORM_URL = "http://127.0.0.1:8000"
TOKEN_FILE_NAME = "auth-token.json"
APP_NAME = "edge-connector"
ENV_TOKEN = "EDGE_CONNECTOR_TOKEN"
ENV_TOKEN_PATH = "AUTH_TOKEN_PATH"
ENV_PLATFORM_URL = "EDGE_PLATFORM_URL"
#: First retry delay in seconds (doubles each time); tests shorten it.
ENV_RETRY_BASE = "EC_HTTP_RETRY_BASE"
MAX_RETRIES = 3
MAX_RETRY_AFTER_SECONDS = 60.0
UPLOAD_CHUNK = 256 * 1024

REAUTH_HINT = "Re-authenticate with edge-connector auth --browser or edge-connector auth --token <new-token>"
NO_ORG_HINT = (
    "The JWT must contain an orgId claim or an orgs map. Log in to an organization "
    "(edge-connector auth --browser) and generate a new token"
)


# ------------------------------------------------------------------------------------ platform URL
def resolve_platform_url(flag: str | None, project_dir: Path | str | None = None) -> str:
    for candidate in (flag, os.environ.get(ENV_PLATFORM_URL), _edge_json_url(project_dir), _saved_url()):
        if candidate and candidate.strip():
            return _normalise_url(candidate.strip())
    return DEFAULT_PLATFORM_URL


def _normalise_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise CliError(
            f"Platform URL {url!r} must start with http:// or https://", "Pass e.g. --platform http://127.0.0.1:8000"
        )
    try:
        origin_of(url)
    except ValueError:
        raise CliError(f"Platform URL {url!r} has no host", "Pass e.g. --platform http://127.0.0.1:8000") from None
    return url.rstrip("/")


def _edge_json_url(project_dir: Path | str | None) -> str | None:
    if project_dir is None:
        return None
    try:
        data = json.loads((Path(project_dir) / "edge.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("platformUrl") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _saved_url() -> str | None:
    try:
        data = json.loads(token_file_path().read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("platformUrl") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# ------------------------------------------------------------------------------------ tokens
def token_file_path() -> Path:
    """Where `auth` saves the token: `AUTH_TOKEN_PATH`, else the user config dir."""
    explicit = os.environ.get(ENV_TOKEN_PATH)
    if explicit:
        return Path(explicit).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / TOKEN_FILE_NAME


@dataclass(frozen=True)
class StoredToken:
    token: str
    #: where it came from, for messages: "EDGE_CONNECTOR_TOKEN" or the file path
    source: str
    platform_url: str | None = None
    saved_at: str | None = None


def find_token() -> StoredToken | None:
    env_token = os.environ.get(ENV_TOKEN, "").strip()
    if env_token:
        return StoredToken(env_token, ENV_TOKEN)
    path = token_file_path()
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CliError(
            f"The token file {path} cannot be read ({exc})", "Delete it and run edge-connector auth --browser again"
        ) from None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip():
        return None
    return StoredToken(token.strip(), str(path), data.get("platformUrl"), data.get("savedAt"))


def where_tokens_are_looked_for() -> str:
    path = token_file_path()
    via = f"{ENV_TOKEN_PATH}={path}" if os.environ.get(ENV_TOKEN_PATH) else str(path)
    return f"looked in ${ENV_TOKEN} (not set) and {via} (no token there)"


def load_token() -> StoredToken:
    """The CLI's token, or the `No authentication token found` failure saying where it looked."""
    found = find_token()
    if found is None:
        raise CliError(
            f"{tokens.NO_TOKEN}: {where_tokens_are_looked_for()}",
            "Run edge-connector auth --browser, or edge-connector auth --token <token>; in CI set EDGE_CONNECTOR_TOKEN",
        )
    return found


def save_token(token: str, url: str | None) -> Path:
    """Write the token file atomically with mode 0600 (never readable by others, even for an instant)."""
    data = {"token": token, "platformUrl": url, "savedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return write_private_json(token_file_path(), data)


def delete_token_file() -> Path | None:
    path = token_file_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


# ------------------------------------------------------------------------------------ errors
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


def _network_error(exc: httpx.HTTPError, url: str) -> CliError:
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


# ------------------------------------------------------------------------------------ client
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
            base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0), verify=trust
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
                    raise _network_error(exc, self.url) from None
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
