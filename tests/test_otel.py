"""minillm.otel: each call becomes one span with the GenAI semantic conventions' attributes, in both worlds,
recorded by the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from minillm import (
    AsyncClient,
    BadRequestError,
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    NodeCompletionParameters,
    TokenPrice,
)
from minillm.otel import tracing_hook
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API, MakeAPI

Traced = Callable[[], tuple[API, InMemorySpanExporter]]


@pytest.fixture
def traced(make_api: MakeAPI) -> Traced:
    """A runner of one world whose client carries a tracing hook, and the exporter its spans go to."""

    def make() -> tuple[API, InMemorySpanExporter]:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        hook: Any = tracing_hook(provider)
        return make_api(hooks=[hook]), exporter

    return make


def gen(server: MockLLMServer) -> GeneratorInfo:
    return (
        GeneratorInfo.openai("gpt-test")
        .with_api_key("sk-test")
        .with_base_url(server.openai_base_url)
        .with_token_price(TokenPrice(1.0, 2.0))
    )


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0]


def test_a_completion_is_one_client_span_with_the_genai_attributes(traced: Traced, llm_server: MockLLMServer) -> None:
    api, exporter = traced()
    llm_server.enqueue(Reply.text("Hi!", usage=(12, 3), model="gpt-test-0613", id="chatcmpl-9"))
    params = NodeCompletionParameters(params=CompletionParameters(max_tokens=64, temperature=0.2, top_p=0.9))
    api.complete(ChatNode.user("hi"), gen(llm_server), params)
    span = only_span(exporter)
    assert span.name == "chat gpt-test" and span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["gen_ai.response.model"] == "gpt-test-0613"
    assert attributes["gen_ai.response.id"] == "chatcmpl-9"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (12, 3)
    assert attributes["gen_ai.request.max_tokens"] == 64 and attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == llm_server.port
    assert attributes["minillm.cost.usd"] == pytest.approx((12 * 1.0 + 3 * 2.0) / 1e6)
    assert attributes["minillm.cost.resolution"] == "resolved"
    assert span.status.status_code is StatusCode.UNSET


def test_retries_are_events_of_the_one_span(traced: Traced, llm_server: MockLLMServer) -> None:
    api, exporter = traced()
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("ok"))
    api.complete(ChatNode.user("hi"), gen(llm_server), NodeCompletionParameters(back_off_time=0))
    span = only_span(exporter)
    names = [e.name for e in span.events]
    assert names == ["minillm.attempt", "minillm.retry", "minillm.attempt"]
    retry = span.events[1].attributes or {}
    assert retry["error.type"] == "ServerError" and retry["minillm.attempt"] == 1
    assert (span.attributes or {})["minillm.attempts"] == 2


def test_a_failure_ends_the_span_with_an_error(traced: Traced, llm_server: MockLLMServer) -> None:
    api, exporter = traced()
    llm_server.enqueue(Reply.error(400, "bad request"))
    with pytest.raises(BadRequestError):
        api.complete(ChatNode.user("hi"), gen(llm_server))
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR and "bad request" in (span.status.description or "")
    assert (span.attributes or {})["error.type"] == "BadRequestError"
    assert any(e.name == "exception" for e in span.events)


def test_a_stream_is_one_span_with_its_first_chunk(traced: Traced, llm_server: MockLLMServer) -> None:
    api, exporter = traced()
    llm_server.enqueue(Reply.text(["Hel", "lo"], usage=(5, 2)))
    api.stream(ChatNode.user("hi"), gen(llm_server), NodeCompletionParameters().with_cost_tracking())
    span = only_span(exporter)
    attributes = dict(span.attributes or {})
    assert attributes["minillm.stream"] is True and attributes["minillm.stream.completed"] is True
    assert attributes["gen_ai.usage.output_tokens"] == 2
    assert "minillm.first_chunk" in [e.name for e in span.events]


def test_the_span_is_a_child_of_the_current_one(traced: Traced, llm_server: MockLLMServer) -> None:
    api, exporter = traced()
    llm_server.enqueue(Reply.text("ok"))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("app").start_as_current_span("handler") as parent:
        api.complete(ChatNode.user("hi"), gen(llm_server))
    chat = next(s for s in exporter.get_finished_spans() if s.name.startswith("chat"))
    assert chat.parent is not None and chat.parent.span_id == parent.get_span_context().span_id


def test_concurrent_calls_on_one_loop_each_get_their_own_span(llm_server: MockLLMServer) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    llm_server.enqueue(*[Reply.text(f"reply {i}", usage=(i + 1, 1)) for i in range(20)])

    async def main() -> None:
        async with AsyncClient(hooks=[tracing_hook(provider)]) as client:
            await asyncio.gather(*(ChatNode.user("hi").acomplete(gen(llm_server), client=client) for _ in range(20)))

    asyncio.run(main())
    spans = exporter.get_finished_spans()
    assert len(spans) == 20 and len({s.context.span_id for s in spans}) == 20
    assert sorted((s.attributes or {})["gen_ai.usage.input_tokens"] for s in spans) == list(range(1, 21))


def test_importing_minillm_loads_no_opentelemetry() -> None:
    code = (
        "import sys, minillm; minillm.SyncClient; "
        "assert not any(m.startswith(('opentelemetry', 'minillm.otel')) for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
