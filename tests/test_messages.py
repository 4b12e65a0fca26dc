"""Roles, messages, message content, content parts and the merging of contiguous messages."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from minillm import (
    AudioData,
    ContentPart,
    DocumentData,
    ImageData,
    InvalidParameterError,
    Message,
    MessageContent,
    Role,
    ToolCall,
    VideoData,
)
from minillm.core.messages import AudioPart, FilePart, ImagePart, TextPart, VideoPart, merge_contiguous

IMG_URL = "https://example.com/cat.png"
IMG = ImageData.from_url(IMG_URL)
IMG_PART = ImagePart(IMG_URL)

# ----- Role ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "value"),
    [(Role.SYSTEM, "system"), (Role.USER, "user"), (Role.ASSISTANT, "assistant"), (Role.TOOL, "tool")],
)
def test_role_values_and_str(role: Role, value: str) -> None:
    assert role.value == value
    assert str(role) == value
    assert f"{role}" == value
    assert role == value
    assert Role(value) is role


def test_there_are_exactly_four_roles() -> None:
    assert [r.value for r in Role] == ["system", "user", "assistant", "tool"]


# ----- Message ---------------------------------------------------------------------------------------


def test_message_constructors() -> None:
    assert Message.system("Be brief.") == Message(Role.SYSTEM, MessageContent("Be brief."))
    assert Message.user("Hi").role is Role.USER
    assert Message.assistant("Hello").role is Role.ASSISTANT
    tool = Message.tool("call_1", '{"ok": true}')
    assert tool.role is Role.TOOL
    assert tool.tool_call_id == "call_1"
    assert tool.content == MessageContent('{"ok": true}')


def test_message_defaults() -> None:
    msg = Message.user("Hi")
    assert msg.content == MessageContent("Hi")
    assert msg.name is None
    assert msg.tool_call_id is None
    assert msg.tool_calls is None
    assert msg.cache_breakpoint is False
    with pytest.raises(TypeError):
        Message(Role.USER)  # type: ignore[call-arg]  # content is required


def test_with_name_returns_a_copy() -> None:
    msg = Message.user("Hi")
    named = msg.with_name("alice")
    assert named.name == "alice"
    assert msg.name is None
    assert named.content == msg.content
    assert named.role is Role.USER


def test_message_is_frozen_and_hashable() -> None:
    msg = Message.user("Hi")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        msg.name = "bob"  # type: ignore[misc]
    assert hash(msg) == hash(Message.user("Hi"))
    assert msg != Message.assistant("Hi")


@pytest.mark.parametrize(
    "content",
    [
        "Hi",
        MessageContent("Hi"),
        MessageContent.text("Hi"),
    ],
)
def test_message_accepts_str_and_message_content(content: Any) -> None:
    msg = Message.user(content)
    assert msg.content == MessageContent("Hi")
    assert msg.content.value == "Hi"
    assert msg.text == "Hi"


@pytest.mark.parametrize("container", [list, tuple])
def test_message_accepts_a_list_or_tuple_of_parts(container: Any) -> None:
    msg = Message(Role.USER, container([TextPart("look"), IMG_PART]))
    assert msg.content.value == (TextPart("look"), IMG_PART)
    assert msg.text == "look"
    assert msg.has_multimodal_content() is True


@pytest.mark.parametrize("role", ["system", "user", "assistant", "tool"])
def test_message_role_may_be_given_as_a_string(role: str) -> None:
    msg = Message(role, "x")
    assert msg.role is Role(role)
    assert isinstance(msg.role, Role)


@pytest.mark.parametrize("role", ["USER", "User", "bot", "", "developer", None, 3])
def test_unknown_role_is_an_invalid_parameter_error(role: Any) -> None:
    with pytest.raises(InvalidParameterError, match="unknown role") as info:
        Message(role, "x")
    assert "system, user, assistant, tool" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("content", [3, None, b"bytes", {"type": "text", "text": "x"}, [{"type": "text"}], ["a"]])
def test_bad_message_content_is_an_invalid_parameter_error(content: Any) -> None:
    with pytest.raises(InvalidParameterError, match="content"):
        Message(Role.USER, content)


def test_message_text_is_the_first_text_part() -> None:
    assert Message.user("plain").text == "plain"
    assert Message.user("").text == ""
    assert Message.user(MessageContent((IMG_PART, TextPart("first"), TextPart("second")))).text == "first"
    assert Message.user(MessageContent((IMG_PART,))).text is None
    assert Message.user(MessageContent(())).text is None


def test_has_multimodal_content() -> None:
    assert Message.user("plain").has_multimodal_content() is False
    assert Message.user(MessageContent((TextPart("a"), TextPart("b")))).has_multimodal_content() is False
    assert Message.user(MessageContent.with_images("a", [IMG])).has_multimodal_content() is True


def test_tool_calls_are_kept_as_a_tuple() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
    msg = Message(Role.ASSISTANT, "", tool_calls=[call])
    assert msg.tool_calls == (call,)
    assert hash(msg) == hash(Message(Role.ASSISTANT, "", tool_calls=(call,)))


# ----- MessageContent --------------------------------------------------------------------------------


def test_default_content_is_the_empty_string() -> None:
    assert MessageContent().value == ""
    assert MessageContent().is_text is True
    assert MessageContent.text("x") == MessageContent("x")


def test_content_parts_property() -> None:
    assert MessageContent("x").parts == (TextPart("x"),)
    assert MessageContent((TextPart("a"), IMG_PART)).parts == (TextPart("a"), IMG_PART)
    assert MessageContent((IMG_PART,)).is_text is False
    assert MessageContent.from_parts([TextPart("a"), IMG_PART]).value == (TextPart("a"), IMG_PART)


@pytest.mark.parametrize(
    ("content", "text", "all_text", "multimodal"),
    [
        (MessageContent("hello"), "hello", "hello", False),
        (MessageContent(""), "", "", False),
        (MessageContent((TextPart("a"), TextPart("b"))), "a", "a\nb", False),
        (MessageContent((IMG_PART, TextPart("a"), IMG_PART, TextPart("b"))), "a", "a\nb", True),
        (MessageContent((IMG_PART,)), None, "", True),
        (MessageContent(()), None, "", False),
        (MessageContent((TextPart(""), TextPart("x"))), "", "\nx", False),
        (MessageContent((AudioPart("YWJj", "wav"),)), None, "", True),
        (MessageContent((TextPart("t"), FilePart("a.pdf", "https://x/a.pdf"))), "t", "t", True),
        (MessageContent((TextPart("t"), VideoPart("https://x/v.mp4"))), "t", "t", True),
    ],
)
def test_get_text_all_text_has_multimodal(
    content: MessageContent, text: str | None, all_text: str, multimodal: bool
) -> None:
    assert content.get_text() == text
    assert content.all_text() == all_text
    assert content.has_multimodal() is multimodal


def test_merge_text_with_text_joins_with_a_newline() -> None:
    assert MessageContent("a").merge(MessageContent("b")) == MessageContent("a\nb")
    assert MessageContent("").merge(MessageContent("")) == MessageContent("\n")


def test_merge_text_with_parts_puts_the_text_first() -> None:
    merged = MessageContent("a").merge(MessageContent((IMG_PART, TextPart("b"))))
    assert merged.value == (TextPart("a"), IMG_PART, TextPart("b"))


def test_merge_parts_with_text_puts_the_text_last() -> None:
    merged = MessageContent((TextPart("a"), IMG_PART)).merge(MessageContent("b"))
    assert merged.value == (TextPart("a"), IMG_PART, TextPart("b"))


def test_merge_parts_with_parts_concatenates() -> None:
    audio = AudioPart("YWJj", "wav")
    merged = MessageContent((TextPart("a"), IMG_PART)).merge(MessageContent((audio, TextPart("b"))))
    assert merged.value == (TextPart("a"), IMG_PART, audio, TextPart("b"))


def test_merge_leaves_the_inputs_alone() -> None:
    a, b = MessageContent("a"), MessageContent((IMG_PART,))
    a.merge(b)
    assert (a.value, b.value) == ("a", (IMG_PART,))


def test_map_text_on_a_string() -> None:
    assert MessageContent("hi {name}").map_text(lambda s: s.replace("{name}", "Bob")) == MessageContent("hi Bob")


def test_map_text_on_parts_touches_only_text_parts() -> None:
    content = MessageContent((TextPart("a"), IMG_PART, TextPart("b")))
    mapped = content.map_text(str.upper)
    assert mapped.value == (TextPart("A"), IMG_PART, TextPart("B"))
    assert content.value == (TextPart("a"), IMG_PART, TextPart("b"))


def test_to_json_of_text_is_the_string() -> None:
    assert MessageContent("hello").to_json() == "hello"


def test_to_json_of_parts_and_back() -> None:
    content = MessageContent(
        (
            TextPart("look"),
            ImagePart("data:image/png;base64,YWJj", "high", 10, 20),
            AudioPart("YWJj", "wav", 1.5),
            VideoPart("https://x/v.mp4", 2.0, 4, 3),
            FilePart("a.pdf", "https://x/a.pdf", 9),
        )
    )
    expected = [
        {"type": "text", "text": "look"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,YWJj", "detail": "high", "width": 10, "height": 20},
        },
        {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "wav", "duration_secs": 1.5}},
        {"type": "video_url", "video_url": {"url": "https://x/v.mp4", "duration_secs": 2.0, "width": 4, "height": 3}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://x/a.pdf", "page_count": 9}},
    ]
    assert content.to_json() == expected
    assert MessageContent.from_json(expected) == content
    # Through real JSON text too.
    assert MessageContent.from_json(json.loads(json.dumps(content.to_json()))) == content
    assert content.to_json(estimation_metadata=False) == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,YWJj", "detail": "high"}},
        {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "wav"}},
        {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "https://x/a.pdf"}},
    ]


def test_from_json_of_a_string_and_an_empty_list() -> None:
    assert MessageContent.from_json("hi") == MessageContent("hi")
    assert MessageContent.from_json([]) == MessageContent(())


@pytest.mark.parametrize("data", [3, None, {"type": "text", "text": "x"}, ("a",), 1.5])
def test_from_json_rejects_other_shapes(data: Any) -> None:
    with pytest.raises(InvalidParameterError, match="string or a list of parts"):
        MessageContent.from_json(data)


@pytest.mark.parametrize("bad", [3, None, b"abc", {"a": 1}])
def test_message_content_rejects_non_sequences(bad: Any) -> None:
    with pytest.raises(InvalidParameterError, match="message content must be"):
        MessageContent(bad)


def test_message_content_rejects_non_part_items() -> None:
    with pytest.raises(InvalidParameterError, match="ContentPart objects, got dict"):
        MessageContent([{"type": "text", "text": "x"}])  # type: ignore[list-item]


def test_with_images_builds_text_then_image_parts() -> None:
    inline = ImageData.from_bytes(b"abc", "image/png").with_detail("low").with_dimensions(2, 1)
    content = MessageContent.with_images("What is this?", [IMG, inline])
    assert content.to_json() == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": IMG_URL}},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64,YWJj", "detail": "low", "width": 2, "height": 1},
        },
    ]


def test_with_audio_builds_text_then_audio_parts() -> None:
    content = MessageContent.with_audio(
        "Transcribe", [AudioData.from_bytes(b"abc", "mp3"), AudioData.from_url("https://x/a.wav").with_duration(3.0)]
    )
    assert content.to_json() == [
        {"type": "text", "text": "Transcribe"},
        {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "mp3"}},
        {"type": "input_audio", "input_audio": {"data": "https://x/a.wav", "duration_secs": 3.0}},
    ]


def test_with_documents_builds_text_then_file_parts() -> None:
    content = MessageContent.with_documents(
        "Summarize",
        [DocumentData.from_bytes(b"%PDF-1.7").with_page_count(2), DocumentData.from_url("https://x/docs/q3.pdf")],
    )
    assert content.to_json() == [
        {"type": "text", "text": "Summarize"},
        {
            "type": "file",
            "file": {
                "filename": "document.pdf",
                "file_data": "data:application/pdf;base64,JVBERi0xLjc=",
                "page_count": 2,
            },
        },
        {"type": "file", "file": {"filename": "q3.pdf", "file_data": "https://x/docs/q3.pdf"}},
    ]


def test_with_video_builds_text_then_video_parts() -> None:
    content = MessageContent.with_video("Describe", [VideoData.from_bytes(b"abc", "webm").with_duration(4.0)])
    assert content.to_json() == [
        {"type": "text", "text": "Describe"},
        {"type": "video_url", "video_url": {"url": "data:video/webm;base64,YWJj", "duration_secs": 4.0}},
    ]


def test_with_media_mixes_kinds_in_order() -> None:
    clip = AudioData.from_bytes(b"abc", "wav")
    doc = DocumentData.from_url("https://x/a.pdf")
    content = MessageContent.with_media("all", [IMG, clip, doc])
    assert content.value == (
        TextPart("all"),
        ImagePart(IMG_URL),
        AudioPart("YWJj", "wav"),
        FilePart("a.pdf", "https://x/a.pdf"),
    )


def test_builders_with_no_media_give_one_text_part() -> None:
    content = MessageContent.with_images("only text", [])
    assert content.value == (TextPart("only text"),)
    assert content.has_multimodal() is False


# ----- ContentPart -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "full", "stripped"),
    [
        (TextPart("hi"), {"type": "text", "text": "hi"}, {"type": "text", "text": "hi"}),
        (ImagePart(IMG_URL), {"type": "image_url", "image_url": {"url": IMG_URL}}, None),
        (
            ImagePart(IMG_URL, detail="auto"),
            {"type": "image_url", "image_url": {"url": IMG_URL, "detail": "auto"}},
            None,
        ),
        (
            ImagePart(IMG_URL, "high", 1024, 768),
            {"type": "image_url", "image_url": {"url": IMG_URL, "detail": "high", "width": 1024, "height": 768}},
            {"type": "image_url", "image_url": {"url": IMG_URL, "detail": "high"}},
        ),
        (
            ImagePart(IMG_URL, width=5),
            {"type": "image_url", "image_url": {"url": IMG_URL, "width": 5}},
            {"type": "image_url", "image_url": {"url": IMG_URL}},
        ),
        (AudioPart("https://x/a.mp3"), {"type": "input_audio", "input_audio": {"data": "https://x/a.mp3"}}, None),
        (AudioPart("YWJj", "mp3"), {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "mp3"}}, None),
        (
            AudioPart("YWJj", "wav", 2.5),
            {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "wav", "duration_secs": 2.5}},
            {"type": "input_audio", "input_audio": {"data": "YWJj", "format": "wav"}},
        ),
        (VideoPart("https://x/v.mp4"), {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}, None),
        (
            VideoPart("https://x/v.mp4", 10.0, 640, 360),
            {
                "type": "video_url",
                "video_url": {"url": "https://x/v.mp4", "duration_secs": 10.0, "width": 640, "height": 360},
            },
            {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
        ),
        (
            VideoPart("https://x/v.mp4", height=360),
            {"type": "video_url", "video_url": {"url": "https://x/v.mp4", "height": 360}},
            {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
        ),
        (
            FilePart("report.pdf", "https://x/report.pdf"),
            {"type": "file", "file": {"filename": "report.pdf", "file_data": "https://x/report.pdf"}},
            None,
        ),
        (
            FilePart("report.pdf", "data:application/pdf;base64,JVBERi0=", 12),
            {
                "type": "file",
                "file": {
                    "filename": "report.pdf",
                    "file_data": "data:application/pdf;base64,JVBERi0=",
                    "page_count": 12,
                },
            },
            {"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
        ),
    ],
)
def test_part_to_dict_exact_json(part: ContentPart, full: dict[str, Any], stripped: dict[str, Any] | None) -> None:
    assert part.to_dict() == full
    assert part.to_dict(estimation_metadata=True) == full
    assert part.to_dict(estimation_metadata=False) == (full if stripped is None else stripped)
    # Optional keys are omitted, never null; key order follows the wire shape.
    text = json.dumps(part.to_dict())
    assert "null" not in text
    assert text == json.dumps(full)
    assert ContentPart.from_dict(full) == part
    assert ContentPart.from_dict(json.loads(text)) == part


def test_part_type_names() -> None:
    assert [TextPart.type, ImagePart.type, AudioPart.type, VideoPart.type, FilePart.type] == [
        "text",
        "image_url",
        "input_audio",
        "video_url",
        "file",
    ]
    assert ContentPart.of_text("x") == TextPart("x")


def test_from_dict_ignores_unknown_keys() -> None:
    part = ContentPart.from_dict({"type": "image_url", "image_url": {"url": IMG_URL, "extra": 1}, "cache": True})
    assert part == ImagePart(IMG_URL)


def test_from_dict_treats_null_optionals_as_unset() -> None:
    data = {"type": "image_url", "image_url": {"url": IMG_URL, "detail": None, "width": None, "height": None}}
    assert ContentPart.from_dict(data) == ImagePart(IMG_URL)


def test_a_file_part_without_a_filename_gets_document_pdf() -> None:
    assert ContentPart.from_dict({"type": "file", "file": {"file_data": "https://x/a"}}) == FilePart(
        "document.pdf", "https://x/a"
    )


@pytest.mark.parametrize("kind", ["image", "audio", "document", "Text", "", "tool_use"])
def test_unknown_part_type_is_an_error(kind: str) -> None:
    with pytest.raises(InvalidParameterError, match="unknown content part type") as info:
        ContentPart.from_dict({"type": kind, "text": "x"})
    assert repr(kind) in str(info.value)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({}, "needs a 'type' key"),
        ("text", "must be a JSON object, not str"),
        (None, "must be a JSON object, not null"),
        ({"type": 3}, "'type' must be a string"),
        ({"type": "text"}, "needs a 'text' key"),
        ({"type": "text", "text": 3}, "'text' must be a string, not int"),
        ({"type": "image_url"}, "needs a 'image_url' key"),
        ({"type": "image_url", "image_url": IMG_URL}, "must be a JSON object, not str"),
        ({"type": "image_url", "image_url": {}}, "needs a 'url' key"),
        ({"type": "image_url", "image_url": {"url": 5}}, "'url' must be a string, not int"),
        ({"type": "image_url", "image_url": {"url": "u", "detail": 1}}, "'detail' must be a string"),
        ({"type": "image_url", "image_url": {"url": "u", "width": "10"}}, "'width' must be an integer, not str"),
        ({"type": "image_url", "image_url": {"url": "u", "height": 1.5}}, "'height' must be an integer, not float"),
        ({"type": "image_url", "image_url": {"url": "u", "width": True}}, "'width' must be an integer, not bool"),
        ({"type": "input_audio", "input_audio": {"format": "wav"}}, "needs a 'data' key"),
        ({"type": "input_audio", "input_audio": {"data": "x", "format": 1}}, "'format' must be a string"),
        (
            {"type": "input_audio", "input_audio": {"data": "x", "duration_secs": "1"}},
            "'duration_secs' must be a number",
        ),
        ({"type": "video_url", "video_url": {"duration_secs": 1.0}}, "needs a 'url' key"),
        ({"type": "video_url", "video_url": {"url": "u", "width": 1.0}}, "'width' must be an integer"),
        ({"type": "file", "file": {"filename": "a.pdf"}}, "needs a 'file_data' key"),
        ({"type": "file", "file": {"file_data": "u", "page_count": "3"}}, "'page_count' must be an integer"),
        ({"type": "file", "file": {"file_data": "u", "filename": 7}}, "'filename' must be a string"),
        ({"type": "file", "file": []}, "must be a JSON object, not list"),
    ],
)
def test_malformed_parts_are_invalid_parameter_errors(data: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        ContentPart.from_dict(data)


def test_integer_durations_are_accepted() -> None:
    part = ContentPart.from_dict({"type": "input_audio", "input_audio": {"data": "x", "duration_secs": 3}})
    assert part == AudioPart("x", None, 3)


def test_from_media_for_every_kind() -> None:
    img = ImageData.from_bytes(b"abc", "image/jpeg").with_detail("high").with_dimensions(3, 4)
    assert ContentPart.from_media(img) == ImagePart("data:image/jpeg;base64,YWJj", "high", 3, 4)
    assert ContentPart.from_media(IMG) == ImagePart(IMG_URL)
    assert ContentPart.from_media(AudioData.from_bytes(b"abc", "ogg").with_duration(1.0)) == AudioPart(
        "YWJj", "ogg", 1.0
    )
    assert ContentPart.from_media(AudioData.from_url("https://x/a.ogg")) == AudioPart("https://x/a.ogg", None)
    assert ContentPart.from_media(VideoData.from_url("https://x/v.mkv").with_dimensions(8, 6)) == VideoPart(
        "https://x/v.mkv", None, 8, 6
    )
    assert ContentPart.from_media(DocumentData.from_url("https://x/a.pdf").with_page_count(2)) == FilePart(
        "a.pdf", "https://x/a.pdf", 2
    )


def test_from_media_rejects_other_objects() -> None:
    with pytest.raises(InvalidParameterError, match="not a media object: str"):
        ContentPart.from_media("https://x/a.png")  # type: ignore[arg-type]


def test_parts_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TextPart("a").text = "b"  # type: ignore[misc]


# ----- reprs of parts and messages -------------------------------------------------------------------


def test_reprs_of_parts_and_messages_holding_a_megabyte_stay_short() -> None:
    big = ImageData.from_bytes(b"\xff" * 1_000_000, "image/png")
    clip = AudioData.from_bytes(b"\xff" * 1_000_000, "wav")
    video = VideoData.from_bytes(b"\xff" * 1_000_000, "mp4")
    doc = DocumentData.from_bytes(b"\xff" * 1_000_000)
    for media in (big, clip, video, doc):
        assert len(repr(ContentPart.from_media(media))) < 300
    msg = Message.user(MessageContent.with_media("see", [big, clip, video, doc]))
    assert len(repr(msg)) < 1500
    assert "TextPart(text='see')" in repr(msg)
    assert "1333336 chars" in repr(ContentPart.from_media(clip))


def test_repr_of_a_small_part_is_whole() -> None:
    assert repr(ImagePart(IMG_URL, "low")) == f"ImagePart(url={IMG_URL!r}, detail='low', width=None, height=None)"
    assert repr(FilePart("a.pdf", "https://x/a.pdf")) == (
        "FilePart(filename='a.pdf', file_data='https://x/a.pdf', page_count=None)"
    )


# ----- merge_contiguous ------------------------------------------------------------------------------


def test_merge_two_user_messages() -> None:
    merged = merge_contiguous([Message.user("Hello"), Message.user("World")])
    assert merged == [Message.user("Hello\nWorld")]


def test_system_then_user_stay_two() -> None:
    msgs = [Message.system("sys"), Message.user("hi")]
    assert merge_contiguous(msgs) == msgs


def test_runs_merge_and_roles_alternate() -> None:
    msgs = [
        Message.system("s"),
        Message.user("a"),
        Message.user("b"),
        Message.user("c"),
        Message.assistant("x"),
        Message.assistant("y"),
        Message.user("d"),
    ]
    assert merge_contiguous(msgs) == [
        Message.system("s"),
        Message.user("a\nb\nc"),
        Message.assistant("x\ny"),
        Message.user("d"),
    ]


def test_cache_breakpoints_are_ored() -> None:
    first = attrs.evolve(Message.user("a"), cache_breakpoint=True)
    second = Message.user("b")
    third = attrs.evolve(Message.user("c"), cache_breakpoint=True)
    assert merge_contiguous([first, second]) == [attrs.evolve(Message.user("a\nb"), cache_breakpoint=True)]
    assert merge_contiguous([second, third]) == [attrs.evolve(Message.user("b\nc"), cache_breakpoint=True)]
    assert merge_contiguous([second, second]) == [Message.user("b\nb")]
    assert merge_contiguous([second, second])[0].cache_breakpoint is False


def test_names_must_match() -> None:
    alice, bob = Message.user("a").with_name("alice"), Message.user("b").with_name("bob")
    assert merge_contiguous([alice, bob]) == [alice, bob]
    assert merge_contiguous([alice, Message.user("x")]) == [alice, Message.user("x")]
    assert merge_contiguous([alice, Message.user("c").with_name("alice")]) == [Message.user("a\nc").with_name("alice")]


def test_tool_messages_are_not_merged() -> None:
    msgs = [Message.tool("c1", "r1"), Message.tool("c2", "r2")]
    assert merge_contiguous(msgs) == msgs


def test_assistant_with_tool_calls_is_not_merged() -> None:
    call = ToolCall("c1", "f", "{}")
    with_calls = Message(Role.ASSISTANT, "", tool_calls=[call])
    plain = Message.assistant("done")
    assert merge_contiguous([with_calls, plain]) == [with_calls, plain]
    assert merge_contiguous([plain, with_calls]) == [plain, with_calls]


def test_multimodal_messages_merge_as_parts() -> None:
    msgs = [Message.user("look"), Message.user(MessageContent.with_images("and this", [IMG]))]
    [merged] = merge_contiguous(msgs)
    assert merged.content.value == (TextPart("look"), TextPart("and this"), ImagePart(IMG_URL))


def test_merge_contiguous_does_not_change_its_input_and_accepts_any_iterable() -> None:
    msgs = [Message.user("a"), Message.user("b")]
    out = merge_contiguous(iter(msgs))
    assert out == [Message.user("a\nb")]
    assert msgs == [Message.user("a"), Message.user("b")]
    assert merge_contiguous([]) == []
