"""Which callbacks the `/login` page may send a token to: loopback only, however the URL is dressed up."""

from __future__ import annotations

import pytest

from mock_platform.api_auth import is_loopback_callback


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:53682/callback",
        "http://127.0.0.1/callback",
        "http://127.1.2.3:9/cb",
        "http://[::1]:53682/callback",
        "http://localhost:53682/callback",
        "http://LOCALHOST:1/cb",
    ],
)
def test_loopback_callbacks_are_accepted(url):
    assert is_loopback_callback(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:1/cb",  # the CLI serves plain http on loopback
        "http://evil.example.com/cb",
        "http://127.0.0.1@evil.example.com/cb",  # userinfo trick: the host is evil.example.com
        "http://127.0.0.1.evil.example.com/cb",
        "http://localhost.evil.example.com/cb",
        "http://10.0.0.1/cb",
        "http://[::ffff:8.8.8.8]/cb",
        "http://0.0.0.0:1/cb",
        "javascript:alert(1)",
        "//127.0.0.1/cb",
        "http://127.0.0.1:99999/cb",
        "",
    ],
)
def test_everything_else_is_refused(url):
    assert not is_loopback_callback(url)
