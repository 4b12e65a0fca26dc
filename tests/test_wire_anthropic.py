"""Tests for the native Anthropic wire (minillm.core.providers.anthropic): headers, exact request bodies,
response parsing and stream events, against the fixtures in tests/fixtures/anthropic (see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minillm.core.auth import ResolvedCredential
from minillm.core.errors import (
    APIError,
    InvalidParameterError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
    StreamError,
)
from minillm.core.media import AudioData, DocumentData, ImageData, VideoData
from minillm.core.messages import Message, MessageContent, Role, TextPart
from minillm.core.params import CompletionParameters, ProviderSettings, ReasoningConfig
from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.base import Provider, StreamEnd, WireRequest
from minillm.core.sse import ServerSentEvent, SSEDecoder
from minillm.core.stream import StreamAccumulator, StreamChunk, StreamParser, ToolCallDelta
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
WIRE = AnthropicProvider()
MODEL = "claude-sonnet-4-5"
CC = {"type": "ephemeral"}

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
PDF_B64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"


def body(
    *messages: Message, params: CompletionParameters | None = None, stream: bool = False, **kw: Any
) -> dict[str, Any]:
    request = WireRequest(MODEL, messages, params or CompletionParameters(), stream=stream, **kw)
    return WIRE.build_body(request)


def marked(message: Message) -> Message:
    return Message(message.role, message.content, tool_call_id=message.tool_call_id, cache_breakpoint=True)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def events(name: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out = decoder.feed((FIXTURES / name).read_bytes())
    return out + decoder.finish()


def event(data: Any, name: str = "message") -> ServerSentEvent:
    return ServerSentEvent(event=name, data=data if isinstance(data, str) else json.dumps(data))


def accumulate(items: list[StreamChunk | StreamEnd | None]) -> StreamAccumulator:
    acc = StreamAccumulator(MODEL, expect_usage=True)
    for item in items:
        if acc.finished:
            break
        if item is not None:
            acc.ingest(item)
    return acc


# --- identity, URL and headers ------------------------------------------------------------------------------


def test_implements_the_provider_protocol() -> None:
    assert isinstance(WIRE, Provider)
    assert WIRE.name == "anthropic"


@pytest.mark.parametrize("base", ["https://api.anthropic.com", "https://api.anthropic.com/"])
def test_completions_url(base: str) -> None:
    assert WIRE.completions_url(base) == "https://api.anthropic.com/v1/messages"


def test_api_key_goes_in_x_api_key() -> None:
    headers = WIRE.headers(ResolvedCredential("api_key", "sk-ant-api03-k"), None)
    assert list(headers) == [("anthropic-version", "2023-06-01"), ("x-api-key", "sk-ant-api03-k")]


def test_bearer_token_adds_the_oauth_beta() -> None:
    headers = WIRE.headers(ResolvedCredential("bearer", "sk-ant-oat01-t"), None)
    assert list(headers) == [
        ("anthropic-version", "2023-06-01"),
        ("Authorization", "Bearer sk-ant-oat01-t"),
        ("anthropic-beta", "oauth-2025-04-20"),
    ]


def test_no_credential_sends_only_the_version_and_no_attribution() -> None:
    assert list(WIRE.headers(None, ("https://example.com", "My App"))) == [("anthropic-version", "2023-06-01")]


# --- request bodies -----------------------------------------------------------------------------------------


def test_plain_chat_body() -> None:
    got = body(Message.system("Be brief."), Message.user("Hello!"))
    assert got == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hello!"}],
        "stream": False,
        "system": "Be brief.",
        "temperature": 0.7,
    }


def test_sampling_parameters_and_what_is_not_sent() -> None:
    params = CompletionParameters(
        max_tokens=256,
        temperature=None,
        top_p=0.9,
        top_k=40,
        stop=["\n\nHuman:", "END"],
        frequency_penalty=0.5,
        presence_penalty=0.1,
        repetition_penalty=1.1,
        seed=7,
        extra={"metadata": {"user_id": "u1"}},
    )
    got = body(Message.user("Hi"), params=params, stream=True, include_usage=True, routing=ProviderSettings())
    assert got == {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["\n\nHuman:", "END"],
    }


def test_max_tokens_unset_is_4096_and_zero_is_sent_as_zero() -> None:
    assert body(Message.user("x"), params=CompletionParameters(max_tokens=None))["max_tokens"] == 4096
    assert body(Message.user("x"), params=CompletionParameters(max_tokens=0))["max_tokens"] == 0


def test_system_messages_are_hoisted_and_joined() -> None:
    got = body(
        Message.system("You are terse."),
        Message.user("Q1"),
        Message.assistant("A1"),
        Message.system("Answer in French."),
        Message.user("Q2"),
    )
    assert got["system"] == "You are terse.\nAnswer in French."
    assert got["messages"] == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


def test_empty_system_is_omitted() -> None:
    assert "system" not in body(Message.system(""), Message.user("Hi"))
    assert "system" not in body(Message.user("Hi"))


def test_system_removal_merges_the_turns_around_it() -> None:
    got = body(Message.user("one"), Message.system("S"), Message.user("two"))
    assert got["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
    ]


def test_consecutive_user_messages_become_one_turn_of_blocks() -> None:
    got = body(Message.user("Hello"), Message.user("World"), Message.assistant("Hi"), Message.assistant("there"))
    assert got["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "World"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
    ]


def test_cache_cap_example_of_reference_10_6() -> None:
    got = body(*(marked(Message.user(f"part {i}")) for i in range(5)))
    assert got["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "part 0"},
                {"type": "text", "text": "part 1", "cache_control": CC},
                {"type": "text", "text": "part 2", "cache_control": CC},
                {"type": "text", "text": "part 3", "cache_control": CC},
                {"type": "text", "text": "part 4", "cache_control": CC},
            ],
        }
    ]


def test_cache_cap_counts_system_marks_and_keeps_the_last_four() -> None:
    got = body(
        marked(Message.system("S")),
        marked(Message.user("u1")),
        marked(Message.assistant("a1")),
        marked(Message.user("u2")),
        marked(Message.assistant("a2")),
    )
    assert got["system"] == "S"
    assert [turn["content"][-1].get("cache_control") for turn in got["messages"]] == [CC, CC, CC, CC]


def test_cached_system_is_a_block_list() -> None:
    got = body(marked(Message.system("Long rules")), Message.system("More rules"), Message.user("Go"))
    assert got["system"] == [{"type": "text", "text": "Long rules\nMore rules", "cache_control": CC}]
    assert got["messages"] == [{"role": "user", "content": "Go"}]


def test_a_single_marked_text_is_sent_as_blocks() -> None:
    got = body(marked(Message.user("Cache me")))
    assert got["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Cache me", "cache_control": CC}]}]


def test_empty_assistant_message_keeps_a_body() -> None:
    got = body(Message.user("Hi"), Message.assistant(""))
    assert got["messages"][1] == {"role": "assistant", "content": ""}


def test_tool_use_and_tool_result_round_trip() -> None:
    calls = [
        ToolCall("toolu_01", "get_weather", '{"city":"Paris"}'),
        ToolCall("toolu_02", "get_weather", '{"city": "Zürich", "days": [1, 2]}'),
    ]
    got = body(
        Message.user("Weather in Paris and Zürich?"),
        Message(Role.ASSISTANT, "Checking both.", tool_calls=calls),
        Message.tool("toolu_01", "18°C, sunny"),
        Message.tool("toolu_02", "9°C, rain"),
        Message.user("Which is warmer?"),
        Message(Role.ASSISTANT, "", tool_calls=[ToolCall("toolu_03", "compare", "")]),
        marked(Message.tool("toolu_03", "Paris")),
    )
    assert got["messages"] == [
        {"role": "user", "content": "Weather in Paris and Zürich?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "get_weather",
                    "input": {"city": "Zürich", "days": [1, 2]},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "9°C, rain"},
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_03", "name": "compare", "input": {}}]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_03", "content": "Paris", "cache_control": CC}],
        },
    ]


def test_multipart_tool_result_text_is_joined() -> None:
    content = MessageContent((TextPart("line 1"), TextPart("line 2")))
    got = body(Message.tool("toolu_9", content))
    assert got["messages"][0]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_9", "content": "line 1\nline 2"}
    ]


def test_tool_result_with_an_image_is_a_block_list() -> None:
    content = MessageContent.with_images("screenshot", [ImageData.from_base64(PNG_B64, "image/png")])
    got = body(Message.tool("toolu_7", content))
    assert got["messages"][0]["content"][0]["content"] == [
        {"type": "text", "text": "screenshot"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
    ]


@pytest.mark.parametrize("arguments", ['{"city": "Par', "not json", "{'a': 1}"])
def test_unparseable_tool_arguments_are_refused(arguments: str) -> None:
    message = Message(Role.ASSISTANT, "", tool_calls=[ToolCall("toolu_x", "lookup", arguments)])
    with pytest.raises(InvalidParameterError, match=r"toolu_x.*not valid JSON"):
        body(Message.user("q"), message)


def test_tool_arguments_that_are_not_an_object_are_refused() -> None:
    message = Message(Role.ASSISTANT, "", tool_calls=[ToolCall("toolu_y", "lookup", "[1, 2]")])
    with pytest.raises(InvalidParameterError, match="JSON object"):
        body(Message.user("q"), message)


def test_tool_message_without_call_id_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="tool_call_id"):
        body(Message(Role.TOOL, "result"))


def test_response_format_is_refused_by_name() -> None:
    with pytest.raises(InvalidParameterError, match="response_format"):
        body(Message.user("x"), params=CompletionParameters().with_json_response())


def test_reasoning_becomes_thinking_with_a_budget() -> None:
    # Anthropic used to refuse reasoning; it is now sent as extended thinking (tests/test_reasoning_request.py).
    got = body(Message.user("x"), params=CompletionParameters().with_reasoning(ReasoningConfig(effort="high")))
    assert got["thinking"] == {"type": "enabled", "budget_tokens": 3276}
    assert "temperature" not in got


# --- images, PDFs, audio ------------------------------------------------------------------------------------


def test_base64_image() -> None:
    content = MessageContent.with_images("What is this?", [ImageData.from_base64(PNG_B64, "image/png")])
    got = body(Message.user(content))
    assert got["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
            ],
        }
    ]


def test_url_image_with_detail_ignored_and_cache_mark_on_the_image() -> None:
    image = ImageData.from_url("https://example.com/cat.jpg").with_detail("high")
    got = body(marked(Message.user(MessageContent.with_images("Describe", [image]))))
    assert got["messages"][0]["content"] == [
        {"type": "text", "text": "Describe"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}, "cache_control": CC},
    ]


def test_image_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpeg"
    path.write_bytes(b"\xff\xd8\xff\xe0fake")
    got = body(Message.user(MessageContent.with_images("", [ImageData.from_file(path)])))
    assert got["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4GZha2U="}}
    ]


@pytest.mark.parametrize("mime", ["image/bmp", "image/svg+xml", "application/octet-stream"])
def test_unsupported_image_types_are_refused(mime: str) -> None:
    content = MessageContent.with_images("x", [ImageData.from_base64(PNG_B64, mime)])
    with pytest.raises(InvalidParameterError, match="JPEG, PNG, GIF and WebP"):
        body(Message.user(content))


def test_a_data_url_that_is_not_base64_is_refused() -> None:
    content = MessageContent.from_json(
        [{"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>"}}]
    )
    with pytest.raises(InvalidParameterError, match="base64"):
        body(Message.user(content))


def test_base64_pdf_with_title() -> None:
    document = DocumentData.from_base64(PDF_B64).with_filename("report.pdf")
    got = body(Message.user(MessageContent.with_documents("Summarize", [document])))
    assert got["messages"][0]["content"] == [
        {"type": "text", "text": "Summarize"},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
            "title": "report.pdf",
        },
    ]


def test_url_pdf_titled_from_the_url() -> None:
    document = DocumentData.from_url("https://example.com/papers/attention.pdf?dl=1")
    got = body(Message.user(MessageContent.with_documents("Read", [document])))
    assert got["messages"][0]["content"][1] == {
        "type": "document",
        "source": {"type": "url", "url": "https://example.com/papers/attention.pdf?dl=1"},
        "title": "attention.pdf",
    }


def test_a_document_that_is_not_a_pdf_is_refused() -> None:
    content = MessageContent.from_json(
        [{"type": "file", "file": {"filename": "notes.txt", "file_data": "data:text/plain;base64,aGk="}}]
    )
    with pytest.raises(InvalidParameterError, match="PDF"):
        body(Message.user(content))


@pytest.mark.parametrize("clip", [AudioData.from_base64("UklGRg==", "wav"), AudioData.from_url("https://x/a.mp3")])
def test_audio_is_refused(clip: AudioData) -> None:
    with pytest.raises(InvalidParameterError, match="the Anthropic API does not accept audio"):
        body(Message.user(MessageContent.with_audio("Transcribe", [clip])))


def test_video_is_refused() -> None:
    content = MessageContent.with_video("Watch", [VideoData.from_url("https://x/v.mp4")])
    with pytest.raises(InvalidParameterError, match="does not accept video"):
        body(Message.user(content))


def test_media_in_the_system_prompt_is_refused() -> None:
    content = MessageContent.with_images("rules", [ImageData.from_url("https://x/i.png")])
    with pytest.raises(InvalidParameterError, match="system prompt"):
        body(Message.system(content), Message.user("Hi"))


# --- responses ----------------------------------------------------------------------------------------------


def test_text_response_and_usage() -> None:
    response = WIRE.parse_response(load("response_text.json"))
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert response.model == "claude-sonnet-4-5-20250929"
    assert response.content == "Hello! How can I help you today?"
    assert response.finish_reason == "end_turn"
    assert response.tool_calls == ()
    assert response.usage == Usage(uncached_input_tokens=9, cache_read_tokens=2, completion_tokens=4)
    assert (response.usage.prompt_tokens, response.usage.total_tokens, response.usage.cost) == (11, 15, None)


def test_tool_use_response() -> None:
    response = WIRE.parse_response(load("response_tool_use.json"))
    assert response.content == "I'll check the weather in both cities."
    assert response.finish_reason == "tool_use"
    assert response.tool_calls == (
        ToolCall("toolu_01A09q90qw90lq917835lq9", "get_weather", '{"city":"Paris","units":"celsius"}'),
        ToolCall("toolu_01B7Kx2uVf3pQm8nR4sT6wYz", "get_weather", '{"city":"Zürich","days":[1,2]}'),
    )
    assert response.usage == Usage(
        uncached_input_tokens=412, cache_read_tokens=2048, cache_write_tokens=1024, completion_tokens=87
    )


def test_thinking_blocks_are_not_text_and_null_counts_are_zero() -> None:
    response = WIRE.parse_response(load("response_thinking.json"))
    assert response.content == "27 \u00d7 453 = 12,231"
    assert response.finish_reason == "max_tokens"
    assert response.usage == Usage(uncached_input_tokens=46, completion_tokens=120, reasoning_tokens=98)


def test_tool_use_without_input_has_empty_object_arguments() -> None:
    data = {"id": "m", "model": "c", "content": [{"type": "tool_use", "id": "t1", "name": "ping"}]}
    assert WIRE.parse_response(data).tool_calls == (ToolCall("t1", "ping", "{}"),)


@pytest.mark.parametrize(
    ("fixture", "kind", "status", "message", "request_id"),
    [
        ("error_overloaded.json", ServerError, 529, "Overloaded", "req_011CSHoEeqs5C35K2UUqR7Fy"),
        ("error_rate_limit.json", RateLimitError, 429, "This request would exceed", "req_011CRr6Lm8aZyq3vC5n9pGhT"),
        ("error_invalid_request.json", ServerError, 502, "messages: text content", "req_011CQjNd7DwBDXcmb8mz4Trf"),
    ],
)
def test_error_bodies_raise(fixture: str, kind: type[APIError], status: int, message: str, request_id: str) -> None:
    data = load(fixture)
    with pytest.raises(kind) as info:
        WIRE.parse_response(data)
    assert type(info.value) is kind
    assert info.value.status_code == status
    assert info.value.message.startswith(message)
    assert info.value.request_id == request_id
    assert info.value.body == data


def test_an_error_object_without_a_type_is_a_502() -> None:
    with pytest.raises(ServerError) as info:
        WIRE.parse_response({"error": {"message": "upstream exploded"}})
    assert (info.value.status_code, info.value.message) == (502, "upstream exploded")


@pytest.mark.parametrize(
    "data",
    [
        ["not", "an", "object"],
        {"id": "m", "content": "just a string"},
        {"id": "m"},
        {"id": "m", "content": ["text"]},
        {"id": "m", "content": [{"type": "text"}]},
        {"id": "m", "content": [{"type": "tool_use", "name": "f", "input": {}}]},
        {"id": "m", "content": [{"type": "tool_use", "id": "t", "input": {}}]},
    ],
)
def test_malformed_responses(data: Any) -> None:
    with pytest.raises(MalformedResponseError):
        WIRE.parse_response(data)


# --- streams ------------------------------------------------------------------------------------------------


def test_text_stream_event_by_event() -> None:
    parsed = [WIRE.parse_stream_event(e) for e in events("stream_text.txt")]
    assert parsed == [
        StreamChunk(id="msg_014p7gG3wDgGV9EUtLvnow3U", usage=Usage(uncached_input_tokens=15, completion_tokens=1)),
        None,  # content_block_start of an empty text block
        None,  # ping
        StreamChunk(delta="Hel"),
        StreamChunk(delta="lo"),
        None,  # content_block_stop
        StreamChunk(finish_reason="end_turn", usage=Usage(completion_tokens=9)),
        StreamEnd(),
    ]
    acc = accumulate(parsed)
    assert (acc.text, acc.finish_reason, acc.id) == ("Hello", "end_turn", "msg_014p7gG3wDgGV9EUtLvnow3U")
    assert acc.usage == Usage(uncached_input_tokens=15, completion_tokens=9)
    assert acc.usage.total_tokens == 24


def test_cached_stream_repeats_cumulative_input_counts() -> None:
    parsed = [WIRE.parse_stream_event(e) for e in events("stream_cached.txt")]
    start, delta = parsed[0], parsed[-2]
    assert isinstance(start, StreamChunk) and isinstance(delta, StreamChunk)
    assert start.usage == Usage(12, 4096, 310, 1)
    assert delta.usage == Usage(12, 4096, 310, 30)
    assert delta.finish_reason == "max_tokens"
    acc = accumulate(parsed)
    assert acc.text == "Cached reply."
    assert acc.usage == Usage(12, 4096, 310, 30)


def test_tool_use_stream() -> None:
    parsed = [WIRE.parse_stream_event(e) for e in events("stream_tool_use.txt")]
    tool_chunks = [p for p in parsed if isinstance(p, StreamChunk) and p.tool_calls]
    assert [c.tool_calls for c in tool_chunks] == [
        (ToolCallDelta(1, id="toolu_01KFbKqPYSuAKujiL6mTfzYA", name="get_weather"),),
        (ToolCallDelta(1, arguments_fragment='{"city": "Par'),),
        (ToolCallDelta(1, arguments_fragment='is"}'),),
        (ToolCallDelta(2, id="toolu_01Nq8ZyC3sWcfLh4m5Xj2VbT", name="get_weather"),),
        (ToolCallDelta(2, arguments_fragment='{"city": "Oslo"}'),),
    ]
    # The empty first partial_json and the pings carry nothing.
    assert parsed[5] is None and parsed[6] is None
    response = accumulate(parsed).response()
    assert response.content == "Checking both cities."
    assert response.finish_reason == "tool_use"
    assert response.tool_calls == (
        ToolCall("toolu_01KFbKqPYSuAKujiL6mTfzYA", "get_weather", '{"city": "Paris"}'),
        ToolCall("toolu_01Nq8ZyC3sWcfLh4m5Xj2VbT", "get_weather", '{"city": "Oslo"}'),
    )
    assert response.usage == Usage(uncached_input_tokens=849, completion_tokens=47)


def test_thinking_deltas_are_surfaced_and_the_tool_index_starts_at_one() -> None:
    parsed = [WIRE.parse_stream_event(e) for e in events("stream_thinking_tool.txt")]
    assert parsed[2] is not None and parsed[2].reasoning_delta == "The user wants the time in Tokyo; call get_time."
    assert parsed[4] is None  # content_block_stop
    assert parsed[5] == StreamChunk(tool_calls=[ToolCallDelta(1, id="toolu_01T1x1fJ34qAmk2tNTrN7Up6", name="get_time")])
    response = accumulate(parsed).response()
    assert response.content == ""
    assert response.tool_calls == (ToolCall("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_time", '{"tz": "Asia/Tokyo"}'),)
    assert response.usage == Usage(uncached_input_tokens=520, completion_tokens=64, reasoning_tokens=21)
    assert response.reasoning == "The user wants the time in Tokyo; call get_time."
    assert [p.block for p in response.reasoning_parts] == [
        {
            "type": "thinking",
            "thinking": "The user wants the time in Tokyo; call get_time.",
            "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        }
    ]


def test_sparse_tool_indices_come_out_in_index_order() -> None:
    stream = [
        {"type": "content_block_start", "index": 5, "content_block": {"type": "tool_use", "id": "t5", "name": "b"}},
        {"type": "content_block_delta", "index": 5, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "t3", "name": "a"}},
        {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": '{"k":'}},
        {"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
    ]
    parsed = [WIRE.parse_stream_event(event(data)) for data in stream]
    assert parsed[0] == StreamChunk(tool_calls=[ToolCallDelta(5, id="t5", name="b")])
    assert accumulate(parsed).response().tool_calls == (ToolCall("t3", "a", '{"k":1}'), ToolCall("t5", "b", "{}"))


def test_a_non_empty_start_input_is_sent_as_the_first_fragment() -> None:
    data = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "é"}},
    }
    assert WIRE.parse_stream_event(event(data)) == StreamChunk(
        tool_calls=[ToolCallDelta(0, id="t", name="f", arguments_fragment='{"q":"é"}')]
    )


def test_error_event_in_the_fixture_stream() -> None:
    stream = events("stream_error.txt")
    assert [WIRE.parse_stream_event(e) for e in stream[:3]][2] == StreamChunk(delta="Hel")
    with pytest.raises(ServerError) as info:
        WIRE.parse_stream_event(stream[3])
    assert (info.value.status_code, info.value.message) == (529, "Overloaded")


@pytest.mark.parametrize(
    ("error_type", "kind", "status"),
    [
        ("overloaded_error", ServerError, 529),
        ("rate_limit_error", RateLimitError, 429),
        ("api_error", ServerError, 500),
        ("timeout_error", ServerError, 504),
        ("invalid_request_error", ServerError, 502),
        ("something_new", ServerError, 502),
    ],
)
def test_error_event_types(error_type: str, kind: type[APIError], status: int) -> None:
    data = {"type": "error", "error": {"type": error_type, "message": "it broke"}}
    with pytest.raises(kind) as info:
        WIRE.parse_stream_event(event(data, "error"))
    assert type(info.value) is kind
    assert (info.value.status_code, info.value.message, info.value.body) == (status, "it broke", data)


def test_an_error_event_with_unparsable_data_still_raises() -> None:
    with pytest.raises(ServerError) as info:
        WIRE.parse_stream_event(event("Internal server error", "error"))
    assert (info.value.status_code, info.value.message) == (502, "Internal server error")


@pytest.mark.parametrize(
    "data",
    [
        "",
        "[1, 2]",
        {"no": "type"},
        {"type": "ping"},
        {"type": "content_block_stop", "index": 0},
        {"type": "some_future_event", "payload": 1},
        {"type": "message_start", "message": {"id": "", "content": []}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "s"}},
        {"type": "message_delta", "delta": {}},
    ],
)
def test_events_that_carry_nothing_are_skipped(data: Any) -> None:
    assert WIRE.parse_stream_event(event(data)) is None


@pytest.mark.parametrize("name", ["message", "message_start", "content_block_delta", "message_delta"])
def test_an_event_that_carries_the_reply_must_be_json(name: str) -> None:
    # Skipping it would leave its text out of a reply reported as complete.
    with pytest.raises(MalformedResponseError, match="not JSON"):
        WIRE.parse_stream_event(event('{"type": "content_block_delta", "delta": {"text": "cut sh', name))


@pytest.mark.parametrize("name", ["ping", "some_future_event"])
def test_ping_and_unknown_event_types_are_ignored_whatever_their_data(name: str) -> None:
    assert WIRE.parse_stream_event(event("not json", name)) is None


def test_the_event_name_types_an_untyped_payload() -> None:
    assert WIRE.parse_stream_event(event({}, "message_stop")) == StreamEnd()


def test_expects_stream_usage_only_when_asked() -> None:
    assert WIRE.expects_stream_usage(True) is True
    assert WIRE.expects_stream_usage(False) is False


def test_stream_parser_end_to_end() -> None:
    parser = StreamParser(WIRE, MODEL, include_usage=True)
    raw = (FIXTURES / "stream_text.txt").read_bytes()
    chunks = [c for i in range(0, len(raw), 7) for c in parser.feed(raw[i : i + 7])]
    assert "".join(c.delta for c in chunks) == "Hello"
    response = parser.finish()
    assert (response.content, response.finish_reason, response.model) == ("Hello", "end_turn", MODEL)
    assert response.usage is not None and response.usage.total_tokens == 24


def test_stream_parser_surfaces_the_error_event_with_partial_text() -> None:
    parser = StreamParser(WIRE, MODEL, include_usage=False)
    # The chunks before the error in the same piece are handed over first; the error comes next.
    assert "".join(c.delta for c in parser.feed((FIXTURES / "stream_error.txt").read_bytes())) == "Hel"
    with pytest.raises(StreamError) as info:
        parser.finish()
    assert info.value.partial_text == "Hel"
    assert isinstance(info.value.__cause__, ServerError) and info.value.__cause__.status_code == 529
