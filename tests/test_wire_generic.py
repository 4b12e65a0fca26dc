"""The generic wire (``GeneratorInfo.custom``): the shared dialect with no usage opt-in and an optional legacy
token key, reading the streams that real OpenAI-compatible servers send."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minillm.core.auth import ResolvedCredential
from minillm.core.media import ImageData
from minillm.core.messages import Message, MessageContent
from minillm.core.params import CompletionParameters, ProviderSettings
from minillm.core.providers.base import Provider, StreamEnd, WireRequest
from minillm.core.providers.generic import GenericProvider
from minillm.core.providers.openai_wire import OpenAIDialect
from minillm.core.sse import SSEDecoder
from minillm.core.stream import StreamChunk
from minillm.core.usage import Usage

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
WIRE = GenericProvider()
LEGACY = GenericProvider(legacy_token_limit=True)


def stream_fixture(name: str) -> list[StreamChunk | StreamEnd]:
    lines = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["sse"]
    events = SSEDecoder().feed(("\n".join(lines) + "\n").encode("utf-8"))
    items = [WIRE.parse_stream_event(e) for e in events]
    return [i for i in items if i is not None]


def body(
    wire: GenericProvider = WIRE,
    params: CompletionParameters | None = None,
    *,
    stream: bool = False,
    include_usage: bool = False,
    routing: ProviderSettings | None = None,
    messages: tuple[Message, ...] = (Message.user("Hi"),),
) -> dict[str, Any]:
    params = CompletionParameters() if params is None else params
    return wire.build_body(WireRequest("llama-3.1-8b", messages, params, stream, include_usage, routing))


def test_generic_is_a_provider_of_the_shared_dialect() -> None:
    assert isinstance(WIRE, Provider)
    assert isinstance(WIRE, OpenAIDialect)
    assert WIRE.name == "generic"
    assert LEGACY.name == "generic"
    assert WIRE.completions_url("http://localhost:8000/v1/") == "http://localhost:8000/v1/chat/completions"


def test_the_legacy_flag_is_part_of_the_value() -> None:
    assert GenericProvider() == GenericProvider(legacy_token_limit=False)
    assert GenericProvider(True) != GenericProvider(False)
    assert hash(GenericProvider(True)) == hash(LEGACY)


def test_default_token_key_is_max_completion_tokens() -> None:
    sent = body()
    assert sent == {
        "model": "llama-3.1-8b",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "max_completion_tokens": 4096,
        "temperature": pytest.approx(0.7),
    }
    assert "max_tokens" not in sent


def test_legacy_token_key_is_max_tokens_and_never_the_new_one() -> None:
    sent = body(LEGACY, CompletionParameters(max_tokens=300, top_p=0.5), stream=True, include_usage=True)
    assert list(sent) == ["model", "messages", "stream", "max_tokens", "temperature", "top_p"]
    assert sent["max_tokens"] == 300
    assert "max_completion_tokens" not in sent


def test_legacy_wire_with_no_limit_sends_neither_key() -> None:
    sent = body(LEGACY, CompletionParameters(max_tokens=None, temperature=None))
    assert list(sent) == ["model", "messages", "stream"]


@pytest.mark.parametrize("stream", [False, True])
def test_no_usage_opt_in_key_ever(stream: bool) -> None:
    sent = body(stream=stream, include_usage=True)
    assert "stream_options" not in sent
    assert "usage" not in sent


def test_never_waits_for_a_stream_usage_chunk() -> None:
    assert WIRE.expects_stream_usage(True) is False
    assert WIRE.expects_stream_usage(False) is False


def test_routing_is_dropped_on_the_generic_wire() -> None:
    assert "provider" not in body(routing=ProviderSettings(order=["Together"], allow_fallbacks=False))


def test_bearer_auth_and_no_attribution() -> None:
    assert list(WIRE.headers(ResolvedCredential("api_key", "local-key"), ("https://my.app", "My App"))) == [
        ("Authorization", "Bearer local-key")
    ]
    assert list(WIRE.headers(None, ("https://my.app", "My App"))) == []


def test_estimation_metadata_is_stripped() -> None:
    image = ImageData.from_url("https://example.com/a.png").with_dimensions(10, 20)
    sent = body(messages=(Message.user(MessageContent.with_images("see", [image])),))
    assert sent["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}


def test_cache_marks_are_not_sent() -> None:
    sent = body(messages=(Message("user", "x", cache_breakpoint=True),))
    assert sent["messages"] == [{"role": "user", "content": "x"}]


def test_usage_still_read_from_a_litellm_stream() -> None:
    items = stream_fixture("stream_litellm_usage_chunk.json")
    finish = [i for i in items if isinstance(i, StreamChunk) and i.finish_reason]
    assert [c.finish_reason for c in finish] == ["stop"]
    usages = [i.usage for i in items if isinstance(i, StreamChunk) and i.usage]
    assert usages == [Usage(uncached_input_tokens=12, completion_tokens=3)]
    assert items[-1] == StreamEnd()


def test_usage_on_the_finish_chunk_is_read() -> None:
    items = stream_fixture("stream_usage_on_finish_chunk.json")
    final = [i for i in items if isinstance(i, StreamChunk) and i.finish_reason]
    assert len(final) == 1
    assert final[0].usage == Usage(uncached_input_tokens=25, completion_tokens=2)


def test_stream_that_simply_ends_after_its_finish_chunk() -> None:
    items = stream_fixture("stream_no_done.json")
    assert "".join(i.delta for i in items if isinstance(i, StreamChunk)) == "Hello world"
    assert isinstance(items[-1], StreamChunk) and items[-1].finish_reason == "stop"


def test_plain_response_without_usage() -> None:
    data = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "llama-3.1-8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
    }
    r = WIRE.parse_response(data)
    assert (r.id, r.model, r.content, r.finish_reason, r.usage) == ("cmpl-1", "llama-3.1-8b", "Hi!", "stop", None)
