"""The platform's ASGI app in this process (fastapi's TestClient): for API tests that need no real socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from mock_platform.app import create_app
from mock_platform.config import PlatformConfig

BASE_URL = "http://127.0.0.1:8000"


@contextmanager
def platform_app(data_dir: Path, **config) -> Iterator[TestClient]:
    app = create_app(PlatformConfig(data_dir=Path(data_dir), **config))
    with TestClient(app, base_url=BASE_URL) as client:
        yield client


def sign_in(client: TestClient, email: str, org_id: str | None = None) -> dict[str, str]:
    """Authorization headers of a dev-login user token (raises on a refusal)."""
    body = {"email": email, **({"orgId": org_id} if org_id else {})}
    response = client.post("/api/auth/dev-login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def deployment_token(client: TestClient, user: dict[str, str], name: str = "edge") -> tuple[str, dict[str, str]]:
    """A new deployment of the user's org and the headers of its client-credentials token."""
    created = client.post("/api/deployments", json={"name": name}, headers=user).json()
    granted = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["deploymentId"],
            "client_secret": created["secret"],
        },
    )
    assert granted.status_code == 200, granted.text
    return created["deploymentId"], {"Authorization": f"Bearer {granted.json()['access_token']}"}
