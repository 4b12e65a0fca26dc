"""The protocol every provider wire implements, and the values it trades in.

A provider knows one wire: where to send a completion, which headers prove who you are, how to shape the
JSON body, and how to read a response body and each stream event. It does no I/O; the transports send
what it builds and hand back what they receive. To talk to a server with a wire of its own, implement
these six members (or subclass ``OpenAIDialect`` and override the ones that differ) and pass an instance to
``GeneratorInfo.with_provider``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:
    from minillm.core.auth import ResolvedCredential
    from minillm.core.http import HTTPRequest
    from minillm.core.messages import Message
    from minillm.core.params import CompletionParameters, ProviderSettings
    from minillm.core.response import CompletionResponse
    from minillm.core.sse import ServerSentEvent
    from minillm.core.stream import StreamChunk
    from minillm.core.structured import OutputSchema
    from minillm.core.usage import Usage

__all__ = ["Provider", "StreamEnd", "SupportsCostLookup", "WireRequest", "join_url"]


def _to_messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


@attrs.frozen
class WireRequest:
    """Everything a wire needs to build one completion body.

    ``messages`` is the final prompt: formatted, merged, with the system override, primer and cache marks
    applied. ``params`` are the effective parameters (request over generator defaults). ``include_usage``
    asks for token usage when the wire needs asking. ``routing`` is OpenRouter's provider routing, which
    only the OpenRouter wire sends. ``schema`` is the reply schema set with ``with_schema``, which each wire
    sends its own way (a ``response_format``, a forced tool, an instruction in the prompt). ``explicit`` names
    the parameters the caller set (not the generator's defaults), so a wire that must leave one out can warn
    about those and only note the others; None takes every parameter as set.
    """

    model: str
    messages: tuple[Message, ...] = attrs.field(converter=_to_messages)
    params: CompletionParameters
    stream: bool = False
    include_usage: bool = False
    routing: ProviderSettings | None = None
    schema: OutputSchema | None = None
    explicit: frozenset[str] | None = None


@attrs.frozen
class StreamEnd:
    """A wire's explicit end of stream (``data: [DONE]``, ``message_stop``).

    Its ``finish_reason`` is only a fallback: a finish reason the provider already sent is kept.
    """

    finish_reason: str = "stop"


@runtime_checkable
class Provider(Protocol):
    """One provider wire. Every method is pure: data in, data out, typed errors for bad answers."""

    @property
    def name(self) -> str:
        """A short lower-case identifier of the wire, e.g. ``"openai"``."""
        ...

    def completions_url(self, base_url: str) -> str:
        """The completions endpoint under ``base_url`` (a trailing ``/`` on ``base_url`` is ignored)."""
        ...

    def headers(
        self, credential: ResolvedCredential | None, attribution: tuple[str, str] | None
    ) -> Sequence[tuple[str, str]]:
        """Auth and attribution headers. ``Content-Type`` and the generator's own headers are added around
        these by the core (custom headers last, so they can override)."""
        ...

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        """The JSON body, without the ``extra`` keys (the core merges those and refuses collisions).

        Raise ``InvalidParameterError`` for what the wire cannot carry.
        """
        ...

    def parse_response(self, data: Any) -> CompletionResponse:
        """A successful (2xx) JSON body as a response. An error object in the body raises ``APIError``; a
        body of the wrong shape raises ``MalformedResponseError``."""
        ...

    def parse_stream_event(self, event: ServerSentEvent) -> StreamChunk | StreamEnd | None:
        """One server-sent event as a chunk, an explicit end, or None to skip it. An in-band error raises
        ``APIError``."""
        ...

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """Whether a stream should wait past its finish reason for a usage event."""
        ...


@runtime_checkable
class SupportsCostLookup(Protocol):
    """A wire that can look up a reply's cost after the fact (OpenRouter's ``/generation``), for replies that
    came without usage. Optional: the core asks for a lookup only from providers that have these two methods.
    Both are pure; the core decides how often to ask (``minillm.core.cost_lookup``)."""

    def cost_lookup_request(
        self, base_url: str, response_id: str, credential: ResolvedCredential | None
    ) -> HTTPRequest | None:
        """The request that asks for the cost of the reply ``response_id``, or None when it cannot be asked."""
        ...

    def parse_cost_lookup(self, data: Any) -> Usage | None:
        """The usage and cost in a lookup's JSON answer, or None while the record is not there yet. A body of
        the wrong shape may raise ``MalformedResponseError``, which counts as "not there yet"."""
        ...


def join_url(base_url: str, path: str) -> str:
    """``base_url`` without trailing slashes, then ``path`` (which starts with ``/``)."""
    return base_url.rstrip("/") + path
