"""HTTP as plain data: the request the core hands to a transport, and how an HTTP answer becomes a value or
a typed error. Nothing here sends anything."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from minillm.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from minillm.core.retry import parse_retry_after
from minillm.core.utf8 import utf8_bytes

__all__ = [
    "HTTPRequest",
    "api_error",
    "body_too_large",
    "decode_json_body",
    "error_message_from_body",
    "loads_json_text",
    "preview",
]

# One encoder for every body (json.dumps with options would build a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

_UTF8_BOM = b"\xef\xbb\xbf"

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "api-key", "cookie"})


def preview(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for error messages."""
    return text if len(text) <= limit else text[:limit] + "…"


def _headers_repr(headers: tuple[tuple[str, str], ...]) -> str:
    shown = [(k, "***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers]
    return repr(shown)


def _to_headers(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple(value)


@attrs.frozen
class HTTPRequest:
    """One request to send: method, URL, headers (in order) and a JSON body (None for no body).

    ``repr`` hides credential headers, so logging a request never leaks a key.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = attrs.field(converter=_to_headers, repr=_headers_repr)
    json: Any = None

    def body_bytes(self) -> bytes:
        """The body as compact UTF-8 JSON (empty when there is no body); a lone surrogate in a string (half
        of an emoji a reply was cut in) is sent as U+FFFD, since no UTF-8 text can hold it."""
        if self.json is None:
            return b""
        return utf8_bytes(_ENCODER.encode(self.json))

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        found = None
        for k, v in self.headers:
            if k.lower() == lowered:
                found = v
        return found


def error_message_from_body(data: Any, raw: str) -> str:
    """The human message inside an error body (``{"error": {"message": ...}}`` and friends, also wrapped in a
    one-item list as Google's OpenAI-compatible endpoint sends it), else a preview."""
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping):
            message = err.get("message")
            if isinstance(message, str) and message:
                return message
            return preview(json.dumps(err, ensure_ascii=False))
        if isinstance(err, str) and err:
            return err
        message = data.get("message")
        if isinstance(message, str) and message:
            return message
    return preview(raw.strip()) or "(empty body)"


def api_error(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed error for a non-2xx answer: 400/404/422 bad request, 401/403 auth, 429 rate limit, 5xx server."""
    raw = body.decode("utf-8", errors="replace")
    try:
        data: Any = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        data = None
    message = error_message_from_body(data, raw)
    lowered = {k.lower(): v for k, v in headers.items()}
    request_id = lowered.get("x-request-id") or lowered.get("request-id")
    payload = data if data is not None else raw
    retry_after = parse_retry_after(lowered)
    if 300 <= status < 400:
        message = _redirect_message(status, lowered.get("location"))
    if status == 429:
        return RateLimitError(message, status_code=status, body=payload, request_id=request_id, retry_after=retry_after)
    kind: type[APIError]
    if status in (401, 403):
        kind = AuthenticationError
        message += " (check the API key or token for this provider)"
    elif status >= 500:
        kind = ServerError
    elif 400 <= status < 500 and status != 408:
        kind = BadRequestError
    else:
        kind = APIError
    return kind(message, status_code=status, body=payload, request_id=request_id, retry_after=retry_after)


def _redirect_message(status: int, location: str | None) -> str:
    """Why a redirect is an error: minillm never follows one, so a credential never reaches another address
    (an API call has no reason to be redirected; a proxy or a moved base URL does)."""
    target = f"to {preview(location)!r}" if location else "with no Location header"
    return (
        f"the provider answered {status}, a redirect {target}; minillm does not follow redirects, so its "
        "credentials never reach another address: set the generator's base URL to where the API really is"
    )


def body_too_large(limit: int) -> MalformedResponseError:
    """The error for an answer body longer than ``limit`` bytes (the client's ``max_response_bytes``)."""
    return MalformedResponseError(
        f"the provider's answer is larger than max_response_bytes ({limit:,} bytes, {limit / 2**20:g} MiB), so "
        "minillm stopped reading it; if replies this large are expected, raise the cap: "
        "SyncClient(max_response_bytes=...) or AsyncClient(max_response_bytes=...)"
    )


_DECODER = json.JSONDecoder()
# The C scanner under raw_decode: (value, end) of the JSON value at an index; StopIteration when there is none.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def loads_json_text(text: str) -> Any:
    """``json.loads(text)``, with one call into the C scanner for the usual text (a document and nothing
    around it), which is most of the cost of reading a stream event; anything else goes the ordinary way.

    Raises ``ValueError`` (``json.JSONDecodeError``) or ``RecursionError`` exactly as ``json.loads`` does.
    """
    try:
        value, end = _SCAN(text, 0)  # raw_decode without its Python frame: the C scanner itself
    except (StopIteration, ValueError):
        return json.loads(text)  # leading whitespace, or not JSON: json.loads says which
    if end != len(text):
        return json.loads(text)  # trailing whitespace, or trailing data (which json.loads refuses)
    return value


def decode_json_body(body: bytes) -> Any:
    """Parse a 2xx body as JSON; anything else is a ``MalformedResponseError`` with a preview."""
    try:
        try:
            # The usual body: UTF-8, a byte-order mark allowed (the plain codec skips the Python-level
            # "utf-8-sig" decoder when there is none).
            text = body[3:].decode() if body[:3] == _UTF8_BOM else body.decode()
            return loads_json_text(text)
        except ValueError:
            return json.loads(body)  # anything else, read as json.loads reads bytes (UTF-16, UTF-32) or refused
    except (ValueError, RecursionError) as e:
        text = body.decode("utf-8", errors="replace")
        raise MalformedResponseError(f"the provider sent a body that is not JSON: {preview(text)!r}") from e
