"""Bodies the fast routes (tool calls, sim) parse by hand: valid objects pass, the rest is a 400."""

import pytest

from mock_platform.errors import ApiError, json_object_body


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
