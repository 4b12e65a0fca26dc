"""HTTP as data: the request value, how an error status becomes a typed error, and the JSON readers (whose
fast path, one call into the C scanner for the usual text, must read and refuse exactly what ``json.loads`` does)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minillm import (
    APIError,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from minillm.core.http import HTTPRequest, api_error, decode_json_body, loads_json_text


def test_request_body_and_headers() -> None:
    headers = [("Authorization", "Bearer sk-secret"), ("X-A", "1")]
    request = HTTPRequest("POST", "http://127.0.0.1/x", headers, {"k": "é"})
    assert request.body_bytes() == '{"k":"é"}'.encode()
    assert request.header("authorization") == "Bearer sk-secret"
    assert request.header("missing") is None
    assert "sk-secret" not in repr(request) and "'X-A', '1'" in repr(request)
    assert HTTPRequest("GET", "http://127.0.0.1/x", []).body_bytes() == b""


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (404, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (529, ServerError),
        (408, APIError),
    ],
)
def test_status_maps_to_a_typed_error(status: int, kind: type[APIError]) -> None:
    error = api_error(status, {}, b'{"error": {"message": "nope", "type": "x"}}')
    assert type(error) is kind
    assert error.status_code == status and error.message.startswith("nope")
    assert error.body == {"error": {"message": "nope", "type": "x"}}


def test_error_messages_from_various_bodies() -> None:
    assert api_error(400, {}, b'{"error": "plain string"}').message == "plain string"
    assert api_error(400, {}, b'{"message": "top level"}').message == "top level"
    assert api_error(502, {}, b"<html>Bad gateway</html>").message == "<html>Bad gateway</html>"
    assert api_error(500, {}, b"").message == "(empty body)"
    long = api_error(500, {}, b"x" * 1000).message
    assert len(long) == 201 and long.endswith("…")
    anthropic = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert api_error(529, {}, anthropic).message == "Overloaded"


def test_auth_errors_say_what_to_check() -> None:
    assert "API key" in str(api_error(401, {}, b'{"error": {"message": "bad key"}}'))


def test_retry_after_and_request_id_are_kept() -> None:
    error = api_error(429, {"Retry-After": "7", "X-Request-Id": "req_1"}, b"{}")
    assert isinstance(error, RateLimitError) and error.retry_after == 7.0 and error.request_id == "req_1"
    assert "req_1" in str(error)
    assert api_error(503, {"retry-after-ms": "1500"}, b"").retry_after == 1.5


def test_decode_json_body() -> None:
    assert decode_json_body(b'{"a": 1}') == {"a": 1}
    with pytest.raises(MalformedResponseError, match="not JSON"):
        decode_json_body(b"<html>oops</html>")
    with pytest.raises(MalformedResponseError):
        decode_json_body(b"[" * 100_000)
    with pytest.raises(MalformedResponseError):
        decode_json_body(b"\xff\xfe")


# ----- JSON readers ---------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
padding = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


def _outcome(read: Any, text: Any) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except (ValueError, RecursionError) as e:
        return "error", type(e)


@given(json_values, padding, padding)
def test_loads_json_text_reads_what_json_loads_reads(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value) + after
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@given(st.text(max_size=40))
def test_loads_json_text_refuses_what_json_loads_refuses(text: str) -> None:
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@pytest.mark.parametrize(
    "text", ['{"a": 1} {"b": 2}', '{"a": 1} x', "\ufeff{}", "NaN", "[1, 2", "", " ", '"\\ud800"', "1e400"]
)
def test_loads_json_text_edge_cases(text: str) -> None:
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark
        '{"a": "\u00e9"}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-16-le"),  # no byte-order mark: json.loads detects it from the zero bytes
        '{"a": 1}'.encode("utf-32"),
        b" [1, 2] ",
    ],
)
def test_decode_json_body_reads_every_encoding_json_loads_reads(body: bytes) -> None:
    assert decode_json_body(body) == json.loads(body)


@pytest.mark.parametrize("body", [b"", b"nope", b'{"a": 1} x', b"\xff\xfe", b"\xc3\x28", b"[" * 100_000])
def test_decode_json_body_refuses_what_json_loads_refuses(body: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        decode_json_body(body)
