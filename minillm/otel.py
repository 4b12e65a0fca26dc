"""OpenTelemetry tracing: a hook that turns each call's events into one span, named and described as the
OpenTelemetry semantic conventions for generative AI say (``chat {model}``, ``gen_ai.*`` attributes).

    from minillm import AsyncClient
    from minillm.otel import tracing_hook

    client = AsyncClient(hooks=[tracing_hook()])

It needs the ``otel`` extra (``pip install "minillm-sdk[otel]"``: ``opentelemetry-api``), and is imported only
when you import it. The span of a call starts when its request is built, as a child of the span current
at that moment, covers every retry (each attempt and each scheduled retry is a span event) and ends with
the reply, the end of the stream, or the error. No prompt or reply text is recorded; the cost goes in
``minillm.cost.usd`` (only when it is a real figure) next to ``minillm.cost.resolution``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from minillm._version import __version__
from minillm.core.events import (
    AttemptSent,
    CostKnown,
    Event,
    FirstChunk,
    RequestBuilt,
    RequestFailed,
    ResponseReceived,
    RetryScheduled,
    StreamFinished,
)
from minillm.core.params import CompletionParameters
from minillm.core.response import CompletionResponse
from minillm.core.usage import CostResolution

__all__ = ["tracing_hook"]

# The wires whose provider has a name of its own in the conventions; any other generator (a custom server)
# is named by its own name, lower-cased.
_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}

# Model parameters recorded on the span, under their convention names.
_REQUEST_ATTRIBUTES = {
    "max_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def tracing_hook(tracer_provider: TracerProvider | None = None) -> Callable[[Event], None]:
    """A hook for ``SyncClient(hooks=[...])`` or ``AsyncClient(hooks=[...])`` that records one span per call
    with ``tracer_provider``'s tracer (default: the global one set with ``trace.set_tracer_provider``)."""
    tracer = trace.get_tracer("minillm", __version__, tracer_provider=tracer_provider)
    return _TracingHook(tracer)


class _TracingHook:
    """The open span of each call in flight, by call id; a span leaves the table when it ends."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._spans: dict[str, Span] = {}

    def __repr__(self) -> str:
        return f"<minillm.otel tracing hook, {len(self._spans)} span(s) open>"

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestBuilt):
            self._start(event)
            return
        span = self._spans.get(event.call_id)
        if span is None:  # a call that failed before its request was built, or whose span has ended
            return
        if isinstance(event, AttemptSent):
            span.add_event("minillm.attempt", {"minillm.attempt": event.attempt})
        elif isinstance(event, RetryScheduled):
            attributes: dict[str, Any] = {
                "minillm.attempt": event.attempt,
                "minillm.retry.wait_s": event.wait,
                "error.type": type(event.error).__name__,
            }
            span.add_event("minillm.retry", attributes)
        elif isinstance(event, FirstChunk):
            span.add_event("minillm.first_chunk")
        elif isinstance(event, CostKnown):
            span.set_attribute("minillm.cost.resolution", event.cost.resolution.name.lower())
            if event.cost.resolution is CostResolution.RESOLVED:
                span.set_attribute("minillm.cost.usd", event.cost.cost)
        elif isinstance(event, ResponseReceived):
            self._end(event.call_id, event.response, event.attempts)
        elif isinstance(event, StreamFinished):
            span.set_attribute("minillm.stream.completed", event.completed)
            self._end(event.call_id, event.response, event.attempts)
        elif isinstance(event, RequestFailed):
            self._fail(event)

    def _start(self, event: RequestBuilt) -> None:
        provider = _PROVIDERS.get(event.wire, event.generator.lower())
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": event.model,
            "minillm.stream": event.stream,
            "minillm.wire": event.wire,
        }
        attributes.update(_server_attributes(event.request.url))
        attributes.update(_request_attributes(event.params))
        span = self._tracer.start_span(f"chat {event.model}", kind=SpanKind.CLIENT, attributes=attributes)
        self._spans[event.call_id] = span

    def _end(self, call_id: str, response: CompletionResponse, attempts: int) -> None:
        span = self._spans.pop(call_id)
        span.set_attribute("minillm.attempts", attempts)
        if response.model:
            span.set_attribute("gen_ai.response.model", response.model)
        if response.id:
            span.set_attribute("gen_ai.response.id", response.id)
        if response.finish_reason:
            span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
        usage = response.usage
        if usage is not None:
            span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            if usage.cache_read_tokens:
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens)
            if usage.cache_write_tokens:
                span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens)
        span.end()

    def _fail(self, event: RequestFailed) -> None:
        span = self._spans.pop(event.call_id)
        error = event.error
        span.set_attribute("minillm.attempts", event.attempts)
        span.set_attribute("error.type", type(error).__name__)
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, event.reason))
        span.end()


def _server_attributes(url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``url`` (the port only when the URL names one)."""
    rest = url.partition("://")[2] or url
    authority = rest.split("/", 1)[0].rpartition("@")[2]
    host, colon, port = authority.rpartition(":") if not authority.endswith("]") else (authority, "", "")
    if not colon:
        host, port = authority, ""
    out: dict[str, Any] = {"server.address": host.strip("[]")}
    if port.isdigit():
        out["server.port"] = int(port)
    return out


def _request_attributes(params: CompletionParameters) -> dict[str, Any]:
    out: dict[str, Any] = {
        key: getattr(params, name) for name, key in _REQUEST_ATTRIBUTES.items() if getattr(params, name) is not None
    }
    if params.stop:
        out["gen_ai.request.stop_sequences"] = list(params.stop)
    return out
