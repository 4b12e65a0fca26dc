"""CompletionResponse helpers (the assistant message, stop reasons, headers) and ToolCall argument parsing."""

from __future__ import annotations

import attrs
import pytest

from minillm import (
    AudioData,
    CompletionResponse,
    ImageData,
    InvalidParameterError,
    Message,
    MessageContent,
    ReasoningPart,
    Role,
    ToolCall,
    Usage,
)
from minillm.core.messages import AudioPart, ImagePart, TextPart

CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
PNG_URL = "https://example.com/out.png"
DATA_URL = "data:image/png;base64,YWJj"


def test_constructor_defaults() -> None:
    r = CompletionResponse("gen-1", "some/model", "hi")
    assert (r.id, r.model, r.content) == ("gen-1", "some/model", "hi")
    assert r.finish_reason is None
    assert r.usage is None
    assert r.tool_calls == ()
    assert dict(r.headers) == {}
    assert r.media == ()


def test_lists_become_tuples_and_none_becomes_empty() -> None:
    r = CompletionResponse("i", "m", "", tool_calls=[CALL], media=[ImageData.from_url(PNG_URL)])
    assert r.tool_calls == (CALL,)
    assert r.media == (ImageData.from_url(PNG_URL),)
    assert CompletionResponse("i", "m", "", tool_calls=None, media=None).tool_calls == ()


def test_header_names_are_lower_cased() -> None:
    r = CompletionResponse("i", "m", "", headers={"X-RateLimit-Remaining-Requests": "9", "Request-Id": "abc"})
    assert r.headers["x-ratelimit-remaining-requests"] == "9"
    assert dict(r.headers) == {"x-ratelimit-remaining-requests": "9", "request-id": "abc"}


@pytest.mark.parametrize(
    ("reason", "complete", "truncated"),
    [
        ("stop", True, False),
        ("length", False, True),
        ("tool_calls", False, False),
        ("end_turn", False, False),
        ("content_filter", False, False),
        (None, False, False),
        ("STOP", False, False),
    ],
)
def test_is_complete_and_is_truncated(reason: str | None, complete: bool, truncated: bool) -> None:
    r = CompletionResponse("i", "m", "text", finish_reason=reason)
    assert r.is_complete() is complete
    assert r.is_truncated() is truncated


def test_has_tool_calls() -> None:
    assert CompletionResponse("i", "m", "").has_tool_calls() is False
    assert CompletionResponse("i", "m", "", tool_calls=[CALL]).has_tool_calls() is True


# ----- to_assistant_message -------------------------------------------------------------------------------


def test_plain_text_response_gives_a_plain_assistant_message() -> None:
    msg = CompletionResponse("i", "m", "Hello!", finish_reason="stop").to_assistant_message()
    assert msg == Message.assistant("Hello!")
    assert msg.role is Role.ASSISTANT
    assert msg.content.value == "Hello!"
    assert msg.tool_calls is None
    assert msg.name is None
    assert msg.tool_call_id is None


def test_empty_text_without_media_stays_an_empty_string() -> None:
    msg = CompletionResponse("i", "m", "").to_assistant_message()
    assert msg == Message.assistant("")
    assert msg.content.value == ""


def test_tool_calls_are_copied() -> None:
    other = ToolCall("call_2", "get_time", "{}")
    msg = CompletionResponse("i", "m", "", tool_calls=[CALL, other]).to_assistant_message()
    assert msg.tool_calls == (CALL, other)
    assert msg.content.value == ""
    assert msg == Message(Role.ASSISTANT, "", tool_calls=[CALL, other])


def test_text_with_tool_calls_keeps_both() -> None:
    msg = CompletionResponse("i", "m", "Let me check.", tool_calls=[CALL]).to_assistant_message()
    assert msg.text == "Let me check."
    assert msg.content.value == "Let me check."
    assert msg.tool_calls == (CALL,)


def test_media_become_parts_after_the_text() -> None:
    r = CompletionResponse("i", "m", "Here you go", media=[ImageData.from_url(PNG_URL), ImageData.from_url(DATA_URL)])
    msg = r.to_assistant_message()
    assert msg.role is Role.ASSISTANT
    assert msg.content.value == (TextPart("Here you go"), ImagePart(PNG_URL), ImagePart(DATA_URL))
    assert msg.content.to_json() == [
        {"type": "text", "text": "Here you go"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
        {"type": "image_url", "image_url": {"url": DATA_URL}},
    ]
    assert msg.text == "Here you go"
    assert msg.has_multimodal_content() is True
    assert msg.tool_calls is None


def test_media_with_empty_text_has_no_text_part() -> None:
    msg = CompletionResponse("i", "m", "", media=[ImageData.from_url(PNG_URL)]).to_assistant_message()
    assert msg.content == MessageContent((ImagePart(PNG_URL),))
    assert msg.text is None


def test_inline_audio_media_keeps_its_format() -> None:
    clip = AudioData.from_base64("UklGRg==", "wav")
    msg = CompletionResponse("i", "m", "Listen", media=[clip]).to_assistant_message()
    assert msg.content.to_json() == [
        {"type": "text", "text": "Listen"},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]
    assert msg.content.value[1] == AudioPart("UklGRg==", "wav")


def test_media_and_tool_calls_together() -> None:
    r = CompletionResponse("i", "m", "Drawn", tool_calls=[CALL], media=[ImageData.from_url(PNG_URL)])
    msg = r.to_assistant_message()
    assert msg.content.value == (TextPart("Drawn"), ImagePart(PNG_URL))
    assert msg.tool_calls == (CALL,)


# ----- ToolCall.arguments_json ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        ('{"n": 1, "xs": [1, 2], "ok": true, "none": null}', {"n": 1, "xs": [1, 2], "ok": True, "none": None}),
        ("", {}),
        ("[1, 2]", [1, 2]),
        ("  {}  ", {}),
        ('{"s": "caf\\u00e9"}', {"s": "café"}),
    ],
)
def test_arguments_json_parses_the_raw_text(arguments: str, expected: object) -> None:
    call = ToolCall("c1", "f", arguments)
    assert call.arguments_json() == expected
    assert call.arguments == arguments


@pytest.mark.parametrize("arguments", ['{"city": "Paris"', "{'a': 1}", "not json", '{"a": 1,}'])
def test_arguments_json_rejects_invalid_json(arguments: str) -> None:
    call = ToolCall("call_9", "get_weather", arguments)
    with pytest.raises(InvalidParameterError, match="not valid JSON") as info:
        call.arguments_json()
    assert "call_9" in str(info.value)
    assert "arguments_json_repaired" in str(info.value)


def test_tool_call_defaults_and_to_dict() -> None:
    assert ToolCall("c1", "f").arguments == ""
    assert CALL.to_dict() == {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}


# ----- a response's headers -------------------------------------------------------------------------------


def test_headers_set_on_a_just_parsed_response_read_in_lower_case() -> None:
    response = CompletionResponse(id="r1", model="m", content="hi", usage=Usage(completion_tokens=2))
    same = response._headers_set({"X-Request-Id": "abc"})
    assert same is response  # given in place, not copied
    assert dict(response.headers) == {"x-request-id": "abc"}
    assert response == attrs.evolve(response, headers={"x-request-id": "abc"})


def test_attaching_headers_keeps_every_other_field() -> None:
    # _with_headers writes attrs.evolve out by hand; this fails if a field is ever added and not copied.
    response = CompletionResponse(
        id="r1",
        model="m",
        content="hi",
        finish_reason="tool_calls",
        usage=Usage(uncached_input_tokens=3, completion_tokens=2),
        tool_calls=(ToolCall("c1", "f", "{}"),),
        media=(ImageData.from_url("https://example.com/a.png"),),
        reasoning="think",
        refusal="",
        reasoning_parts=(ReasoningPart("anthropic", {"type": "redacted_thinking", "data": "x"}),),
        unknown_tool_calls=('{"type": "custom"}',),
    )
    headers = {"X-Request-Id": "abc"}
    attached = response._with_headers(headers)
    assert attached == attrs.evolve(response, headers=headers)
    assert dict(attached.headers) == {"x-request-id": "abc"}
    assert [f.name for f in attrs.fields(CompletionResponse)] == [
        "id",
        "model",
        "content",
        "finish_reason",
        "usage",
        "tool_calls",
        "headers",
        "media",
        "reasoning",
        "refusal",
        "reasoning_parts",
        "unknown_tool_calls",
    ]
