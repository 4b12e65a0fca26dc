"""Scripted replies for the local test server: what it does with one request, as values.

A ``Reply`` says what the server does with one request: answer with text (streamed or not, with usage, tool
calls, keep-alive comments, a missing terminal event ...), answer with an error, send raw bytes, stay silent,
or reset the connection. ``Reply.render`` turns a reply into a ``ResponsePlan`` for the request it answers: the
status, headers and body pieces, plus timing and failure instructions the server carries out. The shape of each
wire (OpenAI-compatible ``/chat/completions``, Anthropic ``/v1/messages``) is its renderer's business
(``minillm.testing.renderers``), chosen once from the request. Rendering is pure (no sockets, no sleeping), so
the shapes can be read and tested on their own.
"""

from __future__ import annotations

import abc
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage
from minillm.testing.reasoning import Thought, to_thoughts
from minillm.testing.renderers import renderer_for, status_phrase
from minillm.testing.renderers.base import RenderContext, Renderer, dumps, pieces, request_id_for, shape_stream
from minillm.testing.request import RecordedRequest, Wire, echo_text

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

_SSE_HEADERS = [("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]


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


def _to_content(value: str | Sequence[str]) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return value
    pieces = tuple(value)
    if not all(isinstance(piece, str) for piece in pieces):
        raise InvalidParameterError(f"content must be text or a list of strings (the stream deltas), got {value!r}")
    return pieces


# ----- the reply types ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Reply(abc.ABC):
    """What the server does with one request. Build one with ``Reply.text`` (the ``TextReply`` class itself)
    or the other constructors (``Reply.error``, ``Reply.raw`` ...); every kind takes the timing options below.

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

    text: ClassVar[type[TextReply]]
    """A completion: ``Reply.text(content, ...)`` is ``TextReply(content, ...)``, whose fields are the options."""

    @abc.abstractmethod
    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The plan answering ``request`` on its wire; ``sequence`` numbers the generated ids."""

    # ----- constructors ---------------------------------------------------------------------------

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
        in_band = InBandError(message=message, code=code, after_chunks=after_chunks)
        return TextReply(content, chunk_size=chunk_size, chunk_delay=chunk_delay, in_band=in_band)

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

    def _plan(
        self, status: int, defaults: list[tuple[str, str]], body: Iterable[bytes], length: int | None, **extra: Any
    ) -> ResponsePlan:
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


def _merge_headers(defaults: list[tuple[str, str]], extra: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    replaced = {name.lower() for name, _ in extra}
    return tuple(h for h in defaults if h[0].lower() not in replaced) + extra


@attrs.frozen(kw_only=True)
class InBandError:
    """An error a provider reports inside a 200 answer: ``message``, a numeric ``code``, and, in a stream,
    how many content deltas come before it."""

    message: str
    code: int = attrs.field(default=500, validator=_check_status(100, 999))
    after_chunks: int = attrs.field(default=0, validator=_non_negative)


@attrs.frozen
class TextReply(Reply):
    """A completion answering with ``content``: ``Reply.text(content, ...)``; every option is a field below.

    A request without ``"stream": true`` gets the wire's completion object, a streaming one its SSE stream.
    Usage, reasoning, refusals and tool calls are written in each wire's own shape (``minillm.testing.renderers``).
    With ``delay``, ``headers``, ``drop_after_bytes`` and the other options every ``Reply`` takes.
    """

    content: str | tuple[str, ...] = attrs.field(default="", converter=_to_content)
    """The text; or a list of strings, sent as exactly those stream deltas."""
    finish_reason: str | None = attrs.field(default=None, kw_only=True)
    """The finish reason; None: the wire's own (``stop`` / ``end_turn``, ``tool_calls`` / ``tool_use`` with
    tool calls, ``refusal`` for an Anthropic refusal)."""
    usage: Usage | tuple[int, int] | None = attrs.field(default=None, converter=_to_usage, kw_only=True)
    """A ``(prompt_tokens, completion_tokens)`` pair or a ``Usage`` (cache buckets, reasoning, cost); None
    estimates both counts from the text (about 4 characters a token). A stream carries usage only when the
    request asked for it (OpenAI ``stream_options.include_usage``, OpenRouter ``usage.include``); Anthropic
    always sends it."""
    send_usage: bool = attrs.field(default=True, kw_only=True)
    """False: send no usage at all."""
    cost: float | None = attrs.field(default=None, kw_only=True)
    """OpenRouter's ``usage.cost`` (and the ``/generation`` record's ``total_cost``)."""
    model: str | None = attrs.field(default=None, kw_only=True)
    """The model the answer names; None: the request's (``mock-model`` when it names none)."""
    id: str | None = attrs.field(default=None, kw_only=True)
    """The completion's id; None: ``chatcmpl-mock-NNNNNN`` / ``msg_mock_NNNNNN``."""
    chunk_size: int = attrs.field(default=8, validator=_positive_int, kw_only=True)
    """Characters per stream delta (of the text, the reasoning, the refusal and tool arguments)."""
    chunk_delay: float = attrs.field(default=0.0, validator=_non_negative, kw_only=True)
    """Seconds between the pieces of a stream (or of a body written in pieces)."""
    keepalive_comments: int = attrs.field(default=0, validator=_non_negative, kw_only=True)
    """That many ``: OPENROUTER PROCESSING`` comments first (``ping`` events on the Anthropic wire)."""
    terminal: bool = attrs.field(default=True, kw_only=True)
    """False: the stream ends after the last content delta (no finish chunk, no ``[DONE]`` /
    ``message_delta`` / ``message_stop``: a truncated stream)."""
    done_marker: bool = attrs.field(default=True, kw_only=True)
    """False: no ``data: [DONE]`` (``message_stop`` on Anthropic), the finish chunk kept."""
    usage_on_finish_chunk: bool = attrs.field(default=False, kw_only=True)
    """True: the usage rides the finish chunk instead of a ``choices: []`` chunk of its own."""
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tool_calls, kw_only=True)
    """``(id, name, arguments)`` triples (arguments as JSON text or a dict) or ``ToolCall``s; streams send each
    call's start, then its arguments ``chunk_size`` characters at a time."""
    thoughts: tuple[Thought, ...] = attrs.field(default=(), converter=to_thoughts, alias="reasoning", kw_only=True)
    """``reasoning=``: text or ``Thought`` values (thinking with a signature, redacted thinking) sent before
    the content in each wire's shape (see ``minillm.testing.reasoning``)."""
    refusal: str | None = attrs.field(default=None, kw_only=True)
    """The model refuses with this text (``""``: without one): ``message.refusal`` on chat completions,
    ``stop_reason: "refusal"`` on Anthropic."""
    in_band: InBandError | None = attrs.field(default=None, kw_only=True)
    """An error reported inside the 200 answer instead of it (see ``Reply.in_band_error``)."""

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        """The completion object or SSE stream of the request's wire, written by its renderer."""
        renderer = renderer_for(request)
        ctx = RenderContext.of(self, request, sequence, renderer)
        id_header = (renderer.request_id_header, ctx.request_id)
        record = renderer.generation_record(self, ctx)
        if request.stream:
            error = renderer.in_band_event(self.in_band, ctx) if self.in_band is not None else None
            stream = shape_stream(renderer.stream(self, ctx), self, error)
            headers = [*_SSE_HEADERS, id_header]
            return self._plan(200, headers, stream, None, chunk_delay=self.chunk_delay, generation_record=record)
        json_headers = [("Content-Type", "application/json"), id_header]
        if self.in_band is not None:
            data = dumps(renderer.in_band_body(self.in_band, ctx))
            return self._plan(200, json_headers, [data], len(data))
        body, length = self._completion_body(renderer, ctx)
        # A body written in several pieces (LargeReply's) waits chunk_delay between them: a body that trickles.
        return self._plan(200, json_headers, body, length, chunk_delay=self.chunk_delay, generation_record=record)

    # What LargeReply overrides: the content deltas, the content's length and the whole completion body.

    def content_deltas(self) -> Iterator[str]:
        """The text deltas a stream sends: the scripted ones, or the text ``chunk_size`` characters at a time."""
        if isinstance(self.content, str):
            yield from pieces(self.content, self.chunk_size)
        else:
            yield from (piece for piece in self.content if piece)

    def content_length(self) -> int:
        """The length of the whole text, in characters."""
        return len(self._text())

    def _text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(self.content)

    def _completion_body(self, renderer: Renderer, ctx: RenderContext) -> tuple[Iterable[bytes], int]:
        data = dumps(renderer.completion(self, ctx, self._text()))
        return [data], len(data)


Reply.text = TextReply


@attrs.frozen(kw_only=True)
class LargeReply(TextReply):
    """A completion whose content is ``n_bytes`` of ``PATTERN`` repeated, generated piece by piece."""

    PATTERN = "All work and no play makes a very large reply. "
    n_bytes: int = attrs.field(default=0, validator=_non_negative)

    def content_deltas(self) -> Iterator[str]:
        """``PATTERN`` repeated, ``chunk_size`` characters at a time, cut at ``n_bytes``."""
        pattern, size = self.PATTERN, self.chunk_size
        block = pattern * (size // len(pattern) + 2)
        for start in range(0, self.n_bytes, size):
            offset = start % len(pattern)
            yield block[offset : offset + min(size, self.n_bytes - start)]

    def content_length(self) -> int:
        """``n_bytes``."""
        return self.n_bytes

    def _completion_body(self, renderer: Renderer, ctx: RenderContext) -> tuple[Iterable[bytes], int]:
        marker = "@@minillm-large-content@@"
        head, tail = dumps(renderer.completion(self, ctx, marker)).split(dumps(marker)[1:-1], 1)

        def body() -> Iterator[bytes]:
            yield head
            for piece in self.content_deltas():
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
        renderer = renderer_for(request)
        request_id = request_id_for(sequence)
        if isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode("utf-8")
        elif self.body is not None:
            data = dumps(dict(self.body))
        else:
            message = self.message or f"{status_phrase(self.status)} (scripted error from minillm.testing)"
            data = dumps(renderer.error_body(self.status, message, request_id))
        defaults = [("Content-Type", "application/json"), (renderer.request_id_header, request_id)]
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

        return self._plan(200, _SSE_HEADERS, body(), None, chunk_delay=self.chunk_delay)


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
