"""`POST /oauth/token`: the fast path (`TokenFastPath`) and the FastAPI route give the same answers."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import jwt
import pytest

from mock_platform.oauth_token import FAST_FORM_LIMIT, form_fields
from tests.support.inprocess import platform_app, sign_in

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with platform_app(tmp_path_factory.mktemp("oauth") / "data", oauth_per_address=(100.0, 1000)) as client:
        yield client


@pytest.fixture(scope="module")
def deployment(api) -> dict[str, str]:
    user = sign_in(api, "oauth@example.com", "org-oauth")
    return api.post("/api/deployments", json={"name": "edge"}, headers=user).json()


def form(deployment: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": deployment["deploymentId"],
        "client_secret": deployment["secret"],
        **extra,
    }


def test_form_fields_read_like_fastapi_and_refuse_what_the_route_should_read():
    assert form_fields(b"grant_type=a&client_id=x%2By+z&client_id=last&empty=") == {
        "grant_type": "a",
        "client_id": "last",
        "empty": "",
    }
    assert form_fields("client_secret=é".encode()) is None  # raw non-ASCII: the route decides
    assert form_fields(b"client_secret=%ff") is None  # an escape that is not UTF-8


@pytest.mark.parametrize(
    "padding",
    [
        "",  # the usual small form: answered by the fast path
        "x" * (FAST_FORM_LIMIT + 1),  # a form too large for it: answered by the FastAPI route
    ],
)
def test_a_deployment_gets_a_token_of_its_own_from_either_path(api, deployment, padding):
    fields = form(deployment, **({"padding": padding} if padding else {}))
    granted = api.post("/oauth/token", content=urlencode(fields), headers=FORM)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert set(body) == {"access_token", "token_type", "expires_in"} and body["token_type"] == "Bearer"
    assert granted.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["deploymentId"] == deployment["deploymentId"] and claims["orgId"] == "org-oauth"
    assert claims["exp"] - claims["iat"] == body["expires_in"]


@pytest.mark.parametrize("padding", ["", "x" * (FAST_FORM_LIMIT + 1)])
def test_refusals_are_the_same_from_either_path(api, deployment, padding):
    extra = {"padding": padding} if padding else {}
    wrong = api.post("/oauth/token", content=urlencode(form(deployment, client_secret="nope", **extra)), headers=FORM)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_client"
    assert "access_token" not in wrong.text and deployment["secret"] not in wrong.text
    grant = api.post("/oauth/token", content=urlencode(form(deployment, grant_type="password", **extra)), headers=FORM)
    assert grant.status_code == 400 and grant.json()["error"]["code"] == "unsupported_grant_type"


def test_http_basic_credentials_work_on_the_fast_path(api, deployment):
    basic = base64.b64encode(f"{deployment['deploymentId']}:{deployment['secret']}".encode()).decode()
    granted = api.post(
        "/oauth/token", content="grant_type=client_credentials", headers={**FORM, "Authorization": f"Basic {basic}"}
    )
    assert granted.status_code == 200, granted.text


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        ("client_id=a&client_secret=b", FORM),  # no grant_type
        ("grant_type=&client_id=a", FORM),  # an empty one
        ('{"grant_type": "client_credentials"}', {"Content-Type": "application/json"}),  # not a form
    ],
)
def test_what_the_fast_path_does_not_read_gets_fastapis_validation_answer(api, content, headers):
    answer = api.post("/oauth/token", content=content, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "grant_type" in answer.text
