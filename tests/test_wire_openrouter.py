"""The OpenRouter wire: usage opt-in, routing, attribution, cache markers, native cost and ``/generation``."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from minillm.core.auth import ResolvedCredential
from minillm.core.errors import RateLimitError, ServerError
from minillm.core.media import AudioData, DocumentData, ImageData, VideoData
from minillm.core.messages import ImagePart, Message, MessageContent, TextPart
from minillm.core.params import CompletionParameters, ProviderSettings, ReasoningConfig
from minillm.core.providers.base import Provider, StreamEnd, WireRequest
from minillm.core.providers.openai_wire import OpenAIDialect
from minillm.core.providers.openrouter import OpenRouterProvider, generation_request, parse_generation_record
from minillm.core.sse import SSEDecoder
from minillm.core.stream import StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
WIRE = OpenRouterProvider()
NO_PARAMS = CompletionParameters(max_tokens=None, temperature=None)
CLAUDE = "anthropic/claude-sonnet-4.5"
EPHEMERAL = {"type": "ephemeral"}


def body_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["body"]


def stream_fixture(name: str) -> list[StreamChunk | StreamEnd]:
    lines = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["sse"]
    decoder = SSEDecoder()
    events = decoder.feed(("\n".join(lines) + "\n").encode("utf-8"))
    items = [WIRE.parse_stream_event(e) for e in events]
    return [i for i in items if i is not None]


def body(
    messages: tuple[Message, ...] = (Message.user("Hello"),),
    params: CompletionParameters = NO_PARAMS,
    *,
    stream: bool = False,
    include_usage: bool = False,
    routing: ProviderSettings | None = None,
    model: str = "google/gemini-2.5-flash-lite",
) -> dict[str, Any]:
    return WIRE.build_body(WireRequest(model, messages, params, stream, include_usage, routing))


def test_openrouter_is_a_provider_of_the_shared_dialect() -> None:
    assert isinstance(WIRE, Provider)
    assert isinstance(WIRE, OpenAIDialect)
    assert WIRE.name == "openrouter"
    assert WIRE.completions_url("https://openrouter.ai/api/v1/") == "https://openrouter.ai/api/v1/chat/completions"


# ---------------------------------------------------------------------------------------------------------
# Body


@pytest.mark.parametrize("stream", [False, True])
def test_usage_is_asked_for_on_every_request_when_tracking(stream: bool) -> None:
    sent = body(stream=stream, include_usage=True)
    assert sent["usage"] == {"include": True}
    assert "stream_options" not in sent
    assert "usage" not in body(stream=stream, include_usage=False)


def test_openrouter_waits_for_stream_usage_only_when_asked() -> None:
    assert WIRE.expects_stream_usage(True) is True
    assert WIRE.expects_stream_usage(False) is False


def test_routing_goes_under_provider_last() -> None:
    routing = ProviderSettings().with_order(["Anthropic", "OpenAI"]).sort_by_latency().with_fallbacks(False)
    params = CompletionParameters(max_tokens=50, reasoning=ReasoningConfig(effort="minimal"))
    sent = body(params=params, include_usage=True, routing=routing)
    assert sent["provider"] == {"order": ["Anthropic", "OpenAI"], "sort": "latency", "allow_fallbacks": False}
    assert list(sent) == [
        "model",
        "messages",
        "stream",
        "max_completion_tokens",
        "temperature",
        "reasoning",
        "usage",
        "provider",
    ]


def test_no_routing_and_empty_routing_send_no_provider_key() -> None:
    assert "provider" not in body()
    assert "provider" not in body(routing=ProviderSettings())


def test_exact_body_with_defaults_usage_and_routing() -> None:
    routing = ProviderSettings(ignore=["DeepInfra"], data_collection="deny", require_parameters=True)
    sent = body(params=CompletionParameters(), stream=True, include_usage=True, routing=routing)
    assert sent == {
        "model": "google/gemini-2.5-flash-lite",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": True,
        "max_completion_tokens": 4096,
        "temperature": pytest.approx(0.7),
        "usage": {"include": True},
        "provider": {"ignore": ["DeepInfra"], "data_collection": "deny", "require_parameters": True},
    }


def test_media_estimation_metadata_rides_the_openrouter_wire() -> None:
    image = ImageData.from_url("https://example.com/cat.png").with_dimensions(640, 480)
    audio = AudioData.from_url("data:audio/mp3;base64,aGk=").with_duration(2.5)
    video = VideoData.from_url("https://example.com/v.mp4").with_duration(3.0).with_dimensions(320, 240)
    doc = DocumentData.from_url("https://example.com/papers/p.pdf?dl=1").with_page_count(12)
    content = MessageContent.with_media("Look", [image, audio, video, doc])
    assert body((Message.user(content),))["messages"][0]["content"] == [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "width": 640, "height": 480}},
        {"type": "input_audio", "input_audio": {"data": "aGk=", "duration_secs": 2.5, "format": "mp3"}},
        {
            "type": "video_url",
            "video_url": {"url": "https://example.com/v.mp4", "duration_secs": 3.0, "width": 320, "height": 240},
        },
        {
            "type": "file",
            "file": {"filename": "p.pdf", "file_data": "https://example.com/papers/p.pdf?dl=1", "page_count": 12},
        },
    ]


# ---------------------------------------------------------------------------------------------------------
# Headers


def test_auth_then_attribution_headers() -> None:
    headers = WIRE.headers(
        ResolvedCredential("api_key", "sk-or-v1-abc"), ("https://github.com/minillmlib", "MiniLLMLib")
    )
    assert list(headers) == [
        ("Authorization", "Bearer sk-or-v1-abc"),
        ("HTTP-Referer", "https://github.com/minillmlib"),
        ("X-Title", "MiniLLMLib"),
    ]


def test_no_attribution_no_attribution_headers() -> None:
    assert list(WIRE.headers(ResolvedCredential("bearer", "t"), None)) == [("Authorization", "Bearer t")]
    assert list(WIRE.headers(None, ("https://my.app", "My App"))) == [
        ("HTTP-Referer", "https://my.app"),
        ("X-Title", "My App"),
    ]
    assert list(WIRE.headers(None, None)) == []


# ---------------------------------------------------------------------------------------------------------
# Cache markers


def marked(content: str | MessageContent, role: str = "user") -> Message:
    return Message(role, content, cache_breakpoint=True)


def test_marked_string_content_becomes_one_text_part_with_cache_control() -> None:
    sent = body((Message.system("Rules"), marked("A long document")), model=CLAUDE)["messages"]
    assert sent == [
        {"role": "system", "content": "Rules"},
        {"role": "user", "content": [{"type": "text", "text": "A long document", "cache_control": EPHEMERAL}]},
    ]


def test_marked_parts_put_the_marker_on_the_last_text_part() -> None:
    image = ImagePart("https://example.com/a.png")
    content = MessageContent((TextPart("first"), image, TextPart("second"), ImagePart("https://example.com/b.png")))
    (sent,) = body((marked(content),), model=CLAUDE)["messages"]
    assert sent["content"] == [
        {"type": "text", "text": "first"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "second", "cache_control": EPHEMERAL},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}},
    ]


def test_content_without_text_gets_no_marker(caplog: pytest.LogCaptureFixture) -> None:
    images_only = MessageContent((ImagePart("https://example.com/a.png"),))
    with caplog.at_level(logging.WARNING, logger="minillm"):
        sent = body((marked(""), marked(images_only)), model=CLAUDE)["messages"]
    assert sent == [
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
    ]
    assert "no text to carry the marker" in caplog.text


def test_tool_call_only_assistant_keeps_its_calls_and_no_marker() -> None:
    call = ToolCall("toolu_1", "weather", '{"city":"Lyon"}')
    msg = Message("assistant", "", tool_calls=[call], cache_breakpoint=True)
    (sent,) = body((msg,), model=CLAUDE)["messages"]
    assert sent == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Lyon"}'}}
        ],
    }


def test_tool_results_can_be_marked() -> None:
    msg = Message("tool", "22C", tool_call_id="toolu_1", cache_breakpoint=True)
    (sent,) = body((msg,), model=CLAUDE)["messages"]
    assert sent == {
        "role": "tool",
        "content": [{"type": "text", "text": "22C", "cache_control": EPHEMERAL}],
        "tool_call_id": "toolu_1",
    }


def test_only_the_last_four_marks_are_kept(caplog: pytest.LogCaptureFixture) -> None:
    messages = tuple(marked(f"m{i}", "user" if i % 2 == 0 else "assistant") for i in range(6))
    with caplog.at_level(logging.WARNING, logger="minillm"):
        sent = body(messages, model=CLAUDE)["messages"]
    with_marker = [i for i, m in enumerate(sent) if isinstance(m["content"], list)]
    assert with_marker == [2, 3, 4, 5]
    assert sent[0] == {"role": "user", "content": "m0"}
    assert sent[1] == {"role": "assistant", "content": "m1"}
    assert "keeping the last 4" in caplog.text


def test_the_cap_counts_marks_even_when_a_kept_one_cannot_carry_a_marker() -> None:
    messages = (marked("a"), marked("b"), marked("c"), marked("d"), marked(""))
    sent = body(messages, model=CLAUDE)["messages"]
    # Marks kept: indices 1-4; index 4 has no text, so only 1-3 carry a marker and "a" stays plain.
    assert [isinstance(m["content"], list) for m in sent] == [False, True, True, True, False]


@pytest.mark.parametrize(
    ("model", "emits"),
    [
        ("anthropic/claude-sonnet-4.5", True),
        ("Anthropic/Claude-3.5-Haiku", True),
        ("anthropic/some-future-model", True),
        ("someone/claude-finetune", True),
        ("openai/gpt-5", False),
        ("google/gemini-2.5-pro", False),
    ],
)
def test_markers_only_for_claude_models(model: str, emits: bool) -> None:
    (sent,) = body((marked("cache me"),), model=model)["messages"]
    assert isinstance(sent["content"], list) is emits
    assert WIRE.emits_cache_markers(model) is emits
    assert "cache_breakpoint" not in json.dumps(sent)


def test_unmarked_messages_get_no_marker_on_claude() -> None:
    sent = body((Message.user("plain"),), model=CLAUDE)["messages"]
    assert sent == [{"role": "user", "content": "plain"}]


# ---------------------------------------------------------------------------------------------------------
# Responses and usage


def test_reference_usage_example_with_cost_and_upstream() -> None:
    usage = WIRE.parse_usage(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost": 0.001,
            "cost_details": {"upstream_inference_cost": 0.009},
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        }
    )
    assert usage == Usage(
        uncached_input_tokens=6,
        cache_read_tokens=4,
        completion_tokens=5,
        cost=0.001,
        upstream_inference_cost=0.009,
        reasoning_tokens=2,
    )
    assert usage.prompt_tokens == 10
    assert math.isclose(usage.cost + usage.upstream_inference_cost, 0.010)  # type: ignore[operator]


def test_credits_reply_with_cached_prompt() -> None:
    r = WIRE.parse_response(body_fixture("openrouter_chat_completion.json"))
    assert r.id == "gen-1753907000-Aq3Ws5Ed7Rf9Tg1Yh3Uj"
    assert r.model == "anthropic/claude-sonnet-4.5"
    assert r.content == "Olá! Tudo bem?"
    assert r.finish_reason == "stop"
    assert r.usage == Usage(
        uncached_input_tokens=34,
        cache_read_tokens=1800,
        completion_tokens=9,
        cost=0.0007182,
        upstream_inference_cost=None,
        reasoning_tokens=0,
    )


def test_byok_reply_keeps_the_upstream_charge() -> None:
    r = WIRE.parse_response(body_fixture("openrouter_chat_completion_byok.json"))
    assert r.content == "42"
    assert r.usage is not None
    assert r.usage.cost == pytest.approx(0.0000447)
    assert r.usage.upstream_inference_cost == pytest.approx(0.0008942)
    assert r.usage.reasoning_tokens == 2560
    assert r.usage.uncached_input_tokens == 22


def test_credits_usage_does_not_count_the_upstream_figure_twice() -> None:
    # OpenRouter fills upstream_inference_cost on credit requests too, where it is already inside `cost`.
    usage = WIRE.parse_usage(
        {"prompt_tokens": 1, "cost": 0.5, "is_byok": False, "cost_details": {"upstream_inference_cost": 0.5}}
    )
    assert usage is not None
    assert (usage.cost, usage.upstream_inference_cost) == (0.5, None)


@pytest.mark.parametrize(
    ("extra", "cost", "upstream"),
    [
        ({}, None, None),
        ({"cost": 0}, 0.0, None),
        ({"cost": "0.1"}, None, None),
        ({"cost": True}, None, None),
        ({"cost": 0.2, "cost_details": None}, 0.2, None),
        ({"cost": 0.2, "cost_details": {"upstream_inference_cost": None}}, 0.2, None),
        ({"cost": 0.2, "is_byok": True, "cost_details": {"upstream_inference_cost": 1}}, 0.2, 1.0),
    ],
)
def test_cost_fields_are_read_only_when_numeric(extra: dict[str, Any], cost: Any, upstream: Any) -> None:
    usage = WIRE.parse_usage({"prompt_tokens": 3, **extra})
    assert usage is not None
    assert (usage.cost, usage.upstream_inference_cost) == (cost, upstream)
    assert type(usage.cost) in (float, type(None))


def test_inconsistent_usage_is_dropped_even_with_a_cost() -> None:
    assert WIRE.parse_usage({"prompt_tokens": 1, "cost": 0.3, "prompt_tokens_details": {"cached_tokens": 5}}) is None


def test_image_output_becomes_media() -> None:
    r = WIRE.parse_response(body_fixture("openrouter_chat_completion_image.json"))
    (image,) = r.media
    assert isinstance(image, ImageData)
    assert image.is_url
    assert image.base64_data.startswith("data:image/png;base64,iVBORw0KGgo")
    assert r.content == "Here is a red square."
    assert r.usage is not None and r.usage.cost == pytest.approx(0.03888)


def test_error_in_a_200_body_keeps_its_integer_code() -> None:
    with pytest.raises(RateLimitError) as info:
        WIRE.parse_response(body_fixture("openrouter_error_in_body.json"))
    assert info.value.status_code == 429
    assert info.value.message == "Rate limit exceeded: free-models-per-min. "


# ---------------------------------------------------------------------------------------------------------
# Streams


def test_stream_with_processing_comments_and_native_cost() -> None:
    items = stream_fixture("openrouter_stream_usage.json")
    sid = "gen-1753907300-Mn3Bv5Cx7Za9Sd1Fg3Hj"
    assert items == [
        StreamChunk(delta="Bonjour", id=sid),
        StreamChunk(delta=" le monde", id=sid),
        StreamChunk(id=sid, finish_reason="stop"),
        StreamChunk(
            id=sid,
            usage=Usage(uncached_input_tokens=2040, completion_tokens=6, cost=0.0017832, reasoning_tokens=0),
        ),
        StreamEnd(),
    ]


def test_streamed_tool_call_through_openrouter() -> None:
    items = stream_fixture("openrouter_stream_tool_calls.json")
    chunks = [i for i in items if isinstance(i, StreamChunk)]
    assert chunks[0].delta == "Checking the weather."
    deltas = [d for c in chunks for d in (c.tool_calls or ())]
    assert deltas[0] == ToolCallDelta(0, "toolu_01Abc2Def3Ghi4Jkl5Mno6Pq", "weather")
    assert "".join(d.arguments_fragment or "" for d in deltas) == '{"city": "Lyon"}'
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.cost == pytest.approx(0.0021)
    assert items[-1] == StreamEnd()


def test_mid_stream_error_with_a_string_code_is_a_502() -> None:
    lines = json.loads((FIXTURES / "openrouter_stream_error.json").read_text(encoding="utf-8"))["sse"]
    events = SSEDecoder().feed(("\n".join(lines) + "\n").encode())
    assert WIRE.parse_stream_event(events[0]) == StreamChunk(
        delta="Once upon", id="gen-1753907500-Qa1Ws2Ed3Rf4Tg5Yh6Uj"
    )
    with pytest.raises(ServerError) as info:
        WIRE.parse_stream_event(events[1])
    assert info.value.status_code == 502
    assert info.value.message == "Provider disconnected unexpectedly"


# ---------------------------------------------------------------------------------------------------------
# /generation


def test_generation_request_shape() -> None:
    req = generation_request(
        "https://openrouter.ai/api/v1/", "gen-1753907600-Ed4Rf5", ResolvedCredential("api_key", "sk-or")
    )
    assert req.method == "GET"
    assert req.url == "https://openrouter.ai/api/v1/generation?id=gen-1753907600-Ed4Rf5"
    assert req.headers == (("Authorization", "Bearer sk-or"),)
    assert req.json is None
    assert "sk-or" not in repr(req)


def test_generation_id_is_form_encoded_and_no_credential_sends_no_auth() -> None:
    req = generation_request("http://127.0.0.1:8080/api/v1", "gen 1&x=/é", None)
    assert req.url == "http://127.0.0.1:8080/api/v1/generation?id=gen+1%26x%3D%2F%C3%A9"
    assert req.headers == ()


def test_byok_generation_record_costs_its_upstream_charge() -> None:
    usage = parse_generation_record(body_fixture("openrouter_generation_byok.json"))
    assert usage == Usage(
        uncached_input_tokens=22,
        completion_tokens=2625,
        cost=pytest.approx(0.0008942),  # type: ignore[arg-type]
        upstream_inference_cost=None,
        reasoning_tokens=2560,
    )


def test_credits_generation_record() -> None:
    usage = parse_generation_record(body_fixture("openrouter_generation_credits.json"))
    assert usage is not None
    assert usage.cost == pytest.approx(0.000723)
    assert (usage.uncached_input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (18, 12, 0)
    assert usage.completion_tokens == 1800
    assert usage.reasoning_tokens is None
    assert usage.upstream_inference_cost is None


def test_reference_generation_records() -> None:
    byok = {
        "tokens_prompt": 22,
        "tokens_completion": 2625,
        "native_tokens_cached": 0,
        "is_byok": True,
        "total_cost": 0,
        "upstream_inference_cost": 0.0008942,
    }
    credits = {"tokens_prompt": 30, "tokens_completion": 1800, "total_cost": 0.000723, "upstream_inference_cost": None}
    assert parse_generation_record({"data": byok}).cost == pytest.approx(0.0008942)  # type: ignore[union-attr]
    assert parse_generation_record({"data": credits}).cost == pytest.approx(0.000723)  # type: ignore[union-attr]


def test_credits_record_does_not_add_the_upstream_figure_again() -> None:
    record = {
        "tokens_prompt": 10,
        "tokens_completion": 25,
        "total_cost": 0.0015,
        "upstream_inference_cost": 0.0012,
        "is_byok": False,
    }
    assert parse_generation_record({"data": record}).cost == pytest.approx(0.0015)  # type: ignore[union-attr]


def test_cached_tokens_beyond_the_prompt_clamp_uncached_at_zero() -> None:
    usage = parse_generation_record({"data": {"tokens_prompt": 5, "native_tokens_cached": 9, "total_cost": 0.1}})
    assert usage is not None
    assert (usage.uncached_input_tokens, usage.cache_read_tokens) == (0, 9)


@pytest.mark.parametrize(
    "data",
    [
        body_fixture("openrouter_generation_pending.json"),
        {"data": {"tokens_prompt": 30, "tokens_completion": 1800}},
        {"data": {"total_cost": "0.1"}},
        {"data": {"total_cost": None}},
        {"data": {"total_cost": True}},
        {"data": None},
        {"data": [1]},
        {},
        [],
        None,
    ],
)
def test_records_without_a_numeric_total_cost_are_not_found_yet(data: Any) -> None:
    assert parse_generation_record(data) is None
