"""`edge_cli.plain_http`: the socket-only GET `status` reads /statusz with.

Parsing is a pure function tested on bytes; one test reads real answers from a loopback server.
"""

from __future__ import annotations

import socket
import threading

import pytest

from edge_cli.plain_http import MAX_RESPONSE_BYTES, BadResponse, get, parse_response

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def test_a_content_length_body_is_complete_once_that_many_bytes_arrived():
    raw = HEAD + b'Content-Length: 7\r\n\r\n{"a":1}'
    assert parse_response(raw[:-1], complete=False) is None
    assert parse_response(raw, complete=False) == (200, b'{"a":1}')
    assert parse_response(raw + b"extra", complete=True) == (200, b'{"a":1}')


def test_a_body_shorter_than_its_content_length_is_refused_once_the_peer_closed():
    with pytest.raises(BadResponse, match="after 3 of 7 bytes"):
        parse_response(HEAD + b'Content-Length: 7\r\n\r\n{"a', complete=True)


def test_a_chunked_body_is_joined_and_ends_at_the_zero_chunk():
    raw = HEAD + b'Transfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n'
    assert parse_response(raw, complete=False) == (200, b'{"a":1}')
    assert parse_response(raw[: raw.index(b"0\r\n\r\n")], complete=False) is None
    with pytest.raises(BadResponse, match="ended early"):
        parse_response(raw[: raw.index(b"0\r\n\r\n")], complete=True)
    with pytest.raises(BadResponse, match="bad chunk size"):
        parse_response(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", complete=False)


def test_a_body_without_a_length_ends_when_the_peer_closes():
    raw = b"HTTP/1.0 404 Not Found\r\n\r\nnot found"
    assert parse_response(raw, complete=False) is None
    assert parse_response(raw, complete=True) == (404, b"not found")


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # closed without a word
        b"SSH-2.0-OpenSSH_9.6\r\n",  # something else holds the port
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    ],
)
def test_what_is_not_an_http_1_answer_is_refused(raw):
    with pytest.raises(BadResponse):
        parse_response(raw, complete=True)


def test_only_http_urls_are_read():
    with pytest.raises(BadResponse, match="only http://"):
        get("https://127.0.0.1:1/statusz")


def test_a_real_loopback_server_is_read_whole():
    replies = [
        b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"ok":true}',
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{"ok":true}\r\n0\r\n\r\n',
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nnot yet",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * (MAX_RESPONSE_BYTES + 1),  # not a status: refused, not kept
    ]
    requests: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]

        def serve() -> None:
            for reply in replies:
                connection, _ = listener.accept()
                with connection:
                    requests.append(connection.recv(65536))
                    try:
                        connection.sendall(reply[:20])  # in two pieces: the client reads until it has it all
                        connection.sendall(reply[20:])
                    except OSError:
                        pass  # the client gave up on an oversized answer

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        url = f"http://127.0.0.1:{port}/statusz?x=1"
        assert get(url) == (200, b'{"ok":true}')
        assert get(url) == (200, b'{"ok":true}')
        assert get(url) == (503, b"not yet")
        with pytest.raises(BadResponse, match="larger than"):
            get(url)
        server.join(timeout=10)
    assert requests[0].startswith(b"GET /statusz?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n".encode() in requests[0] and b"Connection: close\r\n" in requests[0]


def test_nothing_listening_is_an_os_error():
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/statusz", timeout=2)
