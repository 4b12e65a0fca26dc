"""HTTP as data: the request value and how an error status becomes a typed error."""

from __future__ import annotations

import pytest

from minillm import (
    APIError,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from minillm.core.http import HTTPRequest, api_error, decode_json_body


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
