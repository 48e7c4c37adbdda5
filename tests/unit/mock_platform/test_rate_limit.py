"""/oauth/token's budget (issue 12, hole 11): a burst, then a steady rate; bounded keys; 429 + Retry-After."""

from __future__ import annotations

from mock_platform.rate_limit import RateLimiter, retry_after_header
from tests.support.inprocess import platform_app


def test_burst_then_rate():
    limiter = RateLimiter(per_second=0.5, burst=3)
    assert [limiter.retry_after("dep-1", 0.0) for _ in range(3)] == [None, None, None]
    assert limiter.retry_after("dep-1", 0.0) == 2.0
    assert limiter.retry_after("dep-2", 0.0) is None  # keys are independent
    assert limiter.retry_after("dep-1", 2.0) is None  # one token back after 2 s
    assert retry_after_header(0.2) == "1" and retry_after_header(2.01) == "3"


def test_keys_are_bounded():
    limiter = RateLimiter(per_second=1, burst=1, max_keys=100)
    for n in range(10_000):
        limiter.retry_after(f"guess-{n}", 0.0)
    assert len(limiter) == 100


def test_oauth_token_answers_429_with_retry_after_before_checking_the_secret(tmp_path):
    with platform_app(tmp_path / "data", oauth_per_client=(0.01, 3), oauth_per_address=(0.01, 1000)) as api:
        form = {"grant_type": "client_credentials", "client_id": "dep-guess", "client_secret": "wrong"}
        assert [api.post("/oauth/token", data=form).status_code for _ in range(3)] == [401, 401, 401]
        limited = api.post("/oauth/token", data=form)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        # Another client id from the same address still gets through, up to the per-address budget.
        assert api.post("/oauth/token", data={**form, "client_id": "dep-other"}).status_code == 401
    with platform_app(tmp_path / "data2", oauth_per_client=(0.01, 1000), oauth_per_address=(0.01, 2)) as api:
        codes = [
            api.post(
                "/oauth/token", data={"grant_type": "client_credentials", "client_id": f"d{n}", "client_secret": "x"}
            ).status_code
            for n in range(3)
        ]
        assert codes == [401, 401, 429]
