"""Streaming, sans-IO: the values a stream yields and the state that turns them into one response.

``StreamChunk`` is what one parsed event yields and what a caller iterating a stream receives.
``StreamAccumulator`` folds chunks (and a wire's explicit ``StreamEnd``) into the final
``CompletionResponse``. ``StreamParser`` is the one object a transport drives:
body bytes in through ``feed()``, chunks for the caller out, and ``finish()`` at the end of the body gives the
response, or a ``StreamError`` when the stream was cut short. Both transports share it, so they only read,
hand over chunks and close.

A stream the provider finished is read on to the end of its body before it is closed, so its connection can
serve the next request (a connection closed with unread bytes is discarded, and the next request pays a new TCP
and TLS handshake). ``StreamParser.drain()`` takes those trailing bytes: it keeps only a usage they carry and
says when to stop reading (``TRAILER_LIMIT``), so a server that keeps sending cannot hold a finished stream.

Everything here is linear in the stream: text and tool-call arguments are kept as lists of pieces and joined
once, so a stream of a hundred thousand one-character chunks costs what its text costs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import APIError, MalformedResponseError, StreamError
from minillm.core.messages import ReasoningPart
from minillm.core.providers.base import StreamEnd
from minillm.core.response import CompletionResponse
from minillm.core.sse import DEFAULT_MAX_EVENT_BYTES, EventTooLargeError, SSEDecoder
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage

if TYPE_CHECKING:
    from minillm.core.providers.base import Provider
    from minillm.core.sse import ServerSentEvent

__all__ = ["TRAILER_LIMIT", "ReasoningPartDelta", "StreamAccumulator", "StreamChunk", "StreamParser", "ToolCallDelta"]

_log = logging.getLogger("minillm")

TRAILER_LIMIT = 64 * 1024
"""How many bytes after the end of a finished stream are read to keep its connection; past this, it is closed."""


@attrs.frozen
class ToolCallDelta:
    """A piece of a streamed tool call: the call's ``index``, and its id, name or an arguments fragment."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments_fragment: str | None = None
    raw: str | None = None
    """The piece's JSON text when it belongs to a tool call of a type minillm does not know (kept aside)."""


@attrs.frozen
class ReasoningPartDelta:
    """A piece of a streamed reasoning item (an Anthropic thinking block, an OpenRouter reasoning detail).

    Pieces with the same ``wire`` and ``index`` build one item; ``index`` None starts a new item. In
    ``fields``, the string values of ``thinking``, ``text``, ``summary``, ``signature`` and ``data`` are
    appended to what came before; any other key keeps its first value. ``ordered_with_tools`` says that the
    index shares its numbering with the tool calls' (Anthropic's content blocks), so the item keeps its place
    among them.
    """

    wire: str
    index: int | None
    fields: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    ordered_with_tools: bool = False


def _deltas(value: Iterable[Any] | None) -> tuple[Any, ...] | None:
    if value is None:
        return None
    items = tuple(value)
    return items or None


@attrs.frozen
class StreamChunk:
    """One step of a stream: new text (``delta``), new readable reasoning (``reasoning_delta``) or refusal
    text (``refusal_delta``), and when they arrive the id, finish reason, usage, tool-call pieces and the
    pieces of reasoning items that go back to the provider (``reasoning_parts``)."""

    delta: str = ""
    id: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] | None = attrs.field(default=None, converter=_deltas)
    reasoning_delta: str = ""
    refusal_delta: str = ""
    reasoning_parts: tuple[ReasoningPartDelta, ...] | None = attrs.field(default=None, converter=_deltas)
    refused: bool = False

    def is_final(self) -> bool:
        """True when this chunk carries a finish reason."""
        return self.finish_reason is not None

    def is_empty(self) -> bool:
        """True when the chunk carries nothing at all (such chunks are skipped)."""
        return (
            not self.delta
            and self.finish_reason is None
            and self.usage is None
            and not self.tool_calls
            and not self.reasoning_delta
            and not self.refusal_delta
            and not self.reasoning_parts
            and not self.refused
        )


_APPENDED_KEYS = frozenset(("thinking", "text", "summary", "signature", "data"))


class _ReasoningAccumulator:
    """Assembles streamed reasoning pieces into ``ReasoningPart`` values, in index order, linearly (string
    fields are kept as lists of pieces and joined once)."""

    def __init__(self) -> None:
        self._slots: dict[tuple[str, int], tuple[ReasoningPartDelta, dict[str, Any]]] = {}
        self._unindexed = 0

    def feed(self, delta: ReasoningPartDelta) -> None:
        if delta.index is None:
            self._unindexed += 1
            key = (delta.wire, -self._unindexed)
        else:
            key = (delta.wire, delta.index)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = (delta, {})
        fields = slot[1]
        for name, value in delta.fields.items():
            if name in _APPENDED_KEYS and isinstance(value, str):
                pieces = fields.setdefault(name, [])
                if isinstance(pieces, list):
                    pieces.append(value)
            elif name not in fields:
                fields[name] = value

    def parts(self, tool_indices: Iterable[int]) -> tuple[ReasoningPart, ...]:
        """The assembled parts; ``tool_indices`` are the streamed tool calls' indices, to place each part
        ordered with them."""
        calls = sorted(tool_indices)
        out: list[tuple[int, ReasoningPart]] = []
        for (wire, index), (first, fields) in self._slots.items():
            block = {k: "".join(v) if isinstance(v, list) else v for k, v in fields.items()}
            if not isinstance(block.get("type"), str):
                _log.warning("dropping a streamed reasoning item without a type (wire %s, index %d)", wire, index)
                continue
            after = sum(1 for c in calls if c < index) if first.ordered_with_tools else 0
            out.append((index if index >= 0 else len(self._slots) - index, ReasoningPart(wire, block, after)))
        out.sort(key=lambda item: item[0])
        return tuple(part for _, part in out)


class _ToolCallSlot:
    """One tool call being assembled: id and name once known, the arguments as fragments."""

    __slots__ = ("fragments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.fragments: list[str] = []


class _ToolCallAccumulator:
    """Assembles streamed tool-call pieces into ``ToolCall`` values.

    Pieces are keyed by their index, which may be sparse or arrive out of order (Anthropic shares the index
    space with text blocks), so the calls come out in ascending index order, not arrival order. A slot that
    never received both an id and a name cannot be called back and is dropped with a warning.
    """

    def __init__(self) -> None:
        self._slots: dict[int, _ToolCallSlot] = {}
        self.unknown: list[str] = []  # the raw pieces of calls of unknown types

    @property
    def seen(self) -> bool:
        """True once any tool-call piece arrived."""
        return bool(self._slots)

    def feed(self, delta: ToolCallDelta) -> None:
        if delta.raw is not None:
            self.unknown.append(delta.raw)
            return
        slot = self._slots.get(delta.index)
        if slot is None:
            slot = self._slots[delta.index] = _ToolCallSlot()
        if delta.id:
            slot.id = delta.id
        if delta.name:
            slot.name = delta.name
        if delta.arguments_fragment:
            slot.fragments.append(delta.arguments_fragment)

    def indices(self) -> list[int]:
        """The indices of the calls seen so far."""
        return list(self._slots)

    def calls(self) -> tuple[ToolCall, ...]:
        """The complete calls in ascending index order."""
        out: list[ToolCall] = []
        for index in sorted(self._slots):
            slot = self._slots[index]
            if not slot.id or not slot.name:
                _log.warning(
                    "dropping the streamed tool call at index %d: it never received both an id and a name "
                    "(id=%r, name=%r)",
                    index,
                    slot.id,
                    slot.name,
                )
                continue
            out.append(ToolCall(slot.id, slot.name, "".join(slot.fragments)))
        return tuple(out)


def _merge_usage(old: Usage | None, new: Usage) -> Usage:
    """The first usage is taken as is; a later one overwrites a token bucket only with a non-zero count and a
    cost or reasoning figure only with a present one (Anthropic sends input tokens at the start, output at
    the end)."""
    if old is None:
        return new
    return Usage(
        uncached_input_tokens=new.uncached_input_tokens or old.uncached_input_tokens,
        cache_read_tokens=new.cache_read_tokens or old.cache_read_tokens,
        cache_write_tokens=new.cache_write_tokens or old.cache_write_tokens,
        completion_tokens=new.completion_tokens or old.completion_tokens,
        cost=old.cost if new.cost is None else new.cost,
        upstream_inference_cost=(
            old.upstream_inference_cost if new.upstream_inference_cost is None else new.upstream_inference_cost
        ),
        reasoning_tokens=old.reasoning_tokens if new.reasoning_tokens is None else new.reasoning_tokens,
    )


class StreamAccumulator:
    """The state of one stream: text, id (the first non-empty one), finish reason, merged usage and tool calls.

    ``model`` is the generator's model, which the response reports whatever the server calls it.
    ``expect_usage`` says that a usage event follows the finish reason (the provider's
    ``expects_stream_usage``), so the stream is only finished once it came, or at an explicit end.
    """

    def __init__(self, model: str, expect_usage: bool) -> None:
        self.model = model
        self.expect_usage = expect_usage
        self._pieces: list[str] = []
        self._length = 0
        self._id = ""
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._tools = _ToolCallAccumulator()
        self._ended = False
        self._reasoning: list[str] = []
        self._refusal: list[str] | None = None
        self._parts: _ReasoningAccumulator | None = None

    def ingest(self, item: StreamChunk | StreamEnd) -> None:
        """Fold one chunk or explicit end into the state.

        A chunk's finish reason overwrites an earlier one; a ``StreamEnd``'s is only a fallback, so a synthetic
        end never replaces ``length``, ``end_turn`` or ``tool_calls`` the provider sent (a ``[DONE]`` after a
        truncated reply must not make it look complete).
        """
        if isinstance(item, StreamEnd):
            self._ended = True
            if self._finish_reason is None:
                self._finish_reason = item.finish_reason
            return
        if item.id and not self._id:
            self._id = item.id
        if item.delta:
            self._pieces.append(item.delta)
            self._length += len(item.delta)
        if item.finish_reason is not None:
            self._finish_reason = item.finish_reason
        if item.tool_calls:
            for delta in item.tool_calls:
                self._tools.feed(delta)
        if item.reasoning_delta:
            self._reasoning.append(item.reasoning_delta)
        if item.refusal_delta or item.refused:
            if self._refusal is None:
                self._refusal = []
            self._refusal.append(item.refusal_delta)
        if item.reasoning_parts:
            if self._parts is None:
                self._parts = _ReasoningAccumulator()
            for part in item.reasoning_parts:
                self._parts.feed(part)
        if item.usage is not None:
            self._usage = _merge_usage(self._usage, item.usage)

    def add_usage(self, usage: Usage) -> None:
        """Merge a usage that came after the end of the stream (only usage is taken from such events)."""
        self._usage = _merge_usage(self._usage, usage)

    @property
    def text(self) -> str:
        """The text so far (the pieces are joined here, once, and kept joined)."""
        if len(self._pieces) > 1:
            self._pieces = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def text_length(self) -> int:
        """The number of characters received so far, without joining the text."""
        return self._length

    @property
    def finished(self) -> bool:
        """A finish reason came (and the usage too when it is expected), or an explicit end."""
        if self._ended:
            return True
        return self._finish_reason is not None and (not self.expect_usage or self._usage is not None)

    @property
    def ended(self) -> bool:
        """True once an explicit end (``[DONE]``, ``message_stop``) was ingested."""
        return self._ended

    @property
    def finish_reason(self) -> str | None:
        return self._finish_reason

    @property
    def usage(self) -> Usage | None:
        return self._usage

    @property
    def id(self) -> str:
        """The first non-empty id a chunk carried, else ``""``."""
        return self._id

    @property
    def reasoning(self) -> str | None:
        """The readable reasoning so far, None when none came."""
        if not self._reasoning:
            return None
        if len(self._reasoning) > 1:
            self._reasoning = ["".join(self._reasoning)]
        return self._reasoning[0]

    @property
    def refusal(self) -> str | None:
        """The refusal text so far (``""`` for a refusal without text), None when the model did not refuse."""
        return None if self._refusal is None else "".join(self._refusal)

    def response(self, headers: Mapping[str, str] | None = None) -> CompletionResponse:
        """The response the stream amounts to, as it stands (tool calls ``()`` when none were streamed)."""
        return CompletionResponse(
            id=self._id,
            model=self.model,
            content=self.text,
            finish_reason=self._finish_reason,
            usage=self._usage,
            tool_calls=self._tools.calls() if self._tools.seen else (),
            headers=headers or {},
            reasoning=self.reasoning,
            refusal=self.refusal,
            reasoning_parts=() if self._parts is None else self._parts.parts(self._tools.indices()),
            unknown_tool_calls=self._tools.unknown,
        )


class StreamParser:
    """Turns one streamed HTTP body into chunks for the caller and, at its end, the ``CompletionResponse``.

    A transport calls ``feed()`` with each piece of the body and hands the returned chunks to the caller,
    ``finish()`` when the body ends, and ``fail()`` when the connection breaks. Once the stream is finished
    (see ``StreamAccumulator.finished``), later events are ignored. An error the provider sends in the stream
    becomes a ``StreamError`` carrying the partial text, with the ``APIError`` as its cause; so does an event
    the wire cannot read (``MalformedResponseError``: data that is not JSON where the wire requires JSON) and
    an event larger than ``max_event_bytes``: text is never silently left out. When the piece that brought
    the error also completed chunks before it, those chunks are returned first and the error is raised by
    the next call (``feed``, ``finish``, or returned by ``fail``), so ``partial_text`` is always exactly the
    text handed over.
    """

    def __init__(
        self,
        provider: Provider,
        model: str,
        include_usage: bool,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._provider = provider
        self._decoder = SSEDecoder(max_event_bytes)
        self._acc = StreamAccumulator(model, provider.expects_stream_usage(include_usage))
        self._error: StreamError | None = None
        self._trailing = 0  # bytes taken by drain()

    @property
    def accumulator(self) -> StreamAccumulator:
        """The state behind this parser (text, id, finish reason, usage so far)."""
        return self._acc

    @property
    def partial_text(self) -> str:
        """The text received so far."""
        return self._acc.text

    @property
    def finished(self) -> bool:
        """True once the provider finished the stream; nothing more will be delivered."""
        return self._acc.finished

    @property
    def error(self) -> StreamError | None:
        """The error that broke the stream, once there is one. A transport checks it before reading on: an
        error held back while the chunks of its piece were handed over is raised without waiting for more
        of the body."""
        return self._error

    def feed(self, data: bytes) -> list[StreamChunk]:
        """Take the next piece of the body; return the chunks (never empty ones) to hand to the caller.

        Raises ``StreamError`` (cause: the ``APIError``) when the provider reports an error in the stream.
        """
        if self._error is not None:
            raise self._error
        try:
            events = self._decoder.feed(data)
        except EventTooLargeError as e:
            chunks = self._take(e.events)
            if self._error is not None or self._acc.finished:
                # An earlier event already failed the stream (that error comes first), or the stream was
                # complete before the oversized event (nothing is missing).
                return chunks
            self._error = StreamError(
                f"{e}; {self._acc.text_length} characters had been received (the partial text is on .partial_text)",
                partial_text=self._acc.text,
            )
            self._error.__cause__ = e
            if chunks:
                return chunks
            raise self._error from e
        return self._take(events)

    def drain(self, data: bytes) -> bool:
        """Take a piece of the body that follows the end of a finished stream; True while reading on is worth it.

        Such bytes are read only so the connection can be reused, and only a usage they carry is kept
        (servers send it after the finish reason); nothing in them, an error event or garbage, fails the
        finished stream. False once more than ``TRAILER_LIMIT`` bytes came: the transport then closes the
        connection rather than reading on.
        """
        self._trailing += len(data)
        if self._trailing > TRAILER_LIMIT:
            return False
        self._trailer(self._decoder.feed(data))
        return True

    def finish(self, headers: Mapping[str, str] | None = None) -> CompletionResponse:
        """End the body and return the response (``headers`` are the HTTP response's).

        A body that ends after the finish reason is complete, with or without ``[DONE]`` (some servers, e.g.
        Hugging Face's ``transformers serve``, never send it); when the
        usage was expected but never came, the response's ``usage`` is ``None``. A body that ends before any
        finish reason or explicit end raises ``StreamError`` with the partial text.
        """
        if self._error is not None:
            raise self._error
        if self._acc.finished:
            self._trailer(self._decoder.finish())
        else:
            self._take(self._decoder.finish())
        if self._acc.finish_reason is None and not self._acc.ended:
            self._error = StreamError(
                "the stream ended before the provider finished it (no finish reason, [DONE] or message_stop "
                f"arrived; {self._acc.text_length} characters received); the connection was probably cut, "
                "so retry the request",
                partial_text=self._acc.text,
            )
            raise self._error
        return self._acc.response(headers)

    def fail(self, exc: BaseException) -> StreamError:
        """The ``StreamError`` to raise when reading the body failed with ``exc`` (its cause), carrying the
        partial text. A ``StreamError`` is returned as it is; an error the stream already had (one held back
        while its piece's chunks were handed over) wins, being the first thing that went wrong."""
        if self._error is not None:
            return self._error
        if isinstance(exc, StreamError):
            self._error = exc
            return exc
        detail = str(exc) or type(exc).__name__
        error = StreamError(
            f"the stream broke after {self._acc.text_length} characters: {detail}; "
            "the partial text is on .partial_text",
            partial_text=self._acc.text,
        )
        error.__cause__ = exc
        self._error = error
        return error

    def _take(self, events: list[ServerSentEvent]) -> list[StreamChunk]:
        out: list[StreamChunk] = []
        acc, parse = self._acc, self._provider.parse_stream_event
        finished = acc.finished
        pending = iter(events)
        for event in pending:
            if finished:
                self._trailer([event, *pending])
                break
            try:
                item = parse(event)
            except APIError as e:
                return self._failed(
                    out,
                    e,
                    f"the provider reported an error in the stream (status {e.status_code}): {e.message}; "
                    f"{self._acc.text_length} characters had been received",
                )
            except MalformedResponseError as e:
                return self._failed(
                    out,
                    e,
                    f"the provider sent a malformed event in the stream ({e}); {self._acc.text_length} "
                    "characters had been received (on .partial_text). The stream was stopped rather than "
                    "leave text out; retry the request",
                )
            if item is None:
                continue
            acc.ingest(item)
            if not isinstance(item, StreamChunk):
                finished = acc.finished  # an explicit end
            elif item.finish_reason is not None or item.usage is not None:
                finished = acc.finished  # only these two can finish a stream
                out.append(item)
            elif item.delta or not item.is_empty():
                out.append(item)
        return out

    def _failed(self, out: list[StreamChunk], cause: Exception, message: str) -> list[StreamChunk]:
        """Record the stream's error; raise it now, or after ``out`` (chunks of the same piece) is handed over."""
        self._error = StreamError(message, partial_text=self._acc.text)
        self._error.__cause__ = cause
        if out:
            return out
        raise self._error from cause

    def _trailer(self, events: list[ServerSentEvent]) -> None:
        """Read events after the end of a finished stream for their usage only (see ``drain``)."""
        acc = self._acc
        for event in events:
            try:
                item = self._provider.parse_stream_event(event)
            except Exception as e:  # a finished stream stays finished, whatever a wire makes of what follows
                _log.debug("ignoring an event after the end of a finished stream: %s: %s", type(e).__name__, e)
                continue
            if isinstance(item, StreamChunk) and item.usage is not None:
                acc.add_usage(item.usage)
