"""Saving and loading threads: the current format, the legacy one, atomic writes and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from minillm import (
    ChatNode,
    DocumentData,
    EmptyThreadError,
    FileAccessError,
    ImageData,
    Message,
    MessageContent,
    Role,
    ThreadFormatError,
    ToolCall,
)

DATA = Path(__file__).parent / "data"


def test_round_trip_keeps_node_scoped_kwargs(tmp_path: Path) -> None:
    root = ChatNode.root("Hello {name}!").set_format_kwarg("name", "World")
    leaf = root.add_user("Goodbye {other}!").set_format_kwarg("other", "Mars")
    path = tmp_path / "thread.json"
    leaf.save_thread(path)
    loaded_root, loaded_leaf = ChatNode.from_thread_file(path)
    assert loaded_root.get_format_kwargs() == {"name": "World"}
    assert loaded_leaf.get_format_kwargs() == {"other": "Mars"}
    assert [m.text for m in loaded_leaf.formatted_thread()] == ["Hello World!", "Goodbye Mars!"]
    assert loaded_leaf.get_root() is loaded_root and loaded_root.node_count() == 2


def test_written_format_is_the_documented_one(tmp_path: Path) -> None:
    root = ChatNode.root("Hello {name}!").set_format_kwarg("name", "World")
    leaf = root.add_user("Goodbye {other}!").set_format_kwarg("other", "Mars")
    path = tmp_path / "t.json"
    leaf.save_thread(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "prompts": [')  # pretty-printed with 2 spaces
    assert json.loads(text) == {
        "prompts": [
            {"message": {"role": "system", "content": "Hello {name}!"}, "format_kwargs": {"name": "World"}},
            {"message": {"role": "user", "content": "Goodbye {other}!"}, "format_kwargs": {"other": "Mars"}},
        ]
    }
    assert leaf.to_thread_data() == json.loads(text)


def test_cache_marks_metadata_and_rich_messages_survive(tmp_path: Path) -> None:
    root = ChatNode.root("sys").cache_breakpoint()
    image = ImageData.from_bytes(b"\x89PNG", "image/png").with_detail("low").with_dimensions(10, 20)
    doc = DocumentData.from_url("https://example.com/a/report.pdf?x=1").with_page_count(3)
    user = root.add_user(MessageContent.with_media("look", [image, doc]))
    user.set_metadata("source", {"k": [1, 2, None]})
    call = ToolCall("call_1", "lookup", '{"q": "x"}')
    asst = user._new_child(Message(Role.ASSISTANT, "", tool_calls=[call]))
    tool = asst.add_tool_result("call_1", "result").cache_breakpoint()
    named = tool._new_child(Message.user("hi").with_name("alice"))
    path = tmp_path / "rich.json"
    named.save_thread(path)
    r, leaf = ChatNode.from_thread_file(path)
    nodes = list(r.iter_depth_first())
    assert [n.is_cache_breakpoint() for n in nodes] == [True, False, False, True, False]
    assert nodes[1].metadata == {"source": {"k": [1, 2, None]}}
    assert nodes[1].message == user.message
    assert nodes[2].tool_calls == [call]
    assert nodes[3].message.tool_call_id == "call_1"
    assert leaf.message.name == "alice"
    assert list(leaf.thread()) == list(named.thread())


def test_metadata_from_a_completion_is_saved() -> None:
    node = ChatNode.root("s").set_metadata("usage", {"completion_tokens": 3})
    data = node.to_thread_data()
    assert data["prompts"][0]["metadata"] == {"usage": {"completion_tokens": 3}}
    loaded, _ = ChatNode.from_thread_data(data)
    assert loaded.metadata == {"usage": {"completion_tokens": 3}}


def test_loading_a_thread_that_starts_with_a_user_message() -> None:
    root, leaf = ChatNode.from_thread_json('{"prompts": [{"message": {"role": "user", "content": "hi"}}]}')
    assert root is leaf and root.role is Role.USER and root.get_format_kwargs() == {}


def test_unknown_keys_are_ignored() -> None:
    root, _ = ChatNode.from_thread_data(
        {"prompts": [{"message": {"role": "user", "content": "hi", "extra": 1}, "other": 2}], "version": 9}
    )
    assert root.text == "hi"


def test_template_file_loads_and_fills_with_base_kwargs() -> None:
    root, leaf = ChatNode.from_thread_file(DATA / "template_thread.json")
    assert root.node_count() == 2
    base = {"assistant_name": "Ada", "style": "terse", "user_name": "Bob", "topic": "graphs"}
    filled = [m.text or "" for m in leaf.formatted_thread_with_base(base)]
    assert all("{" not in t for t in filled)
    assert "Ada" in filled[0] and "graphs" in filled[1]


def test_legacy_format_from_the_seed_readme() -> None:
    seed_example = '{"prompts": [{"role": "system", "content": "Hello"}], "required_kwargs": {}}'
    root, leaf = ChatNode.from_thread_json(seed_example)
    assert root is leaf and root.role is Role.SYSTEM and root.text == "Hello"


def test_legacy_required_kwargs_fill_every_message_and_nulls_stay_placeholders() -> None:
    data = {
        "prompts": [
            {"role": "system", "content": "You are {bot}."},
            {"role": "user", "content": "Hi {bot}, I am {user}."},
        ],
        "required_kwargs": {"bot": "Claude", "user": None},
    }
    root, leaf = ChatNode.from_thread_data(data)
    assert [m.text for m in leaf.formatted_thread()] == ["You are Claude.", "Hi Claude, I am {user}."]
    assert root.metadata["required_kwargs"] == ["user"]
    # saving writes the current format
    assert "message" in leaf.to_thread_data()["prompts"][0]


def test_legacy_media_fields() -> None:
    data = {
        "prompts": [
            {"role": "user", "content": "see", "image_data": "https://example.com/cat.png", "audio_data": "SUQzAAAA"},
        ]
    }
    root, _ = ChatNode.from_thread_data(data)
    assert root.content.to_json() == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "SUQzAAAA", "format": "mp3"}},
    ]


def test_from_messages() -> None:
    root, leaf = ChatNode.from_messages([Message.system("s"), Message.user("u"), Message.assistant("a")])
    assert [m.text for m in leaf.thread()] == ["s", "u", "a"] and leaf.get_root() is root
    with pytest.raises(EmptyThreadError):
        ChatNode.from_messages([])


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        ({"prompts": []}, EmptyThreadError, "empty"),
        ([], ThreadFormatError, "JSON object with a 'prompts' list, not a list"),
        ({}, ThreadFormatError, "'prompts' list"),
        ({"prompts": {"a": 1}}, ThreadFormatError, "'prompts' list; got an object"),
        ({"prompts": [3]}, ThreadFormatError, "thread entry 0 must be an object"),
        ({"prompts": [{"message": {"role": "user", "content": "a"}}, {"nothing": 1}]}, ThreadFormatError, "entry 1"),
        ({"prompts": [{"message": {"role": "robot", "content": "a"}}]}, ThreadFormatError, "unknown role 'robot'"),
        ({"prompts": [{"message": {"content": "a"}}]}, ThreadFormatError, "message.role"),
        ({"prompts": [{"message": {"role": "user"}}]}, ThreadFormatError, "message.content"),
        ({"prompts": [{"message": {"role": "user", "content": 5}}]}, ThreadFormatError, "content must be a string"),
        ({"prompts": [{"message": "hi"}]}, ThreadFormatError, "'message' must be an object"),
        (
            {"prompts": [{"message": {"role": "user", "content": [{"type": "hologram"}]}}]},
            ThreadFormatError,
            "unknown content part type 'hologram'",
        ),
        (
            {"prompts": [{"message": {"role": "user", "content": [{"type": "image_url"}]}}]},
            ThreadFormatError,
            "image_url",
        ),
        (
            {"prompts": [{"message": {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}}]},
            ThreadFormatError,
            "tool_calls[0].name",
        ),
        ({"prompts": [{"message": {"role": "user", "content": "a"}, "format_kwargs": {"k": 1}}]}, ThreadFormatError,
         "format_kwargs"),
        ({"prompts": [{"message": {"role": "user", "content": "a"}, "metadata": [1]}]}, ThreadFormatError, "metadata"),
        ({"prompts": [{"role": "wizard", "content": "a"}]}, ThreadFormatError, "unknown role"),
        ({"prompts": [{"role": "user", "content": "a"}], "required_kwargs": [1]}, ThreadFormatError, "required_kwargs"),
        ({"prompts": [{"role": "user", "content": "a", "image_data": 7}]}, ThreadFormatError, "image_data"),
    ],
)
def test_malformed_threads_say_what_and_where(data: Any, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error) as info:
        ChatNode.from_thread_data(data)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "not valid JSON"),
        ("{prompts:", "not valid JSON"),
        (b"\xff\xfe{}", "not"),
        ("[" * 100_000, ""),
        ('{"prompts": null}', "'prompts' list"),
    ],
)
def test_bad_json_text(text: str | bytes, fragment: str) -> None:
    with pytest.raises(ThreadFormatError) as info:
        ChatNode.from_thread_json(text)
    assert fragment in str(info.value)


def test_missing_file_is_a_file_access_error(tmp_path: Path) -> None:
    with pytest.raises(FileAccessError, match="cannot read thread file"):
        ChatNode.from_thread_file(tmp_path / "nope.json")


def test_loading_never_modifies_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    ChatNode.root("s").add_user("u").save_thread(path)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    ChatNode.from_thread_file(path)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_save_is_atomic_when_the_write_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    ChatNode.root("the good version").save_thread(path)
    good = path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(FileAccessError, match="No space left"):
        ChatNode.root("the new version").save_thread(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]  # no temporary file left behind


def test_save_is_atomic_when_interrupted_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    ChatNode.root("the good version").save_thread(path)
    good = path.read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ChatNode.root("the new version").save_thread(path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileAccessError, match="cannot write thread file"):
        ChatNode.root("s").save_thread(tmp_path / "no" / "such" / "t.json")


def test_save_keeps_the_existing_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    ChatNode.root("s").save_thread(path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_metadata_that_is_not_json_gives_a_clear_error(tmp_path: Path) -> None:
    node = ChatNode.root("s").set_metadata("obj", object())
    with pytest.raises(ValueError, match="metadata"):
        node.save_thread(tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


def test_non_ascii_text_is_written_readably(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    ChatNode.root("héllo ✓ 日本").save_thread(path)
    assert "héllo ✓ 日本" in path.read_text(encoding="utf-8")
    assert ChatNode.from_thread_file(path)[0].text == "héllo ✓ 日本"
