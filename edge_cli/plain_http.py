"""One HTTP/1.1 GET with nothing but `socket`: how `edge-connector status` reads the runtime's `/statusz`.

`http.client` imports the `email` package to parse headers, which costs `status` about a tenth of its
start-up for one loopback request. The runtime's health server (`edge_runtime/health.py`) answers with a
Content-Length and closes the connection; chunked and close-delimited bodies are read too, so whatever
HTTP/1.x server holds the port is read correctly. Anything that is not such an answer is `BadResponse`.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

#: An answer larger than this is not the runtime's status (its /statusz is a few KiB, ~100 bytes a tool).
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_MAX_HEAD_BYTES = 64 * 1024


class BadResponse(ValueError):
    """What came back is not a complete HTTP/1.x response."""


def get(url: str, timeout: float = 5.0, accept: str = "application/json") -> tuple[int, bytes]:
    """GET `url` (http:// only) and return (status, body). Raises OSError (no connection, timeout) or
    BadResponse; `timeout` bounds the connection and every read, as `http.client`'s does."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise BadResponse(f"only http:// URLs are read, not {url!r}")
    host = parts.hostname or "127.0.0.1"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc.rpartition('@')[2]}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    # An ASCII host as bytes: given a str, the socket module loads the idna codec to encode it.
    address = (host.encode("ascii") if host.isascii() else host, parts.port or 80)
    with socket.create_connection(address, timeout=timeout) as connection:  # type: ignore[arg-type]
        connection.sendall(request)
        received, closed = bytearray(), False
        while (answer := parse_response(bytes(received), complete=closed)) is None:
            chunk = connection.recv(65536)
            closed = not chunk
            received += chunk
            if len(received) > MAX_RESPONSE_BYTES:
                raise BadResponse(f"the answer is larger than {MAX_RESPONSE_BYTES} bytes")
        return answer


def parse_response(raw: bytes, complete: bool) -> tuple[int, bytes] | None:
    """(status, body) of the HTTP/1.x response in `raw`; None while more bytes are needed. `complete`:
    the peer closed the connection, so nothing more will come (a body without a length ends here)."""
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        if complete or len(raw) > _MAX_HEAD_BYTES:
            raise BadResponse("no complete HTTP header")
        return None
    status_line, *header_lines = raw[:head_end].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not (version in ("HTTP/1.0", "HTTP/1.1") and len(code) == 3 and code.isdigit() and rest[3:4] in ("", " ")):
        raise BadResponse(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadResponse(f"malformed header line: {line[:80]!r}")
        name, value = name.lower(), value.strip()
        if name in headers and name == "content-length" and headers[name] != value:
            raise BadResponse("conflicting Content-Length headers")
        headers[name] = value
    body = raw[head_end + 4 :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        dechunked = _dechunk(body)
        if dechunked is None and complete:
            raise BadResponse("the chunked body ended early")
        return None if dechunked is None else (int(code), dechunked)
    if "content-length" in headers:
        length = headers["content-length"]
        if not (length.isascii() and length.isdigit()):
            raise BadResponse(f"bad Content-Length {length[:20]!r}")
        if len(body) >= int(length):
            return int(code), body[: int(length)]
        if complete:
            raise BadResponse(f"the body ended after {len(body)} of {length} bytes")
        return None
    return (int(code), body) if complete else None


def _dechunk(body: bytes) -> bytes | None:
    """The data of a chunked body; None until its last (zero-size) chunk has arrived."""
    data, position = bytearray(), 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = body[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadResponse(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0:
            raise BadResponse("negative chunk size")
        if size == 0:
            return bytes(data)  # trailers, if any, are not needed
        start = line_end + 2
        if len(body) < start + size + 2:
            return None
        data += body[start : start + size]
        position = start + size + 2
