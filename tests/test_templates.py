"""Format kwargs: the single substitution function and node-scoped placeholders."""

from __future__ import annotations

import pytest

from minillm import ChatNode, ImageData, MessageContent
from minillm.core.templates import apply_kwargs


@pytest.mark.parametrize(
    ("template", "kwargs", "expected"),
    [
        ("Hi {name}!", {"name": "Ann"}, "Hi Ann!"),
        ("Hi {name}!", {}, "Hi {name}!"),
        ("{missing} and {name}", {"name": "X"}, "{missing} and X"),
        ("{{name}}", {"name": "X"}, "{{name}}"),
        ("{a {b}", {"b": "X"}, "{a {b}"),
        ('{"a": 1}', {"a": "X"}, '{"a": 1}'),
        ('{"a": 1}', {'"a": 1': "matched"}, "matched"),
        ("{ name }", {"name": "X"}, "{ name }"),
        ("{ name }", {" name ": "X"}, "X"),
        ("unclosed {name", {"name": "X"}, "unclosed {name"),
        ("{x}{y}", {"x": "{y}", "y": "Y"}, "{y}Y"),
        ("{y}{x}", {"x": "{y}", "y": "Y"}, "Y{y}"),
        ("", {"x": "1"}, ""),
        ("no braces", {"x": "1"}, "no braces"),
        ("{}", {"": "empty key"}, "empty key"),
        ("}{x}{", {"x": "1"}, "}1{"),
    ],
)
def test_apply_kwargs(template: str, kwargs: dict[str, str], expected: str) -> None:
    assert apply_kwargs(template, kwargs) == expected


def test_values_are_never_rescanned_whatever_the_order() -> None:
    template = "{a}-{b}"
    one = apply_kwargs(template, {"a": "{b}", "b": "{a}"})
    two = apply_kwargs(template, {"b": "{a}", "a": "{b}"})
    assert one == two == "{b}-{a}"


def test_kwargs_are_node_scoped() -> None:
    root = ChatNode.root("Hi {who} from {where}").set_format_kwarg("who", "Alice")
    child = root.add_user("Still {who}, now in {where}").set_format_kwarg("where", "Paris")
    assert [m.text for m in child.formatted_thread()] == ["Hi Alice from {where}", "Still {who}, now in Paris"]
    # the stored messages are untouched
    assert [m.text for m in child.thread()] == ["Hi {who} from {where}", "Still {who}, now in {where}"]


def test_base_kwargs_are_overlaid_by_node_kwargs() -> None:
    root = ChatNode.root("I am {bot} in {mode} mode")
    child = root.add_user("Hello from {bot}").set_format_kwarg("bot", "Override")
    assert [m.text for m in child.formatted_thread_with_base({"bot": "Base", "mode": "expert"})] == [
        "I am Base in expert mode",
        "Hello from Override",
    ]
    assert [m.text for m in child.formatted_thread()] == ["I am {bot} in {mode} mode", "Hello from Override"]


def test_formatted_text_and_format_string() -> None:
    root = ChatNode.root("You are {assistant_name}, a helpful assistant.")
    root.set_format_kwarg("assistant_name", "Claude")
    assert root.formatted_text() == "You are Claude, a helpful assistant."
    assert root.format_string("{assistant_name}!") == "Claude!"
    assert root.text == "You are {assistant_name}, a helpful assistant."


def test_set_format_kwargs_adds_without_clearing_and_get_returns_a_copy() -> None:
    node = ChatNode.root("{a}{b}{c}")
    node.set_format_kwarg("a", "1")
    node.set_format_kwargs({"b": "2", "c": "3"})
    node.set_format_kwargs({"a": "one"})
    assert node.get_format_kwargs() == {"a": "one", "b": "2", "c": "3"}
    node.get_format_kwargs()["a"] = "changed"
    assert node.get_format_kwarg("a") == "one" and node.get_format_kwarg("zzz") is None
    assert node.formatted_text() == "one23"


def test_every_text_part_is_formatted_and_media_untouched() -> None:
    image = ImageData.from_url("https://example.com/{name}.png")
    content = MessageContent.with_images("Look at {name}", [image])
    node = ChatNode.root("s").add_user(content).set_format_kwarg("name", "this")
    formatted = node.formatted_thread()[-1]
    assert formatted.content.get_text() == "Look at this"
    assert formatted.content.to_json()[1] == {  # type: ignore[index]
        "type": "image_url",
        "image_url": {"url": "https://example.com/{name}.png"},
    }
