"""SecretsSync against a scripted platform (httpx.MockTransport): what it fetches, applies, logs and shows."""

from __future__ import annotations

import logging

import httpx

from edge_runtime.logs import redact
from edge_runtime.secrets_sync import SecretsSync

VALUE = "sk-unit-0123456789abcdef"


class Target:
    def __init__(self, ok: bool = True) -> None:
        self.applied: list[dict[str, str]] = []
        self.ok = ok

    async def set_secrets(self, secrets: dict[str, str]) -> bool:
        self.applied.append(secrets)
        return self.ok


def make(handler, deployment: str | None = "dep-1", target: Target | None = None) -> tuple[SecretsSync, Target]:
    target = target or Target()
    http = httpx.AsyncClient(base_url="http://platform.test", transport=httpx.MockTransport(handler))

    async def token() -> str:
        return "deployment-token"

    return SecretsSync(http, token, lambda: deployment, target, logging.getLogger("test.secrets")), target


async def test_fetches_its_own_deployment_with_its_token_and_applies(caplog):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"secrets": {"API_KEY": VALUE, "REGION": "eu-west-1"}})

    sync, target = make(handler)
    sync.request("connected")
    with caplog.at_level(logging.INFO):
        assert await sync.fetch_now() is True
    assert seen[0].url.path == "/api/deployments/dep-1/secrets"
    assert seen[0].headers["Authorization"] == "Bearer deployment-token"
    assert target.applied == [{"API_KEY": VALUE, "REGION": "eu-west-1"}]
    status = sync.status()
    assert status["names"] == ["API_KEY", "REGION"] and status["fetches"] == 1 and VALUE not in str(status)
    assert VALUE not in caplog.text and "API_KEY, REGION" in caplog.text
    assert redact(f"oops {VALUE}") == "oops [REDACTED]"  # registered with the log redactor


async def test_a_user_token_is_told_once_and_applies_nothing(caplog):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"error": {"code": "deployment_token_required", "message": "no"}})

    sync, target = make(handler)
    with caplog.at_level(logging.WARNING):
        assert await sync.fetch_now() is False
        assert await sync.fetch_now() is False
    assert target.applied == [] and caplog.text.count("deployment credentials") == 1


async def test_failures_keep_the_previous_secrets_and_say_why():
    answers = iter([httpx.Response(500), httpx.Response(200, json={"secrets": ["not", "a", "map"]})])
    sync, target = make(lambda request: next(answers))
    assert await sync.fetch_now() is False and "HTTP 500" in (sync.status()["lastError"] or "")
    assert await sync.fetch_now() is False and "NAME: value" in (sync.status()["lastError"] or "")
    assert target.applied == []


async def test_no_deployment_means_no_fetch():
    sync, target = make(lambda request: httpx.Response(500), deployment=None)
    assert await sync.fetch_now() is False and target.applied == []
