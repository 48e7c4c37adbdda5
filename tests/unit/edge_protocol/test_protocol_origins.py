"""edge_protocol.origins: one origin rule and one plain-text rule for the CLI and the runtime."""

from __future__ import annotations

import pytest

from edge_protocol.origins import insecure_allowed, insecure_refusal, origin_of, same_origin


@pytest.mark.parametrize(
    "a,b",
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api"),
        ("https://Example.COM", "https://example.com:443/x"),
        ("ws://127.0.0.1:8000/tool-rpc", "http://127.0.0.1:8000/api/bundles/x/versions/1/archive"),
        ("wss://p.example.com/tool-rpc", "https://p.example.com:443"),
        ("http://[::1]:9/", "http://[::1]:9"),
    ],
)
def test_same_origin(a, b):
    assert same_origin(a, b)


@pytest.mark.parametrize(
    "a,b",
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8001"),
        ("http://127.0.0.1:8000", "http://localhost:8000"),
        ("http://p.example.com", "https://p.example.com"),
        ("ws://127.0.0.1:8000/tool-rpc", "http://evil.example:8000/a"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000@evil.example/"),
        ("http://127.0.0.1:8000", "file:///etc/passwd"),
        ("http://127.0.0.1:8000", "/relative/path"),
    ],
)
def test_different_origins(a, b):
    assert not same_origin(a, b)


def test_origin_shows_the_default_port():
    assert origin_of("https://platform.example.com/x") == "https://platform.example.com:443"


@pytest.mark.parametrize(
    "url,refused",
    [
        ("http://127.0.0.1:8000", False),
        ("ws://localhost:1/tool-rpc", False),
        ("http://[::1]:8", False),
        ("https://platform.example.com", False),
        ("wss://10.0.0.1/tool-rpc", False),
        ("http://platform.example.com", True),
        ("ws://10.0.0.1:8000/tool-rpc", True),
        ("http://0.0.0.0:80", True),
    ],
)
def test_plain_text_only_to_loopback(url, refused):
    message = insecure_refusal(url)
    assert (message is not None) == refused
    if refused:
        assert "EC_ALLOW_INSECURE=1" in message


def test_the_switch_must_be_exactly_one():
    assert insecure_allowed({"EC_ALLOW_INSECURE": "1"})
    assert not insecure_allowed({"EC_ALLOW_INSECURE": "true"}) and not insecure_allowed({})
