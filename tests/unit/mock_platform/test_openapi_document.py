"""The OpenAPI document describes what the platform really answers (the API fuzzer holds it to that;
these pin the rules it found missing)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mock_platform.app import create_app
from mock_platform.config import PlatformConfig
from mock_platform.models import EMAIL_PATTERN, DevLoginRequest


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    app = create_app(PlatformConfig(data_dir=tmp_path_factory.mktemp("openapi")))
    return app.openapi()


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_bearer_route_declares_the_scheme_and_its_refusals(document):
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    guarded = {(p, m) for p, m, op in _operations(document) if op.get("security") == [{"bearer": []}]}
    assert ("get", "/api/connectors") in {(m, p) for p, m in guarded}  # a route without its own `responses=`
    assert ("/api/auth/dev-login", "post") not in guarded and ("/oauth/token", "post") not in guarded
    for path, method in guarded:
        responses = document["paths"][path][method]["responses"]
        for status in ("401", "403"):
            assert "ErrorBody" in json.dumps(responses[status]), f"{method} {path} {status}"


def test_422_is_the_platforms_error_body_not_fastapis(document):
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    for path, method, operation in _operations(document):
        if "422" in operation["responses"]:
            assert "ErrorBody" in json.dumps(operation["responses"]["422"]), f"{method} {path}"


def test_the_login_redirect_has_no_body_and_secret_names_have_their_pattern(document):
    assert document["paths"]["/login"]["post"]["responses"]["303"]["content"] == {}
    put = document["paths"]["/api/secrets/{name}"]["put"]
    (name,) = [p for p in put["parameters"] if p["name"] == "name"]
    assert name["schema"]["pattern"] == "^[A-Z_][A-Z0-9_]{0,63}$"


@pytest.mark.parametrize("email", ["\x85a@b", "a\ufeff@b", "a\x1d@b", "a b@c", "a@b\u2028"])
def test_an_email_with_a_space_or_control_character_is_refused_by_model_and_pattern_alike(email):
    # Python's, Rust's and ECMA-262's `\s` differ on these: the pattern names them explicitly.
    assert re.search(EMAIL_PATTERN, email) is None
    with pytest.raises(ValidationError):
        DevLoginRequest(email=email)


def test_the_app_serves_again_after_its_lifespan_ended(tmp_path):
    # Test clients run an app's lifespan once per client; the MCP session manager used to refuse a
    # second run, so the second client's startup failed.
    app = create_app(PlatformConfig(data_dir=tmp_path / "data"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as first:
        assert first.get("/healthz").status_code == 200
    with TestClient(app, base_url="http://127.0.0.1:8000") as second:
        assert second.get("/healthz").status_code == 200
