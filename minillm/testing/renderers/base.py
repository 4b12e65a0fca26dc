"""What every renderer shares: the ``Renderer`` protocol, the facts of one answer, and the stream shaping.

A renderer writes a scripted completion in one wire's shape: the completion body, the stream events, the error
bodies and the request-id header. The server picks one per request (``renderer_for``); everything here is pure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from minillm.core.usage import Usage
from minillm.testing.request import RecordedRequest, estimate_tokens, prompt_length

if TYPE_CHECKING:
    from minillm.testing.replies import InBandError, TextReply

__all__ = [
    "MOCK_MODEL",
    "RenderContext",
    "Renderer",
    "StreamEvent",
    "Tokens",
    "dumps",
    "pieces",
    "request_id_for",
    "shape_stream",
    "sse",
    "status_phrase",
]

MOCK_MODEL = "mock-model"
"""The model a reply names when neither the reply nor the request names one."""

StreamEvent = tuple[Literal["lead", "content", "close", "finish"], bytes]
"""One rendered stream event and its kind: ``lead`` (structure before or between content), ``content`` (a
text, reasoning or tool delta), ``close`` (structure after content: a block's end), ``finish`` (the finish
event and everything after it). ``shape_stream`` uses the kinds to cut the stream short or break in with an
error."""


def status_phrase(status: int) -> str:
    """The reason phrase of an HTTP status (``429`` → ``Too Many Requests``; ``529`` → ``Overloaded``)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {529: "Overloaded"}.get(status, "Error")


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as the providers send it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sse(obj: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying ``obj`` as JSON, with an ``event:`` line when ``event`` is given."""
    data = b"data: " + dumps(obj) + b"\n\n"
    return b"event: " + event.encode("utf-8") + b"\n" + data if event else data


def pieces(text: str, size: int) -> Iterator[str]:
    """``text`` cut into pieces of ``size`` characters (the last one shorter)."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


def request_id_for(sequence: int) -> str:
    """The request id the server sends with its ``sequence``-th answer."""
    return f"req_mock_{sequence:06d}"


@attrs.frozen
class Tokens:
    """A reply's usage in the buckets the wires report: uncached prompt tokens, cache reads and writes,
    completion and reasoning tokens, and OpenRouter's cost and upstream cost."""

    uncached: int
    read: int
    write: int
    completion: int
    reasoning: int | None
    cost: float | None
    upstream: float | None

    @classmethod
    def of(cls, reply: TextReply, request: RecordedRequest) -> Tokens:
        """The reply's scripted usage, or, when it has none, both counts estimated from the text."""
        usage = reply.usage
        if isinstance(usage, Usage):
            return cls(
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
            prompt = estimate_tokens(prompt_length(request.json))
            usage = (prompt, estimate_tokens(reply.content_length() + arguments))
        return cls(usage[0], 0, 0, usage[1], None, reply.cost, None)


@attrs.frozen
class RenderContext:
    """What rendering needs to know about the request a reply answers."""

    response_id: str
    request_id: str
    model: str
    include_usage: bool
    stream: bool
    created: int
    tokens: Tokens | None

    @classmethod
    def of(cls, reply: TextReply, request: RecordedRequest, sequence: int, renderer: Renderer) -> RenderContext:
        """The facts of the answer to ``request``, the server's ``sequence``-th."""
        return cls(
            response_id=reply.id or renderer.response_id(sequence),
            request_id=request_id_for(sequence),
            model=reply.model or request.model or MOCK_MODEL,
            include_usage=renderer.usage_wanted(request) and reply.send_usage,
            stream=request.stream,
            created=int(time.time()),
            tokens=Tokens.of(reply, request) if reply.send_usage else None,
        )


class Renderer(Protocol):
    """How the test server writes answers on one wire. One module per wire implements it, and
    ``renderer_for`` picks it from the request; a reply never asks which wire it is on."""

    @property
    def request_id_header(self) -> str:
        """The response header that carries the request id."""
        ...

    def response_id(self, sequence: int) -> str:
        """The id of the server's ``sequence``-th completion, when the reply names none."""
        ...

    def usage_wanted(self, request: RecordedRequest) -> bool:
        """Whether the answer to ``request`` carries usage (a stream only when the request asked, on some
        wires)."""
        ...

    def rule_violation(self, request: RecordedRequest) -> str | None:
        """What the real API would refuse with a 400 before answering this request, or None."""
        ...

    def completion(self, reply: TextReply, ctx: RenderContext, content: str) -> dict[str, Any]:
        """The completion object answering with ``content`` (the reply's own, or a marker to replace)."""
        ...

    def stream(self, reply: TextReply, ctx: RenderContext) -> Iterator[StreamEvent]:
        """The events of the streamed completion, whole (``shape_stream`` cuts them short)."""
        ...

    def error_body(self, status: int, message: str, request_id: str) -> dict[str, Any]:
        """The JSON body of an HTTP error with this status."""
        ...

    def in_band_body(self, error: InBandError, ctx: RenderContext) -> dict[str, Any]:
        """The body of a 200 answer that holds only an error."""
        ...

    def in_band_event(self, error: InBandError, ctx: RenderContext) -> bytes:
        """The event reporting an error in the middle of a stream."""
        ...

    def generation_record(self, reply: TextReply, ctx: RenderContext) -> tuple[str, dict[str, Any]] | None:
        """The ``(id, record)`` a later cost lookup finds for this completion, on a wire that has one."""
        ...


def shape_stream(events: Iterator[StreamEvent], reply: TextReply, error: bytes | None) -> Iterator[bytes]:
    """Apply the reply's in-band ``error`` (after ``after_chunks`` content events, else before the finish)
    and ``terminal=False`` (end right after the last content event) to a rendered stream."""
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
