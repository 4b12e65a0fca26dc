"""Scripted replies for the local test server, and how each one is written on each wire.

A ``Reply`` says what the server does with one request: answer with text (streamed or not, with usage, tool
calls, keep-alive comments, a missing terminal event ...), answer with an error, send raw bytes, stay silent,
or reset the connection. ``Reply.render`` turns a reply into a ``ResponsePlan`` for the request it answers: the
status, headers and body pieces in the shape of that request's wire (OpenAI-compatible ``/chat/completions``
or Anthropic ``/v1/messages``), plus timing and failure instructions the server carries out. Rendering is pure
(no sockets, no sleeping), so the shapes can be read and tested on their own.
"""

from __future__ import annotations

import abc
import enum
import itertools
import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage
from minillm.testing import reasoning as _r

__all__ = [
    "ErrorReply",
    "InBandError",
    "LargeReply",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "ResetReply",
    "ResponsePlan",
    "SSEReply",
    "SilentReply",
    "TextReply",
    "Wire",
    "echo_text",
]

_MOCK_MODEL = "mock-model"
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie"})


class Wire(enum.Enum):
    """Which API a request speaks, told by its method and path."""

    OPENAI = "openai"  # POST .../chat/completions (OpenAI, OpenRouter, generic servers)
    ANTHROPIC = "anthropic"  # POST .../messages
    GENERATION = "generation"  # GET .../generation?id=... (OpenRouter's cost record)
    MODELS = "models"  # GET .../models (OpenRouter's public models list, with prices)
    COUNT_TOKENS = "count_tokens"  # POST .../messages/count_tokens (Anthropic's token count)
    OTHER = "other"  # anything else (a custom provider's endpoint); text replies use the OpenAI shape

    @classmethod
    def of(cls, method: str, path: str) -> Wire:
        """The wire of a request with this method and path (query string excluded)."""
        path = path.rstrip("/")
        if method == "GET" and path.endswith("/generation"):
            return cls.GENERATION
        if method == "GET" and path.endswith("/models"):
            return cls.MODELS
        if path.endswith("/messages/count_tokens"):
            return cls.COUNT_TOKENS
        if path.endswith("/chat/completions"):
            return cls.OPENAI
        if path.endswith("/messages"):
            return cls.ANTHROPIC
        return cls.OTHER


@attrs.frozen(repr=False)
class RecordedRequest:
    """One request the server received: method, path, query, headers (names lower-cased), raw body, the
    body parsed as JSON (``None`` when it is not JSON) and ``connection``, the number of the TCP connection it
    came on (1 for the server's first; equal numbers mean a kept-alive connection was reused). Its repr leaves
    out headers and body, so a key sent to the test server never lands in a log."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    connection: int = 0

    @property
    def wire(self) -> Wire:
        """The API this request speaks (from its method and path)."""
        return Wire.of(self.method, self.path)

    @property
    def stream(self) -> bool:
        """Whether the request asked for a stream (``"stream": true`` in its JSON body)."""
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def model(self) -> str | None:
        """The ``model`` of the JSON body, if any."""
        model = self.json.get("model") if isinstance(self.json, dict) else None
        return model if isinstance(model, str) else None

    def __repr__(self) -> str:
        secret = sorted(_SECRET_HEADERS & self.headers.keys())
        hidden = f", credential headers {secret} hidden" if secret else ""
        return f"RecordedRequest({self.method} {self.path}, {len(self.body)} body bytes, model={self.model!r}{hidden})"


@attrs.frozen
class ResponsePlan:
    """What the server writes for one request: status, headers and body pieces, with timing and failures.

    ``action`` is ``"respond"``, ``"silent"`` (never answer) or ``"reset"`` (close the connection before any
    byte). ``body`` yields the pieces in order; with ``content_length`` None the body is sent chunked, one
    piece per chunk (a stream: one SSE event per piece). ``generation_record`` is the OpenRouter
    ``/generation`` record the server keeps for the completion it answered, if any.
    """

    action: Literal["respond", "silent", "reset"] = "respond"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: Iterable[bytes] = ()
    content_length: int | None = 0
    delay: float = 0.0
    header_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after_bytes: int | None = None
    generation_record: tuple[str, dict[str, Any]] | None = None
    stall_after_bytes: int | None = None


# ----- validation and conversion ------------------------------------------------------------------------


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float | int | None) -> None:
    if value is not None and (not isinstance(value, (int, float)) or value < 0):
        raise InvalidParameterError(f"{attribute.name} must be a number >= 0, got {value!r}")


def _positive_int(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidParameterError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _to_headers(value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs = value.items() if isinstance(value, Mapping) else value
    out = []
    for name, val in pairs:
        if not isinstance(name, str) or not isinstance(val, str) or "\n" in name + val or "\r" in name + val:
            raise InvalidParameterError(f"response header {name!r}: {val!r} must be two strings without newlines")
        out.append((name, val))
    return tuple(out)


ScriptedToolCall = ToolCall | tuple[str, str, str | Mapping[str, Any]]
"""A tool call to script: a ``ToolCall``, or ``(id, name, arguments)`` with the arguments as JSON text or a
dict (sent as its JSON)."""


def _to_tool_calls(value: Iterable[ScriptedToolCall] | None) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    calls = []
    for item in value:
        if isinstance(item, ToolCall):
            calls.append(item)
        elif (
            isinstance(item, tuple)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], str)
            and isinstance(item[2], (str, Mapping))
        ):
            arguments = item[2] if isinstance(item[2], str) else json.dumps(dict(item[2]), ensure_ascii=False)
            calls.append(ToolCall(item[0], item[1], arguments))
        else:
            raise InvalidParameterError(
                "a scripted tool call must be a ToolCall or an (id, name, arguments) tuple with the arguments "
                f"as JSON text or a dict, got {item!r}"
            )
    return tuple(calls)


def _to_usage(value: Usage | tuple[int, int] | None) -> Usage | tuple[int, int] | None:
    if value is None or isinstance(value, Usage):
        return value
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)
    ):
        return (value[0], value[1])
    raise InvalidParameterError(
        f"usage must be a (prompt_tokens, completion_tokens) pair of integers >= 0 or a Usage, got {value!r}"
    )


def _check_status(low: int, high: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
        if not isinstance(value, int) or not low <= value <= high:
            raise InvalidParameterError(f"{attribute.name} must be an HTTP status in {low}..{high}, got {value!r}")

    return check


# ----- the reply types ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Reply(abc.ABC):
    """What the server does with one request. Build one with the classmethods (``Reply.text``,
    ``Reply.error``, ``Reply.raw`` ...); every kind takes the timing options below.

    ``delay``: seconds to wait before the response headers. ``header_byte_delay``: seconds between the
    bytes of the status line and headers (headers that trickle in). ``headers``: extra response headers
    (they replace a default of the same name; the framing headers ``Content-Length``,
    ``Transfer-Encoding`` and ``Connection`` are the server's). ``drop_after_bytes``: close the connection
    after this many bytes of the body, mid-body or mid-stream. ``stall_after_bytes``: go silent after this
    many bytes of the body, keeping the connection open (see ``Reply.stall``).
    """

    delay: float = attrs.field(default=0.0, validator=_non_negative)
    header_byte_delay: float = attrs.field(default=0.0, validator=_non_negative)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_to_headers)
    drop_after_bytes: int | None = attrs.field(default=None, validator=_non_negative)
    stall_after_bytes: int | None = attrs.field(default=None, validator=_non_negative)
    endless_trailer: bytes | None = None

    @abc.abstractmethod
    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The plan answering ``request`` on its wire; ``sequence`` numbers the generated ids."""

    # ----- constructors ---------------------------------------------------------------------------

    @classmethod
    def text(
        cls,
        content: str | Sequence[str] = "",
        *,
        finish_reason: str | None = None,
        usage: Usage | tuple[int, int] | None = None,
        send_usage: bool = True,
        cost: float | None = None,
        model: str | None = None,
        id: str | None = None,
        chunk_size: int = 8,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        keepalive_comments: int = 0,
        terminal: bool = True,
        done_marker: bool = True,
        usage_on_finish_chunk: bool = False,
        drop_after_bytes: int | None = None,
        tool_calls: Iterable[ScriptedToolCall] | None = None,
        headers: Mapping[str, str] | None = None,
        header_byte_delay: float = 0.0,
        reasoning: str | _r.Thought | Iterable[str | _r.Thought] | None = None,
        refusal: str | None = None,
    ) -> TextReply:
        """A completion answering with ``content`` (a list of strings: those exact stream deltas).

        Non-streaming requests get the wire's completion object; ``"stream": true`` requests get its SSE
        stream, ``chunk_size`` characters per delta. ``finish_reason`` defaults to the wire's own
        (``stop`` / ``end_turn``, ``tool_calls`` / ``tool_use`` with tool calls). ``usage``: a
        ``(prompt_tokens, completion_tokens)`` pair or a ``Usage`` (cache buckets, reasoning, cost); None
        estimates both counts from the text (about 4 characters a token); ``send_usage=False`` sends none.
        A stream carries usage only when the request asked for it (OpenAI ``stream_options.include_usage``,
        OpenRouter ``usage.include``); Anthropic always sends it. ``cost``: OpenRouter's ``usage.cost``.
        ``keepalive_comments``: that many ``: OPENROUTER PROCESSING`` comments first (``ping`` events on the
        Anthropic wire). ``terminal=False`` ends the stream after the last content delta (no finish chunk,
        no ``[DONE]`` / ``message_delta`` / ``message_stop``: a truncated stream). ``done_marker=False``
        omits ``data: [DONE]`` (``message_stop`` on Anthropic) but keeps the finish chunk.
        ``usage_on_finish_chunk=True`` puts the usage on the finish chunk instead of a ``choices: []``
        chunk. ``tool_calls``: ``(id, name, arguments)`` triples (arguments as JSON text or a dict) or
        ``ToolCall``s; streams send each call's start, then its arguments ``chunk_size`` characters at a time.
        ``reasoning``: text or ``Thought`` values (thinking with a signature, redacted thinking) sent before
        the content in each wire's shape (see ``minillm.testing.reasoning``). ``refusal``: the model refuses
        with this text (``""``: without one): ``message.refusal`` on chat completions, ``stop_reason:
        "refusal"`` on Anthropic.
        """
        chunks = None if isinstance(content, str) else tuple(content)
        return TextReply(
            content=content if isinstance(content, str) else "".join(content),
            chunks=chunks,
            finish_reason=finish_reason,
            usage=usage,
            send_usage=send_usage,
            cost=cost,
            model=model,
            id=id,
            chunk_size=chunk_size,
            delay=delay,
            chunk_delay=chunk_delay,
            keepalive_comments=keepalive_comments,
            terminal=terminal,
            done_marker=done_marker,
            usage_on_finish_chunk=usage_on_finish_chunk,
            drop_after_bytes=drop_after_bytes,
            tool_calls=tool_calls,
            headers=headers,
            header_byte_delay=header_byte_delay,
            thoughts=_r.to_thoughts(reasoning),
            refusal=refusal,
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        delay: float = 0.0,
    ) -> ErrorReply:
        """An HTTP error in the wire's error JSON (OpenAI ``{"error": {"message", "type", "param",
        "code"}}``, Anthropic ``{"type": "error", "error": {"type", "message"}}``), or ``body`` verbatim.
        E.g. ``Reply.error(429, headers={"Retry-After": "1"})``."""
        return ErrorReply(status=status, message=message, body=body, headers=headers, delay=delay)

    @classmethod
    def in_band_error(
        cls,
        message: str = "The provider failed while generating (scripted by minillm.testing)",
        *,
        code: int = 500,
        after_chunks: int = 0,
        content: str | Sequence[str] = "Once upon a time, in a land far away",
        chunk_size: int = 8,
        chunk_delay: float = 0.0,
    ) -> TextReply:
        """An error reported inside a 200 answer: without streaming, a body holding only an error object
        (OpenRouter's ``{"error": {"code", "message"}}``, Anthropic's error envelope); when streaming, an
        error event after ``after_chunks`` deltas of ``content`` (OpenRouter's error chunk with
        ``finish_reason: "error"``, Anthropic's ``event: error``), then the body ends."""
        reply = cls.text(content, chunk_size=chunk_size, chunk_delay=chunk_delay)
        return attrs.evolve(reply, in_band=InBandError(message=message, code=code, after_chunks=after_chunks))

    @classmethod
    def raw(
        cls,
        status: int,
        body: bytes | str,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
        delay: float = 0.0,
    ) -> RawReply:
        """Exactly these bytes with this status: an HTML error page, a non-JSON or truncated JSON 200 ..."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        return RawReply(status=status, body=data, content_type=content_type, headers=headers, delay=delay)

    @classmethod
    def json(cls, value: Any, *, chunk_size: int = 8, delay: float = 0.0) -> Reply:
        """A reply whose JSON is ``value``, shaped for the request's schema: the text, or the input of an
        Anthropic forced tool; a strict schema that breaks OpenAI's rules gets OpenAI's 400 (see
        ``minillm.testing.structured``). A str is sent as it is (broken JSON, prose)."""
        from minillm.testing.structured import JSONReply

        return JSONReply(value=value, chunk_size=chunk_size, delay=delay)

    @classmethod
    def sse(
        cls,
        *pieces: bytes | str,
        endless: bytes | str | None = None,
        chunk_delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> SSEReply:
        """A 200 event stream of exactly these pieces (each written as one chunk, whatever the wire): a
        malformed event, an event cut short, a hostile stream. With ``endless``, that piece follows, over and
        over, until the client hangs up or the server stops: ``endless="x" * 4096`` after ``"data: "`` is one
        line that never ends; ``endless="data: x\\n"`` is an event that never ends."""
        data = tuple(p.encode("utf-8") if isinstance(p, str) else p for p in pieces)
        again = endless.encode("utf-8") if isinstance(endless, str) else endless
        return SSEReply(pieces=data, endless=again, chunk_delay=chunk_delay, headers=headers, delay=delay)

    @classmethod
    def silent(cls) -> SilentReply:
        """Read the request and never answer; the connection stays open until the server stops."""
        return SilentReply()

    @classmethod
    def reset(cls, *, delay: float = 0.0) -> ResetReply:
        """Read the request, then (after ``delay``) reset the connection (TCP RST) before sending a byte."""
        return ResetReply(delay=delay)

    @classmethod
    def large(
        cls,
        n_bytes: int,
        *,
        chunk_size: int = 16_384,
        chunk_delay: float = 0.0,
        delay: float = 0.0,
        drop_after_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> LargeReply:
        """A valid completion whose content is ``n_bytes`` ASCII characters, generated and written in pieces
        (never held in memory whole); streams send ``chunk_size`` characters per delta. The content is
        ``LargeReply.PATTERN`` repeated and cut at ``n_bytes``. ``chunk_delay`` is the wait between pieces,
        of a stream or of a whole body (``chunk_size`` characters each): a body that trickles in."""
        return LargeReply(
            n_bytes=n_bytes,
            chunk_size=chunk_size,
            chunk_delay=chunk_delay,
            delay=delay,
            drop_after_bytes=drop_after_bytes,
            headers=headers,
        )

    @staticmethod
    def trickle(reply: Reply, byte_delay: float) -> Reply:
        """``reply`` with its status line and headers written one byte at a time, ``byte_delay`` apart."""
        return attrs.evolve(reply, header_byte_delay=byte_delay)

    @staticmethod
    def stall(reply: Reply, after_bytes: int) -> Reply:
        """``reply`` going silent after ``after_bytes`` bytes of its body (a server that hangs mid-answer or
        mid-stream): the connection stays open, with nothing more sent, until the client gives up."""
        return attrs.evolve(reply, stall_after_bytes=after_bytes)

    @staticmethod
    def keep_sending(reply: Reply, data: bytes = b": still here\n\n") -> Reply:
        """``reply`` followed, once its body is written, by ``data`` again and again until the client hangs
        up (a server that never ends a finished stream). The body is sent chunked."""
        if not data:
            raise InvalidParameterError("Reply.keep_sending needs some bytes to send: pass a non-empty data=")
        return attrs.evolve(reply, endless_trailer=data)

    # ----- shared rendering helpers ---------------------------------------------------------------

    def _plan(self, status: int, defaults: list[tuple[str, str]], body: Iterable[bytes], length: int | None,
              **extra: Any) -> ResponsePlan:
        if self.endless_trailer is not None:
            # Bounded (1 GiB) only so a client that never hangs up cannot keep the server busy for ever.
            repeats = (1 << 30) // len(self.endless_trailer)
            body, length = itertools.chain(body, itertools.repeat(self.endless_trailer, repeats)), None
        return ResponsePlan(
            status=status,
            headers=_merge_headers(defaults, self.headers),
            body=body,
            content_length=length,
            delay=self.delay,
            header_byte_delay=self.header_byte_delay,
            drop_after_bytes=self.drop_after_bytes,
            stall_after_bytes=self.stall_after_bytes,
            **extra,
        )


@attrs.frozen(kw_only=True)
class InBandError:
    """An error a provider reports inside a 200 answer: ``message``, a numeric ``code``, and, in a stream,
    how many content deltas come before it."""

    message: str
    code: int = attrs.field(default=500, validator=_check_status(100, 999))
    after_chunks: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen(kw_only=True)
class TextReply(Reply):
    """A completion: text, optional tool calls, usage, and how its stream is shaped (see ``Reply.text``)."""

    content: str = ""
    chunks: tuple[str, ...] | None = None
    finish_reason: str | None = None
    usage: Usage | tuple[int, int] | None = attrs.field(default=None, converter=_to_usage)
    send_usage: bool = True
    cost: float | None = None
    model: str | None = None
    id: str | None = None
    chunk_size: int = attrs.field(default=8, validator=_positive_int)
    chunk_delay: float = attrs.field(default=0.0, validator=_non_negative)
    keepalive_comments: int = attrs.field(default=0, validator=_non_negative)
    terminal: bool = True
    done_marker: bool = True
    usage_on_finish_chunk: bool = False
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tool_calls)
    in_band: InBandError | None = None
    thoughts: tuple[_r.Thought, ...] = attrs.field(default=(), converter=_r.to_thoughts)
    refusal: str | None = None

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The wire's completion object or SSE stream (OpenAI shape for any path but ``.../messages``)."""
        ctx = _Context.of(self, request, sequence)
        anthropic = request.wire is Wire.ANTHROPIC
        record = None if anthropic else ctx.generation_record(self)
        if request.stream:
            events = _anthropic_events(self, ctx) if anthropic else _openai_events(self, ctx)
            error_event = (_anthropic_error_event if anthropic else _openai_error_event)(self, ctx)
            stream = _shape_stream(events, error_event, self)
            sse = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
            return self._plan(
                200, [*sse, *ctx.id_headers()], stream, None, chunk_delay=self.chunk_delay, generation_record=record
            )
        json_headers = [("Content-Type", "application/json"), *ctx.id_headers()]
        if self.in_band is not None:
            code, message = self.in_band.code, self.in_band.message
            obj = (
                _anthropic_error_body(code, message, ctx.request_id)
                if anthropic
                else {"error": {"code": code, "message": message}}
            )
            data = _dumps(obj)
            return self._plan(200, json_headers, [data], len(data))
        body, length = self._completion_body(ctx, anthropic)
        # A body written in several pieces (LargeReply's) waits chunk_delay between them: a body that trickles.
        return self._plan(200, json_headers, body, length, chunk_delay=self.chunk_delay, generation_record=record)

    # Hooks LargeReply overrides: the content deltas and the whole completion body.

    def _pieces(self) -> Iterator[str]:
        if self.chunks is not None:
            yield from (c for c in self.chunks if c)
            return
        text, size = self.content, self.chunk_size
        for start in range(0, len(text), size):
            yield text[start : start + size]

    def _content_length(self) -> int:
        return len(self.content)

    def _completion_body(self, ctx: _Context, anthropic: bool) -> tuple[Iterable[bytes], int]:
        obj = _anthropic_message(self, ctx, self.content) if anthropic else _openai_completion(self, ctx, self.content)
        data = _dumps(obj)
        return [data], len(data)


@attrs.frozen(kw_only=True)
class LargeReply(TextReply):
    """A completion whose content is ``n_bytes`` of ``PATTERN`` repeated, generated piece by piece."""

    PATTERN = "All work and no play makes a very large reply. "
    n_bytes: int = attrs.field(default=0, validator=_non_negative)

    def _pieces(self) -> Iterator[str]:
        pattern, size = self.PATTERN, self.chunk_size
        block = pattern * (size // len(pattern) + 2)
        for start in range(0, self.n_bytes, size):
            offset = start % len(pattern)
            yield block[offset : offset + min(size, self.n_bytes - start)]

    def _content_length(self) -> int:
        return self.n_bytes

    def _completion_body(self, ctx: _Context, anthropic: bool) -> tuple[Iterable[bytes], int]:
        marker = "@@minillm-large-content@@"
        obj = _anthropic_message(self, ctx, marker) if anthropic else _openai_completion(self, ctx, marker)
        head, tail = _dumps(obj).split(_dumps(marker)[1:-1], 1)

        def body() -> Iterator[bytes]:
            yield head
            for piece in self._pieces():
                yield piece.encode("ascii")
            yield tail

        return body(), len(head) + self.n_bytes + len(tail)


@attrs.frozen(kw_only=True)
class ErrorReply(Reply):
    """An HTTP error status with the wire's error body, or ``body`` as given (see ``Reply.error``)."""

    status: int = attrs.field(validator=_check_status(400, 599))
    message: str | None = None
    body: bytes | str | Mapping[str, Any] | None = None

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The status with ``body``, or a JSON error object shaped for the request's wire."""
        request_id = _request_id(sequence)
        message = self.message or f"{_reason(self.status)} (scripted error from minillm.testing)"
        if isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode("utf-8")
        elif self.body is not None:
            data = _dumps(dict(self.body))
        elif request.wire is Wire.ANTHROPIC:
            data = _dumps(_anthropic_error_body(self.status, message, request_id))
        else:
            kind, code = _openai_error_kind(self.status)
            data = _dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})
        defaults = [("Content-Type", "application/json"), *_id_headers(request.wire, request_id)]
        return self._plan(self.status, defaults, [data], len(data))


@attrs.frozen(kw_only=True)
class RawReply(Reply):
    """These exact body bytes with this status and content type (see ``Reply.raw``)."""

    status: int = attrs.field(validator=_check_status(200, 599))
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The bytes as they are."""
        return self._plan(self.status, [("Content-Type", self.content_type)], [self.body], len(self.body))


def _nonempty_or_none(_instance: object, attribute: attrs.Attribute[Any], value: bytes | None) -> None:
    if value is not None and not value:
        raise InvalidParameterError(f"{attribute.name} must be non-empty bytes or None")


@attrs.frozen(kw_only=True)
class SSEReply(Reply):
    """An event stream of these exact pieces, then ``endless`` repeated for ever (see ``Reply.sse``)."""

    pieces: tuple[bytes, ...] = ()
    endless: bytes | None = attrs.field(default=None, validator=_nonempty_or_none)
    chunk_delay: float = attrs.field(default=0.0, validator=_non_negative)

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The pieces, sent chunked as they are."""

        def body() -> Iterator[bytes]:
            yield from self.pieces
            while self.endless is not None:
                yield self.endless

        headers = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
        return self._plan(200, headers, body(), None, chunk_delay=self.chunk_delay)


@attrs.frozen(kw_only=True)
class SilentReply(Reply):
    """Never answer (see ``Reply.silent``)."""

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """A plan with no response at all."""
        return ResponsePlan(action="silent")


@attrs.frozen(kw_only=True)
class ResetReply(Reply):
    """Reset the connection before any byte of the response (see ``Reply.reset``)."""

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """A plan that resets the connection after ``delay``."""
        return ResponsePlan(action="reset", delay=self.delay)


# ----- the default reply --------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def echo_text(request: RecordedRequest) -> str:
    """The default answer: ``"Echo: "`` and the text of the request's last user message."""
    messages = request.json.get("messages") if isinstance(request.json, dict) else None
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return "Echo: " + _text_of(message.get("content"))
    return "Echo: "


# ----- rendering ----------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {529: "Overloaded"}.get(status, "Error")


def _merge_headers(defaults: list[tuple[str, str]], extra: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    replaced = {name.lower() for name, _ in extra}
    return tuple(h for h in defaults if h[0].lower() not in replaced) + extra


def _request_id(sequence: int) -> str:
    return f"req_mock_{sequence:06d}"


def _id_headers(wire: Wire, request_id: str) -> list[tuple[str, str]]:
    return [("request-id" if wire is Wire.ANTHROPIC else "x-request-id", request_id)]


def _estimate_tokens(text_length: int) -> int:
    return max(1, (text_length + 3) // 4)


def _prompt_length(body: Any) -> int:
    if not isinstance(body, dict):
        return 0
    total = len(_text_of(body.get("system")))
    messages = body.get("messages")
    if isinstance(messages, list):
        total += sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))
    return total


def _openai_error_kind(status: int) -> tuple[str, str | None]:
    known: dict[int, tuple[str, str | None]] = {
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }
    return known.get(status, ("server_error", None) if status >= 500 else ("invalid_request_error", None))


def _anthropic_error_body(status: int, message: str, request_id: str) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "billing_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        504: "timeout_error",
        529: "overloaded_error",
    }
    kind = kinds.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}


@attrs.frozen
class _Tokens:
    uncached: int
    read: int
    write: int
    completion: int
    reasoning: int | None
    cost: float | None
    upstream: float | None

    def openai(self) -> dict[str, Any]:
        # prompt_tokens counts uncached + cache reads; cache writes ride prompt_tokens_details, on top
        # (the reading minillm's OpenAI-dialect parser applies, so a scripted Usage comes back unchanged).
        prompt = self.uncached + self.read
        details: dict[str, Any] = {"cached_tokens": self.read, "audio_tokens": 0}
        if self.write:
            details["cache_write_tokens"] = self.write
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": self.completion,
            "total_tokens": prompt + self.completion,
            "prompt_tokens_details": details,
            "completion_tokens_details": {"reasoning_tokens": self.reasoning or 0, "audio_tokens": 0},
        }
        if self.cost is not None:
            usage["cost"] = self.cost
            usage["is_byok"] = self.upstream is not None
        if self.upstream is not None:
            usage["cost_details"] = {"upstream_inference_cost": self.upstream}
        return usage

    def anthropic_input(self) -> dict[str, Any]:
        return {
            "input_tokens": self.uncached,
            "cache_creation_input_tokens": self.write,
            "cache_read_input_tokens": self.read,
        }


@attrs.frozen
class _Context:
    """What rendering needs to know about the request a reply answers."""

    response_id: str
    request_id: str
    model: str
    wire: Wire
    include_usage: bool
    stream: bool
    created: int
    tokens: _Tokens | None
    openrouter: bool = False

    @classmethod
    def of(cls, reply: TextReply, request: RecordedRequest, sequence: int) -> _Context:
        body = request.json if isinstance(request.json, dict) else {}
        if request.wire is Wire.ANTHROPIC:
            wanted = True
            default_id = f"msg_mock_{sequence:06d}"
        else:
            options, usage_opt = body.get("stream_options"), body.get("usage")
            wanted = not request.stream or (
                (isinstance(options, dict) and options.get("include_usage") is True)
                or (isinstance(usage_opt, dict) and usage_opt.get("include") is True)
            )
            default_id = f"chatcmpl-mock-{sequence:06d}"
        return cls(
            response_id=reply.id or default_id,
            request_id=_request_id(sequence),
            model=reply.model or request.model or _MOCK_MODEL,
            wire=request.wire,
            include_usage=wanted and reply.send_usage,
            stream=request.stream,
            created=int(time.time()),
            tokens=_tokens(reply, request) if reply.send_usage else None,
            openrouter=_r.is_openrouter_path(request.path),
        )

    def id_headers(self) -> list[tuple[str, str]]:
        return _id_headers(self.wire, self.request_id)

    def generation_record(self, reply: TextReply) -> tuple[str, dict[str, Any]]:
        """The OpenRouter ``/generation`` record of this completion (reference §12.5's fields)."""
        t = self.tokens or _Tokens(0, 0, 0, 0, None, reply.cost, None)
        record = {
            "id": self.response_id,
            "total_cost": t.cost if t.cost is not None else 0.0,
            "upstream_inference_cost": t.upstream,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(self.created)),
            "model": self.model,
            "streamed": self.stream,
            "cancelled": False,
            "provider_name": "minillm.testing",
            "finish_reason": _finish_reason(reply, Wire.OPENAI),
            "tokens_prompt": t.uncached + t.read,
            "tokens_completion": t.completion,
            "native_tokens_prompt": t.uncached + t.read,
            "native_tokens_completion": t.completion,
            "native_tokens_cached": t.read,
            "native_tokens_reasoning": t.reasoning,
            "is_byok": t.upstream is not None,
            "api_type": "completions",
        }
        return self.response_id, record


def _tokens(reply: TextReply, request: RecordedRequest) -> _Tokens:
    usage = reply.usage
    if isinstance(usage, Usage):
        return _Tokens(
            usage.uncached_input_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.completion_tokens,
            usage.reasoning_tokens,
            reply.cost if reply.cost is not None else usage.cost,
            usage.upstream_inference_cost,
        )
    if usage is None:
        arguments = sum(len(c.arguments) for c in reply.tool_calls)
        prompt = _estimate_tokens(_prompt_length(request.json))
        usage = (prompt, _estimate_tokens(reply._content_length() + arguments))
    return _Tokens(usage[0], 0, 0, usage[1], None, reply.cost, None)


def _finish_reason(reply: TextReply, wire: Wire) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    if wire is Wire.ANTHROPIC:
        if reply.refusal is not None:
            return "refusal"
        return "tool_use" if reply.tool_calls else "end_turn"
    return "tool_calls" if reply.tool_calls else "stop"


def _openai_completion(reply: TextReply, ctx: _Context, content: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if content or not reply.tool_calls else None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    message.update(_r.message_fields(reply.thoughts, reply.refusal, ctx.openrouter))
    if reply.refusal is not None and not content:
        message["content"] = None
    obj: dict[str, Any] = {
        "id": ctx.response_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(reply, Wire.OPENAI)}
        ],
    }
    if ctx.tokens is not None:
        obj["usage"] = ctx.tokens.openai()
    return obj


def _tool_input(call: ToolCall) -> Any:
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError as e:
        raise InvalidParameterError(
            f"scripted tool call {call.id!r} ({call.name}): the Anthropic wire sends arguments as a JSON object "
            f"(`input`), and {call.arguments!r} is not JSON ({e}); script valid JSON, or stream it"
        ) from e
    return value


def _anthropic_message(reply: TextReply, ctx: _Context, content: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = _r.anthropic_blocks(reply.thoughts)
    if content or not (reply.tool_calls or reply.refusal is not None):
        blocks.append({"type": "text", "text": content})
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c)} for c in reply.tool_calls]
    obj: dict[str, Any] = {
        "id": ctx.response_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": blocks,
        "stop_reason": _finish_reason(reply, Wire.ANTHROPIC),
        "stop_sequence": None,
    }
    if reply.refusal is not None:
        obj["stop_details"] = _r.anthropic_stop_details(reply.refusal)
    if ctx.tokens is not None:
        obj["usage"] = {**ctx.tokens.anthropic_input(), "output_tokens": ctx.tokens.completion}
    return obj


# ----- streams ------------------------------------------------------------------------------------------
#
# A stream is rendered as (kind, event bytes) pairs; ``_shape_stream`` then applies the reply's in-band error
# and truncation. Kinds: "lead" (structure before or between content), "content" (a text or tool delta),
# "close" (structure after content: content_block_stop), "finish" (the finish chunk and everything after it).

_Event = tuple[Literal["lead", "content", "close", "finish"], bytes]


def _sse(obj: Any, event: str | None = None) -> bytes:
    data = b"data: " + _dumps(obj) + b"\n\n"
    return b"event: " + event.encode("utf-8") + b"\n" + data if event else data


def _arguments_pieces(call: ToolCall, size: int) -> Iterator[str]:
    for start in range(0, len(call.arguments), size):
        yield call.arguments[start : start + size]


def _openai_events(reply: TextReply, ctx: _Context) -> Iterator[_Event]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
        obj: dict[str, Any] = {
            "id": ctx.response_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if ctx.include_usage:
            obj["usage"] = usage  # OpenAI sends "usage": null on every chunk before the usage chunk
        return _sse(obj)

    for _ in range(reply.keepalive_comments):
        yield "lead", b": OPENROUTER PROCESSING\n\n"
    yield "lead", chunk({"role": "assistant", "content": ""})
    for delta in _r.stream_deltas(reply.thoughts, reply.refusal, ctx.openrouter, reply.chunk_size):
        yield "content", chunk(delta)
    for piece in reply._pieces():
        yield "content", chunk({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        start = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield "content", chunk({"tool_calls": [start]})
        for fragment in _arguments_pieces(call, reply.chunk_size):
            yield "content", chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
    finish = _finish_reason(reply, Wire.OPENAI)
    usage = ctx.tokens.openai() if ctx.tokens is not None and ctx.include_usage else None
    if usage is not None and reply.usage_on_finish_chunk:
        yield "finish", chunk({}, finish, usage=usage)
    else:
        yield "finish", chunk({}, finish)
        if usage is not None:
            yield "finish", chunk(None, usage=usage)
    if reply.done_marker:
        yield "finish", b"data: [DONE]\n\n"


def _openai_error_event(reply: TextReply, ctx: _Context) -> bytes | None:
    if reply.in_band is None:
        return None
    return _sse(
        {
            "id": ctx.response_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "error": {"code": reply.in_band.code, "message": reply.in_band.message},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }
    )


def _anthropic_events(reply: TextReply, ctx: _Context) -> Iterator[_Event]:
    tokens = ctx.tokens
    message: dict[str, Any] = {
        "id": ctx.response_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if tokens is not None:
        message["usage"] = {**tokens.anthropic_input(), "output_tokens": 1}
    yield "lead", _sse({"type": "message_start", "message": message}, "message_start")
    for _ in range(reply.keepalive_comments):
        yield "lead", _sse({"type": "ping"}, "ping")
    index = len(reply.thoughts)
    for _, event in _r.anthropic_stream(reply.thoughts, reply.chunk_size):
        kind = event["type"]
        yield ("close" if kind == "content_block_stop" else "content"), _sse(event, kind)
    if reply._content_length() or not (reply.tool_calls or reply.refusal is not None):
        start = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        yield "lead", _sse(start, "content_block_start")
        for piece in reply._pieces():
            delta = {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}
            yield "content", _sse(delta, "content_block_delta")
        yield "close", _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    for offset, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        start = {"type": "content_block_start", "index": index + offset, "content_block": block}
        yield "content", _sse(start, "content_block_start")
        for fragment in _arguments_pieces(call, reply.chunk_size):
            json_delta = {"type": "input_json_delta", "partial_json": fragment}
            event = {"type": "content_block_delta", "index": index + offset, "delta": json_delta}
            yield "content", _sse(event, "content_block_delta")
        yield "close", _sse({"type": "content_block_stop", "index": index + offset}, "content_block_stop")
    finish: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": _finish_reason(reply, Wire.ANTHROPIC), "stop_sequence": None},
    }
    if reply.refusal is not None:
        finish["delta"]["stop_details"] = _r.anthropic_stop_details(reply.refusal)
    if tokens is not None:
        finish["usage"] = {**tokens.anthropic_input(), "output_tokens": tokens.completion}
    yield "finish", _sse(finish, "message_delta")
    if reply.done_marker:
        yield "finish", _sse({"type": "message_stop"}, "message_stop")


def _anthropic_error_event(reply: TextReply, ctx: _Context) -> bytes | None:
    if reply.in_band is None:
        return None
    body = _anthropic_error_body(reply.in_band.code, reply.in_band.message, ctx.request_id)
    del body["request_id"]
    return _sse(body, "error")


def _shape_stream(events: Iterator[_Event], error: bytes | None, reply: TextReply) -> Iterator[bytes]:
    """Apply the in-band error (after ``after_chunks`` content events, else before the finish) and
    ``terminal=False`` (end right after the last content event) to a rendered stream."""
    after = reply.in_band.after_chunks if reply.in_band is not None else 0
    sent = 0
    held: list[bytes] = []  # "close" events, sent only if something other than the finish follows
    for kind, data in events:
        if error is not None and (kind == "finish" or (kind == "content" and sent >= after)):
            yield error
            return
        if kind == "finish" and not reply.terminal:
            return
        if kind == "close" and not reply.terminal:
            held.append(data)
            continue
        yield from held
        held.clear()
        yield data
        if kind == "content":
            sent += 1
