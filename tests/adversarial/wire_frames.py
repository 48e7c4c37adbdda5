"""Hostile WebSocket frames for the wire fuzzing suite (issue 12), and what each one must get back.

`frames()` is a hypothesis strategy over frames a broken or malicious peer could send on a link:
JSON-RPC envelopes with wrong types, huge or odd ids, unknown and known methods with junk params,
answers to requests nobody made, invalid UTF-8, deep nesting, multi-megabyte strings, binary frames
and plain garbage. `expected_reply` says, from the JSON-RPC 2.0 rules alone, what a correct peer
answers: a request is answered under its id (a result or an error), anything that is not a valid
message gets a JSON-RPC error, and a notification or a response is never answered (JSON-RPC 2.0
forbids replying to a notification; a response to nothing is dropped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import strategies as st

#: Methods either end knows, so that junk params reach the typed checks behind them.
KNOWN_METHODS = (
    "connector.hello",
    "tools/call",
    "tools.updated",
    "tools.log",
    "bundle.updated",
    "secrets.updated",
    "logs.subscribe",
    "connector.draining",
    "connector.ping",
    "connector.reauth",
)
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Frame:
    """One frame to send: `payload` as a text frame (bytes are sent as text unchecked) or a binary one."""

    kind: str
    payload: str | bytes
    binary: bool = False

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep multi-MB ones readable
        shown = self.payload[:120]
        return f"Frame({self.kind}, {len(self.payload):,} {'bytes' if self.binary else 'chars'}, {shown!r}…)"


# --------------------------------------------------------------------------------- expectations
ANSWER, ERROR, QUIET = "answer", "error", "quiet"


def expected_reply(frame: Frame) -> tuple[str, Any]:
    """`(ANSWER, id)`: a result or an error under that id; `(ERROR, None)`: a JSON-RPC error;
    `(QUIET, None)`: nothing required (any reply must still be a JSON-RPC error)."""
    if frame.binary:
        return ERROR, None
    try:
        data = orjson.loads(frame.payload)  # both ends parse with orjson: what it refuses is a parse error
    except orjson.JSONDecodeError:
        return ERROR, None
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        return ERROR, None
    request_id = data.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (str, int))):
        return ERROR, None
    if "method" in data:
        if not isinstance(data["method"], str) or not isinstance(data.get("params", {}), dict):
            return ERROR, None
        return (ANSWER, request_id) if request_id is not None else (QUIET, None)
    if "result" in data or "error" in data:
        error = data.get("error")
        if error is not None and not (isinstance(error, dict) and isinstance(error.get("code"), int)):
            return ERROR, None
        return (ERROR, None) if request_id is None else (QUIET, None)
    return ERROR, None


# --------------------------------------------------------------------------------- strategies
def _json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)  # past 64 bits too
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=40)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=max_leaves,
    )


def _dump(value: Any) -> str:
    # json, not orjson: it writes integers of any size, which is exactly what a peer may send.
    return json.dumps(value, ensure_ascii=False)


ids = (
    st.none()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(max_size=30)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)


@st.composite
def _envelopes(draw: st.DrawFn) -> Frame:
    """JSON-RPC-shaped objects with a known or unknown method, junk params, any id, wrong types."""
    method = draw(st.sampled_from(KNOWN_METHODS) | st.text(max_size=30) | _json_values(2))
    message: dict[str, Any] = {"jsonrpc": draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2.0, None]))}
    message["method"] = method
    if draw(st.booleans()):
        message["id"] = draw(ids)
    if draw(st.integers(0, 4)):
        message["params"] = draw(st.dictionaries(st.text(max_size=12), _json_values(), max_size=5) | _json_values())
    return Frame("envelope", _dump(message))


@st.composite
def _typed_params(draw: st.DrawFn) -> Frame:
    """Known methods whose params have the right keys with the wrong (or right) types."""
    method = draw(st.sampled_from(KNOWN_METHODS))
    keys = ["callId", "name", "arguments", "timeoutMs", "bundle", "tools", "checksum", "version", "size"]
    keys += ["archiveUrl", "entries", "on", "token", "deploymentId", "connectorVersion", "concurrency"]
    params = draw(st.dictionaries(st.sampled_from(keys), _json_values(4), max_size=6))
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if draw(st.booleans()):
        message["id"] = draw(st.integers(0, 2**63 - 1) | st.text(min_size=1, max_size=20))
    return Frame("typed-params", _dump(message))


@st.composite
def _calls(draw: st.DrawFn) -> Frame:
    """`tools/call` requests that pass the envelope checks, so their arguments reach the tool: junk,
    nesting deeper than an encoder takes, strings with every code point, odd deadlines, reused ids."""
    depth = draw(st.integers(1, 1500))
    arguments = draw(
        st.dictionaries(st.text(max_size=8), _json_values(), max_size=4)
        | st.just({"deep": "[" * depth + "]" * depth})
        | _json_values()
    )
    payload = _dump(
        {
            "jsonrpc": "2.0",
            "id": draw(st.integers(0, 2**63 - 1)),
            "method": "tools/call",
            "params": {
                "callId": draw(st.uuids().map(str) | st.sampled_from(["reused-call-id"])),
                "name": draw(st.sampled_from(["echo", "echo", "nope", "ECHO", "e" * 300])),
                "arguments": arguments,
                **({"timeoutMs": draw(_json_values(1))} if draw(st.booleans()) else {}),
            },
        }
    )
    # The deep value goes in as raw JSON, not as a string: the peer must parse that nesting.
    payload = payload.replace('"' + "[" * depth + "]" * depth + '"', "[" * depth + "]" * depth)
    return Frame("call", payload)


@st.composite
def _responses(draw: st.DrawFn) -> Frame:
    """Answers to requests nobody made, well or badly formed."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": draw(ids)}
    if draw(st.booleans()):
        message["result"] = draw(_json_values())
    else:
        message["error"] = draw(
            st.fixed_dictionaries({"code": st.integers(-40000, 40000) | st.text(max_size=5)}, optional={})
            | _json_values(3)
        )
    return Frame("response", _dump(message))


@st.composite
def _huge_ids(draw: st.DrawFn) -> Frame:
    """Ids past 64 bits, long digit strings as numbers, megabyte string ids."""
    big = draw(st.integers(min_value=2**64, max_value=10**400) | st.integers(max_value=-(2**63) - 1))
    choice = draw(st.integers(0, 2))
    if choice == 0:
        payload = '{"jsonrpc":"2.0","id":' + str(big) + ',"method":"connector.ping","params":{}}'
    elif choice == 1:
        zeros = "0" * draw(st.integers(20, 5000))
        payload = '{"jsonrpc":"2.0","id":1' + zeros + ',"method":"tools/call","params":{}}'
    else:
        text_id = "i" * draw(st.integers(1, 2 * MEGABYTE))
        payload = _dump({"jsonrpc": "2.0", "id": text_id, "method": draw(st.text(max_size=10)), "params": {}})
    return Frame("huge-id", payload)


@st.composite
def _deep(draw: st.DrawFn) -> Frame:
    """Nesting from a few hundred to a hundred thousand levels, bare or inside params."""
    depth = draw(st.integers(200, 100_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    if draw(st.booleans()):
        return Frame("deep", nested)
    method = draw(st.sampled_from(["tools/call", "tools.updated", "connector.hello", "nope"]))
    return Frame("deep", '{"jsonrpc":"2.0","id":7,"method":"' + method + '","params":{"arguments":' + nested + "}}")


@st.composite
def _big_strings(draw: st.DrawFn) -> Frame:
    """Multi-megabyte strings (up to 10 MB) as a param, as a method name, or as the whole frame."""
    size = draw(st.integers(MEGABYTE, 10 * MEGABYTE))
    char = draw(st.sampled_from(["x", "é", "😀", "\\", '"']))
    blob = char * (size // len(char.encode()))
    where = draw(st.integers(0, 2))
    if where == 0:
        return Frame("big-string", _dump({"jsonrpc": "2.0", "method": "tools.log", "params": {"entries": blob}}))
    if where == 1:
        return Frame("big-string", _dump({"jsonrpc": "2.0", "id": 3, "method": blob, "params": {}}))
    return Frame("big-string", blob)


invalid_utf8_binary = st.binary(min_size=1, max_size=64).map(lambda b: Frame("binary-invalid-utf8", b"\xff" + b, True))
binary = st.binary(max_size=4096).map(lambda b: Frame("binary", b, True))
garbage = st.text(max_size=200).map(lambda t: Frame("garbage", t))
truncated = _json_values().map(lambda v: _dump({"jsonrpc": "2.0", "id": 1, "method": "x", "params": v}))


def frames() -> st.SearchStrategy[Frame]:
    # Multi-megabyte frames are a few percent of the draws: enough to hit each shape, cheap enough for CI.
    small = st.one_of(
        _envelopes(),
        _typed_params(),
        _calls(),
        _responses(),
        garbage,
        truncated.flatmap(lambda text: st.integers(0, max(0, len(text) - 1)).map(lambda n: Frame("cut", text[:n]))),
        binary,
        invalid_utf8_binary,
        _deep(),
    )
    heavy = st.one_of(_huge_ids(), _big_strings())
    return st.integers(0, 24).flatmap(lambda roll: heavy if roll == 0 else small)
