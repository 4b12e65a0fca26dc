"""The shared ``/chat/completions`` dialect, through the OpenAI wire: bodies, headers, response and stream parsing.

Fixtures are real-shaped bodies and SSE streams under ``tests/fixtures/openai`` (sources in
``tests/fixtures/README.md``). Bodies sent on the OpenAI wire are checked against OpenAI's published
``CreateChatCompletionRequest`` schema.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from minillm.core.auth import ResolvedCredential
from minillm.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from minillm.core.media import AudioData, DocumentData, ImageData, VideoData
from minillm.core.messages import AudioPart, ContentPart, Message, MessageContent, TextPart
from minillm.core.params import CompletionParameters, ProviderSettings, ReasoningConfig
from minillm.core.providers.base import Provider, StreamEnd, WireRequest
from minillm.core.providers.openai import OpenAIProvider
from minillm.core.providers.openai_wire import OpenAIDialect, in_band_error, parse_openai_usage
from minillm.core.sse import ServerSentEvent, SSEDecoder
from minillm.core.stream import StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall
from minillm.core.usage import TokenPrice, Usage

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
WIRE = OpenAIProvider()
NO_PARAMS = CompletionParameters(max_tokens=None, temperature=None)
HELLO = (Message.user("Hello"),)


def body_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["body"]


def stream_fixture(wire: OpenAIDialect, name: str) -> list[StreamChunk | StreamEnd]:
    """Decode a fixture stream with the SSE decoder and parse every event, dropping skipped ones."""
    lines = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["sse"]
    decoder = SSEDecoder()
    events = decoder.feed(("\n".join(lines) + "\n").encode("utf-8")) + decoder.finish()
    items = [wire.parse_stream_event(e) for e in events]
    return [i for i in items if i is not None]


def event(data: str) -> ServerSentEvent:
    return ServerSentEvent(data=data)


def body(
    messages: tuple[Message, ...] = HELLO,
    params: CompletionParameters = NO_PARAMS,
    *,
    stream: bool = False,
    include_usage: bool = False,
    routing: ProviderSettings | None = None,
    model: str = "gpt-4o",
    wire: OpenAIDialect = WIRE,
) -> dict[str, Any]:
    return wire.build_body(WireRequest(model, messages, params, stream, include_usage, routing))


# ---------------------------------------------------------------------------------------------------------
# Identity, URL, headers


def test_openai_provider_is_a_provider_named_openai() -> None:
    assert isinstance(WIRE, Provider)
    assert isinstance(WIRE, OpenAIDialect)
    assert WIRE.name == "openai"


@pytest.mark.parametrize("base", ["https://api.openai.com/v1", "https://api.openai.com/v1/"])
def test_completions_url_ignores_a_trailing_slash(base: str) -> None:
    assert WIRE.completions_url(base) == "https://api.openai.com/v1/chat/completions"


@pytest.mark.parametrize("kind", ["api_key", "bearer"])
def test_both_credential_kinds_are_sent_as_bearer(kind: Any) -> None:
    headers = WIRE.headers(ResolvedCredential(kind, "sk-test-123"), None)
    assert list(headers) == [("Authorization", "Bearer sk-test-123")]


def test_no_credential_no_header_and_no_attribution_on_openai() -> None:
    assert list(WIRE.headers(None, ("https://example.com", "My App"))) == []
    headers = WIRE.headers(ResolvedCredential("api_key", "k"), ("https://example.com", "My App"))
    assert [name for name, _ in headers] == ["Authorization"]


# ---------------------------------------------------------------------------------------------------------
# Request body


def test_every_param_unset_gives_exactly_model_messages_stream() -> None:
    assert body() == {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}], "stream": False}
    assert list(body(stream=True)) == ["model", "messages", "stream"]
    assert body(stream=True)["stream"] is True


def test_default_params_send_the_token_limit_and_temperature() -> None:
    sent = body(params=CompletionParameters())
    assert list(sent) == ["model", "messages", "stream", "max_completion_tokens", "temperature"]
    assert sent["max_completion_tokens"] == 4096
    assert sent["temperature"] == pytest.approx(0.7)
    assert "max_tokens" not in sent


def test_every_param_in_the_dialect_order() -> None:
    params = CompletionParameters(
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        repetition_penalty=1.1,
        stop=["\n\n", "END"],
        seed=7,
        parallel_tool_calls=False,
        reasoning=ReasoningConfig(effort="low", max_tokens=1024, exclude=True),
    ).with_json_response()
    sent = body(params=params, stream=True, include_usage=True)
    assert list(sent) == [
        "model",
        "messages",
        "stream",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "stop",
        "seed",
        "response_format",
        "parallel_tool_calls",
        "reasoning_effort",
        "stream_options",
    ]
    assert sent["max_completion_tokens"] == 256
    assert sent["top_k"] == 40
    assert sent["stop"] == ["\n\n", "END"]
    assert sent["seed"] == 7
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["parallel_tool_calls"] is False
    assert sent["reasoning_effort"] == "low"  # OpenAI's key; a budget and exclude have no OpenAI key
    assert sent["stream_options"] == {"include_usage": True}


def test_parallel_tool_calls_is_sent_for_true_too() -> None:
    assert body(params=NO_PARAMS.with_parallel_tool_calls(True))["parallel_tool_calls"] is True
    assert "parallel_tool_calls" not in body()


def test_extra_keys_are_not_merged_by_the_wire() -> None:
    # The core merges extras (and refuses collisions); the wire leaves them alone.
    assert "user" not in body(params=NO_PARAMS.with_extra("user", "u-1"))


@pytest.mark.parametrize(
    ("stream", "include_usage", "expected"),
    [(True, True, {"include_usage": True}), (False, True, None), (True, False, None), (False, False, None)],
)
def test_openai_asks_for_usage_only_on_streams(stream: bool, include_usage: bool, expected: Any) -> None:
    sent = body(stream=stream, include_usage=include_usage)
    assert sent.get("stream_options") == expected
    assert "usage" not in sent


def test_openai_waits_for_stream_usage_only_when_asked() -> None:
    assert WIRE.expects_stream_usage(True) is True
    assert WIRE.expects_stream_usage(False) is False


def test_routing_is_not_sent_on_the_openai_wire() -> None:
    routing = ProviderSettings(order=["Anthropic", "OpenAI"], sort="latency", allow_fallbacks=False)
    assert "provider" not in body(routing=routing)


# ---------------------------------------------------------------------------------------------------------
# Messages payload


def test_roles_name_tool_call_id_and_tool_calls() -> None:
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    messages = (
        Message.system("Be brief."),
        Message.user("Weather?").with_name("alice"),
        Message("assistant", "", tool_calls=[call]),
        Message.tool("call_1", "18C and sunny"),
        Message.assistant("It is 18C."),
    )
    assert body(messages)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?", "name": "alice"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "18C and sunny", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "It is 18C."},
    ]


def test_tool_call_only_assistant_with_empty_parts_still_sends_empty_string() -> None:
    msg = Message("assistant", MessageContent(()), tool_calls=[ToolCall("c", "f", "{}")])
    assert body((msg,))["messages"][0]["content"] == ""


def test_cache_marks_never_reach_the_openai_wire() -> None:
    marked = (Message("user", "Long document", cache_breakpoint=True),)
    for model in ("gpt-4o", "anthropic/claude-sonnet-4.5"):
        sent = body(marked, model=model)["messages"]
        assert sent == [{"role": "user", "content": "Long document"}]
        assert "cache_breakpoint" not in json.dumps(sent)
        assert "cache_control" not in json.dumps(sent)


def test_parts_drop_estimation_metadata_and_keep_detail() -> None:
    image = ImageData.from_url("https://example.com/cat.png").with_detail("high").with_dimensions(640, 480)
    audio = AudioData.from_base64("UklGRg==", "wav").with_duration(1.5)
    video = VideoData.from_url("https://example.com/clip.mp4").with_duration(3.0).with_dimensions(320, 240)
    doc = DocumentData.from_base64("JVBERi0=").with_filename("report.pdf").with_page_count(3)
    content = MessageContent.with_media("Look", [image, audio, video, doc])
    assert body((Message.user(content),))["messages"][0]["content"] == [
        {"type": "text", "text": "Look"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
    ]


def test_images_and_videos_keep_data_urls_verbatim() -> None:
    image = ImageData.from_base64("iVBORw0KGgo=", "image/png")
    video = VideoData.from_base64("AAAAGGZ0eXA=", "mp4")
    parts = body((Message.user(MessageContent.with_media("x", [image, video])),))["messages"][0]["content"]
    assert parts[1]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert parts[2]["video_url"]["url"] == "data:video/mp4;base64,AAAAGGZ0eXA="


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        # A data URL becomes its payload, the MIME subtype its format.
        (AudioPart("data:audio/mp3;base64,aGk="), {"data": "aGk=", "format": "mp3"}),
        (AudioPart("data:audio/mpeg;base64,aGk="), {"data": "aGk=", "format": "mpeg"}),
        # A format already given wins over the MIME subtype.
        (AudioPart("data:audio/mpeg;base64,aGk=", "mp3"), {"data": "aGk=", "format": "mp3"}),
        # Plain URLs stay verbatim, with no format.
        (AudioPart("https://example.com/clip.mp3"), {"data": "https://example.com/clip.mp3"}),
        # Inline base64 is untouched.
        (AudioPart("aGk=", "wav"), {"data": "aGk=", "format": "wav"}),
    ],
)
def test_audio_normalization(part: AudioPart, expected: dict[str, str]) -> None:
    sent = body((Message.user(MessageContent((TextPart("listen"), part))),))["messages"][0]["content"]
    assert sent[1] == {"type": "input_audio", "input_audio": expected}


def test_audio_from_a_data_url_media_object_is_normalized() -> None:
    clip = AudioData.from_url("data:audio/wav;base64,UklGRg==")
    sent = body((Message.user(MessageContent.with_audio("x", [clip])),))["messages"][0]["content"]
    assert sent[1]["input_audio"] == {"data": "UklGRg==", "format": "wav"}


def test_building_a_body_does_not_change_the_message() -> None:
    part = AudioPart("data:audio/mp3;base64,aGk=")
    msg = Message.user(MessageContent((TextPart("x"), part)))
    body((msg,))
    assert msg.content.parts[1] == AudioPart("data:audio/mp3;base64,aGk=")


# ---------------------------------------------------------------------------------------------------------
# Bodies validate against OpenAI's published CreateChatCompletionRequest schema


@pytest.fixture(scope="module")
def openai_schema() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((FIXTURES / "create_chat_completion_request.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_bodies() -> list[dict[str, Any]]:
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    conversation = (
        Message.system("Be brief."),
        Message.user("Weather in Paris?").with_name("alice"),
        Message("assistant", "", tool_calls=[call]),
        Message.tool("call_1", "18C"),
        Message.assistant("It is 18C."),
        Message("user", "Thanks", cache_breakpoint=True),
    )
    media = MessageContent.with_media(
        "Describe these.",
        [
            ImageData.from_base64("iVBORw0KGgo=", "image/png").with_detail("low").with_dimensions(2, 2),
            AudioData.from_base64("UklGRg==", "wav").with_duration(0.5),
            AudioData.from_url("data:audio/mp3;base64,aGk="),
            DocumentData.from_base64("JVBERi0=").with_page_count(1),
        ],
    )
    full = CompletionParameters(
        max_tokens=100,
        temperature=0.3,
        top_p=0.95,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        stop=["END"],
        seed=1,
        parallel_tool_calls=True,
    ).with_json_response()
    return [
        body(),
        body(params=CompletionParameters(), stream=True, include_usage=True),
        body(conversation, full),
        body((Message.user(media),), CompletionParameters(max_tokens=0)),
        # Keys the schema does not list (top_k, repetition_penalty) are allowed by it; reasoning_effort it lists.
        body(params=CompletionParameters(top_k=5, repetition_penalty=1.2, reasoning=ReasoningConfig(effort="high"))),
    ]


@pytest.mark.parametrize("index", range(5))
def test_openai_bodies_validate_against_the_published_schema(openai_schema: Any, index: int) -> None:
    sent = _schema_bodies()[index]
    errors = [e.message for e in openai_schema.iter_errors(sent)]
    assert errors == []


def test_the_schema_rejects_a_wrong_body(openai_schema: Any) -> None:
    # Proof that the validation above can fail: an empty message list and a non-boolean stream.
    assert list(openai_schema.iter_errors({"model": "gpt-4o", "messages": [], "stream": False}))
    assert list(
        openai_schema.iter_errors({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": "yes"})
    )


# ---------------------------------------------------------------------------------------------------------
# Response parse


def test_plain_reply_with_cached_tokens() -> None:
    r = WIRE.parse_response(body_fixture("chat_completion.json"))
    assert r.id == "chatcmpl-BxQ7kL2v9mZtR4pNc8WfYhD3aGe1s"
    assert r.model == "gpt-4o-2024-08-06"
    assert r.content == "The capital of France is Paris."
    assert r.finish_reason == "stop"
    assert r.usage == Usage(
        uncached_input_tokens=86,
        cache_read_tokens=1920,
        cache_write_tokens=0,
        completion_tokens=300,
        reasoning_tokens=0,
    )
    assert r.usage is not None and r.usage.prompt_tokens == 2006
    assert r.tool_calls == ()
    assert r.media == ()


def test_tool_call_reply_has_empty_content_and_both_calls() -> None:
    r = WIRE.parse_response(body_fixture("chat_completion_tool_calls.json"))
    assert r.content == ""
    assert r.finish_reason == "tool_calls"
    assert r.tool_calls == (
        ToolCall("call_5yHq2JkLm8NpQr4StUv6WxYz", "get_weather", '{"location":"Paris, France"}'),
        ToolCall("call_9aBc1DeF3gHi5JkL7mNo9PqR", "get_weather", '{"location":"Bogotá, Colombia"}'),
    )
    assert r.usage == Usage(uncached_input_tokens=82, completion_tokens=51, reasoning_tokens=None)


def test_reasoning_reply_counts_reasoning_tokens() -> None:
    r = WIRE.parse_response(body_fixture("chat_completion_reasoning.json"))
    assert r.usage == Usage(
        uncached_input_tokens=96, cache_read_tokens=1024, completion_tokens=1470, reasoning_tokens=1408
    )


def test_missing_id_and_model_become_empty_strings() -> None:
    r = WIRE.parse_response({"choices": [{"message": {"content": "hi"}}]})
    assert (r.id, r.model, r.content, r.finish_reason, r.usage) == ("", "", "hi", None, None)


@pytest.mark.parametrize("content", [None, ["not", "a", "string"], 3])
def test_non_string_content_reads_as_empty(content: Any) -> None:
    r = WIRE.parse_response({"id": "x", "model": "m", "choices": [{"message": {"content": content}}]})
    assert r.content == ""


@pytest.mark.parametrize(
    "data",
    [
        {"id": "gen-1", "model": "m"},
        {"choices": []},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        {"choices": [{"message": "hello"}]},
        {"choices": "nope"},
        ["not", "an", "object"],
        None,
    ],
)
def test_a_body_without_choices0_message_is_malformed(data: Any) -> None:
    with pytest.raises(MalformedResponseError):
        WIRE.parse_response(data)


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "c1", "type": "function", "function": {"arguments": "{}"}},
        {"id": "c1", "type": "function"},
        {"id": 5, "type": "function", "function": {"name": "f"}},
        "c1",
    ],
)
def test_tool_call_entries_need_an_id_and_a_function_name(entry: Any) -> None:
    data = {"choices": [{"message": {"content": None, "tool_calls": [entry]}}]}
    with pytest.raises(MalformedResponseError, match=r"tool_calls entry missing id or function\.name"):
        WIRE.parse_response(data)


def test_tool_call_without_arguments_gets_empty_arguments() -> None:
    data = {"choices": [{"message": {"tool_calls": [{"id": "c1", "function": {"name": "ping"}}]}}]}
    assert WIRE.parse_response(data).tool_calls == (ToolCall("c1", "ping", ""),)


def test_returned_images_become_url_media() -> None:
    url = "data:image/png;base64,iVBORw0KGgo="
    data = {"choices": [{"message": {"content": "", "images": [{"type": "image_url", "image_url": {"url": url}}]}}]}
    (image,) = WIRE.parse_response(data).media
    assert image == ImageData.from_url(url)
    assert image.is_url


def test_an_image_entry_without_a_url_is_malformed() -> None:
    data = {"choices": [{"message": {"content": "", "images": [{"type": "image_url", "image_url": {}}]}}]}
    with pytest.raises(MalformedResponseError, match=r"response image entry has no image_url\.url"):
        WIRE.parse_response(data)


# In-band errors ------------------------------------------------------------------------------------------

VALID = {"id": "x", "model": "m", "choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}]}


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (400, 400, BadRequestError),
        (404, 404, BadRequestError),
        (422, 422, BadRequestError),
        (401, 401, AuthenticationError),
        (403, 403, AuthenticationError),
        (429, 429, RateLimitError),
        (500, 500, ServerError),
        (503, 503, ServerError),
        (402, 402, APIError),
        (408, 408, APIError),
        (100, 100, APIError),
        (599, 599, ServerError),
        ("rate_limit_exceeded", 502, ServerError),
        (999999, 502, ServerError),
        (99, 502, ServerError),
        (600, 502, ServerError),
        (429.0, 502, ServerError),
        (True, 502, ServerError),
        (None, 502, ServerError),
    ],
)
def test_error_object_status_rule(code: Any, status: int, kind: type[APIError]) -> None:
    data = {**VALID, "error": {"code": code, "message": "it broke"}}
    with pytest.raises(APIError) as info:
        WIRE.parse_response(data)
    assert type(info.value) is kind
    assert info.value.status_code == status
    assert info.value.message.startswith("it broke")
    assert info.value.body == data


def test_error_without_message_uses_a_preview_of_the_error_object() -> None:
    with pytest.raises(ServerError) as info:
        WIRE.parse_response({"error": {"type": "server_error", "detail": "x" * 500}})
    assert info.value.message.startswith('{"type": "server_error"')
    assert info.value.message.endswith("…")
    assert len(info.value.message) == 201


def test_openai_error_body_with_string_code_is_a_502() -> None:
    with pytest.raises(ServerError) as info:
        WIRE.parse_response(body_fixture("error_in_body.json"))
    assert info.value.status_code == 502
    assert info.value.message == "You exceeded your current quota, please check your plan and billing details."


@pytest.mark.parametrize("error", [None, {}, False, 0, "", "something went wrong", [], [{"message": "x"}]])
def test_error_values_that_are_not_errors(error: Any) -> None:
    assert WIRE.parse_response({**VALID, "error": error}).content == "fine"


def test_in_band_error_helper_picks_the_class_for_the_status() -> None:
    assert type(in_band_error(429, "slow down")) is RateLimitError
    assert type(in_band_error(404, "no such model")) is BadRequestError
    err = in_band_error(401, "bad key", {"error": {}})
    assert type(err) is AuthenticationError
    assert err.body == {"error": {}}
    assert "check the API key" in err.message


# Usage ---------------------------------------------------------------------------------------------------


def test_usage_reference_example_and_its_cost() -> None:
    usage = parse_openai_usage(
        {
            "prompt_tokens": 10000,
            "completion_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 5000},
        }
    )
    assert usage == Usage(
        uncached_input_tokens=8000, cache_read_tokens=2000, cache_write_tokens=5000, completion_tokens=100
    )
    assert usage.prompt_tokens == 15000
    price = TokenPrice(3.0, 15.0).with_cache_rates(0.3, 3.75)
    assert math.isclose(price.cost_of(usage), 0.04485)


def test_usage_with_more_cached_than_prompt_tokens_is_dropped() -> None:
    assert parse_openai_usage({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}) is None
    r = WIRE.parse_response({**VALID, "usage": {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}}})
    assert r.usage is None


def test_usage_counts_that_are_not_plain_ints_read_as_token_counts() -> None:
    # Booleans, negatives and fractions read as 0, integral floats as ints; empty or odd details add nothing.
    odd = {
        "prompt_tokens": True,
        "completion_tokens": -3,
        "prompt_tokens_details": [1],
        "completion_tokens_details": {},
    }
    assert parse_openai_usage(odd) == Usage()
    usage = parse_openai_usage(
        {
            "prompt_tokens": 12.0,
            "completion_tokens": 2.5,
            "prompt_tokens_details": {"cached_tokens": 2.0, "cache_write_tokens": None},
            "completion_tokens_details": {"reasoning_tokens": 4},
        }
    )
    assert usage == Usage(uncached_input_tokens=10, cache_read_tokens=2, completion_tokens=0, reasoning_tokens=4)
    assert parse_openai_usage({"prompt_tokens": 5, "completion_tokens": 7}) == Usage(5, 0, 0, 7)


def test_usage_with_every_prompt_token_cached_is_valid() -> None:
    usage = parse_openai_usage({"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 10}})
    assert usage == Usage(uncached_input_tokens=0, cache_read_tokens=10)


@pytest.mark.parametrize("usage", [None, "12", [], 7])
def test_absent_or_odd_usage_is_none(usage: Any) -> None:
    assert parse_openai_usage(usage) is None


def test_missing_numbers_count_as_zero_and_reasoning_stays_unknown() -> None:
    assert parse_openai_usage({}) == Usage()
    assert parse_openai_usage({"completion_tokens_details": None}) == Usage(reasoning_tokens=None)
    assert parse_openai_usage({"prompt_tokens": "12", "completion_tokens": True}) == Usage()


# ---------------------------------------------------------------------------------------------------------
# Stream parse

STREAM_ID = "chatcmpl-BxS4q8WvN2eK7cR1tY5uI9oP3aS6d"


def test_text_stream_with_trailing_usage_chunk() -> None:
    items = stream_fixture(WIRE, "stream_text_with_usage.json")
    usage = Usage(uncached_input_tokens=19, completion_tokens=10, reasoning_tokens=0)
    assert items == [
        # The role-only first chunk carries nothing and is skipped.
        StreamChunk(delta="Hello", id=STREAM_ID),
        StreamChunk(delta="!", id=STREAM_ID),
        StreamChunk(delta=" How can I help you today?", id=STREAM_ID),
        StreamChunk(id=STREAM_ID, finish_reason="stop"),
        StreamChunk(id=STREAM_ID, usage=usage),
        StreamEnd(),
    ]


def test_streamed_tool_calls() -> None:
    items = stream_fixture(WIRE, "stream_tool_calls.json")
    assert isinstance(items[-1], StreamEnd)
    chunks = [i for i in items if isinstance(i, StreamChunk)]
    assert chunks[-1].finish_reason == "tool_calls"
    deltas = [d for c in chunks for d in (c.tool_calls or ())]
    assert deltas[0] == ToolCallDelta(0, "call_Qw3rTy5uIo7pAs9dFg1hJk3l", "get_weather", None)
    assert deltas[4] == ToolCallDelta(1, "call_Zx9cVb7nMl5kJh3gFd1sAq2w", "get_time", None)
    args = {i: "".join(d.arguments_fragment or "" for d in deltas if d.index == i) for i in (0, 1)}
    assert args == {0: '{"location": "Paris"}', 1: '{"tz": "Europe/Paris"}'}
    assert all(json.loads(a) for a in args.values())


def test_tool_call_deltas_without_an_integer_index_are_skipped() -> None:
    payload = {
        "id": "c",
        "choices": [
            {
                "delta": {
                    "tool_calls": [
                        {"id": "a", "function": {"name": "no_index"}},
                        {"index": "1", "id": "b"},
                        {"index": True, "id": "t"},
                        {"index": 2.0, "id": "f"},
                        "junk",
                        {"index": 3, "function": {"arguments": '{"x":'}},
                    ]
                }
            }
        ],
    }
    chunk = WIRE.parse_stream_event(event(json.dumps(payload)))
    assert chunk == StreamChunk(id="c", tool_calls=[ToolCallDelta(3, arguments_fragment='{"x":')])


def test_a_chunk_with_only_skipped_tool_deltas_is_skipped() -> None:
    payload = {"id": "c", "choices": [{"delta": {"tool_calls": [{"id": "a"}]}}]}
    assert WIRE.parse_stream_event(event(json.dumps(payload))) is None


def test_mid_stream_error_raises_after_the_text() -> None:
    lines = json.loads((FIXTURES / "stream_error.json").read_text(encoding="utf-8"))["sse"]
    decoder = SSEDecoder()
    events = decoder.feed(("\n".join(lines) + "\n").encode())
    assert [WIRE.parse_stream_event(e) for e in events[:-1]] == [
        None,
        StreamChunk(delta="The", id="chatcmpl-BxT0a9Sd8Fg7Hj6Kl5Zx4Cv3Bn2Mq1w"),
        StreamChunk(delta=" answer", id="chatcmpl-BxT0a9Sd8Fg7Hj6Kl5Zx4Cv3Bn2Mq1w"),
    ]
    with pytest.raises(ServerError) as info:
        WIRE.parse_stream_event(events[-1])
    assert info.value.status_code == 502
    assert "The server had an error" in info.value.message


def test_stream_error_with_an_integer_code_keeps_it() -> None:
    with pytest.raises(RateLimitError) as info:
        WIRE.parse_stream_event(event('{"error": {"code": 429, "message": "slow down"}}'))
    assert info.value.status_code == 429


@pytest.mark.parametrize("data", ["[DONE]", " [DONE] ", "[DONE]\n"])
def test_done_ends_the_stream(data: str) -> None:
    assert WIRE.parse_stream_event(event(data)) == StreamEnd()
    assert StreamEnd().finish_reason == "stop"


@pytest.mark.parametrize("data", ["", "  ", "42", "[]", '"text"', "null"])
def test_empty_or_non_object_events_are_skipped(data: str) -> None:
    assert WIRE.parse_stream_event(event(data)) is None


@pytest.mark.parametrize("data", ["not json", "{", "[DONE", '{"choices": [{"delta": {"content": "a\tb"}}]}'])
def test_events_that_are_not_json_are_malformed(data: str) -> None:
    # Skipping them would leave their text out of a reply reported as complete.
    with pytest.raises(MalformedResponseError, match="not JSON"):
        WIRE.parse_stream_event(event(data))


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": ""}]},
        {"id": "chatcmpl-1", "choices": [], "usage": None},
        {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": []}}]},
        {"choices": [{"delta": {"content": None}}], "error": None},
    ],
)
def test_chunks_that_carry_nothing_are_skipped(payload: dict[str, Any]) -> None:
    assert WIRE.parse_stream_event(event(json.dumps(payload))) is None


def test_chunk_fields_are_read_leniently() -> None:
    payload = {"id": "", "choices": [{"delta": {"content": "x"}, "finish_reason": None}]}
    assert WIRE.parse_stream_event(event(json.dumps(payload))) == StreamChunk(delta="x", id=None)


def test_usage_on_the_finish_chunk_itself() -> None:
    items = stream_fixture(WIRE, "stream_usage_on_finish_chunk.json")
    final = items[-2]
    assert isinstance(final, StreamChunk)
    assert final.delta == "!"
    assert final.finish_reason == "length"
    assert final.usage == Usage(uncached_input_tokens=25, completion_tokens=2)
    assert items[-1] == StreamEnd()


def test_litellm_usage_chunk_with_an_empty_delta_choice() -> None:
    items = stream_fixture(WIRE, "stream_litellm_usage_chunk.json")
    texts = "".join(i.delta for i in items if isinstance(i, StreamChunk))
    assert texts == "Hi there."
    usage_chunk = items[-2]
    assert isinstance(usage_chunk, StreamChunk)
    assert usage_chunk.usage == Usage(uncached_input_tokens=12, completion_tokens=3)
    assert usage_chunk.finish_reason is None


def test_stream_without_done_ends_on_its_finish_chunk() -> None:
    items = stream_fixture(WIRE, "stream_no_done.json")
    assert [i.delta for i in items if isinstance(i, StreamChunk)] == ["Hello", " world", ""]
    last = items[-1]
    assert isinstance(last, StreamChunk) and last.finish_reason == "stop"
    assert not any(isinstance(i, StreamEnd) for i in items)


def test_stream_parsing_does_not_depend_on_how_the_bytes_were_split() -> None:
    lines = json.loads((FIXTURES / "stream_tool_calls.json").read_text(encoding="utf-8"))["sse"]
    raw = ("\r\n".join(lines) + "\r\n").encode()
    whole = stream_fixture(WIRE, "stream_tool_calls.json")
    decoder = SSEDecoder()
    events = [e for i in range(len(raw)) for e in decoder.feed(raw[i : i + 1])]
    parsed = [WIRE.parse_stream_event(e) for e in events]
    assert [p for p in parsed if p is not None] == whole


def test_from_media_parts_round_trip_through_the_wire() -> None:
    part = ContentPart.from_media(ImageData.from_url("https://example.com/a.png").with_detail("auto"))
    sent = body((Message.user(MessageContent((part,))),))["messages"][0]["content"]
    assert sent == [{"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "auto"}}]
