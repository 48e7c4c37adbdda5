"""Bodies the fast routes (tool calls, sim) parse by hand: valid objects pass, the rest is a 400 or 422."""

import pytest

from mock_platform.errors import ApiError, json_integer, json_object_body
from tests.support.inprocess import platform_app, sign_in


def test_an_object_or_an_empty_body_is_accepted():
    assert json_object_body(b'{"count": 2}') == {"count": 2}
    assert json_object_body(b"  ") == {}


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{nope", "Request body is not valid JSON"),
        (b"[1, 2]", "Request body must be an object {arguments}"),
    ],
)
def test_anything_else_is_a_400_invalid_request(raw, message):
    with pytest.raises(ApiError) as refused:
        json_object_body(raw, "an object {arguments}")
    assert (refused.value.status, refused.value.code) == (400, "invalid_request")
    assert refused.value.message.startswith(message)


@pytest.mark.parametrize(
    "value, expected",
    [
        (5, 5),
        (5.0, 5),
        (-(2**53 - 1), -(2**53 - 1)),
        (2**53 - 1, 2**53 - 1),
        (2**53, None),  # beyond JavaScript's safe integers
        (1.8446744073709552e19, None),  # how orjson reads 18446744073709551616
        (True, None),
        ("5", None),
        (5.5, None),
    ],
)
def test_json_integers_stop_at_javascripts_safe_range(value, expected):
    assert json_integer(value) == expected


def test_a_huge_reject_count_is_a_422_not_a_500(tmp_path):
    # orjson reads 2**64 as a float; taken as an integer it could not be written back (was a 500).
    with platform_app(tmp_path / "data") as api:
        user = sign_in(api, "sim@example.com")
        for raw in (b'{"count": 18446744073709551616}', b'{"count": 9007199254740992}'):
            refused = api.post("/api/sim/reject", content=raw, headers={**user, "Content-Type": "application/json"})
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "invalid_request"
        taken = api.post("/api/sim/reject", json={"count": 2**53 - 1}, headers=user)
        assert taken.json() == {"rejectNext": 2**53 - 1}
        api.post("/api/sim/reject", json={"count": 0}, headers=user)
