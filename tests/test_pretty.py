"""Pretty printing: the exact strings, byte for byte (the Rust library prints the same)."""

from __future__ import annotations

from minillm import (
    ChatNode,
    ImageData,
    MessageContent,
    PrettyPrintConfig,
    format_conversation,
    pretty_messages,
)


def test_default_format() -> None:
    node = ChatNode.root("You are helpful.").add_user("Hello").add_assistant("Hi there!")
    expected = "SYSTEM: You are helpful.\n\nUSER: Hello\n\nASSISTANT: Hi there!"
    assert format_conversation(node) == expected
    assert pretty_messages(node) == expected
    assert pretty_messages(node, None) == expected


def test_custom_prefixes() -> None:
    node = ChatNode.root("System prompt").add_user("User message")
    config = PrettyPrintConfig("[SYS] ", "\n[USR] ", "\n[AST] ")
    assert pretty_messages(node, config) == "[SYS] System prompt\n[USR] User message"


def test_defaults_and_separator() -> None:
    config = PrettyPrintConfig()
    assert (config.system_prefix, config.user_prefix, config.assistant_prefix, config.separator) == (
        "SYSTEM: ",
        "\n\nUSER: ",
        "\n\nASSISTANT: ",
        "",
    )
    node = ChatNode.root("a").add_user("b").add_assistant("c")
    spaced = PrettyPrintConfig("S:", "U:", "A:").with_separator(" | ")
    assert pretty_messages(node, spaced) == "S:a | U:b | A:c"


def test_thread_starting_with_a_user_message_keeps_the_prefix() -> None:
    assert format_conversation(ChatNode.user("hi")) == "\n\nUSER: hi"


def test_tool_prefix_is_fixed_and_kwargs_are_applied() -> None:
    root = ChatNode.root("I am {bot}").set_format_kwarg("bot", "Ada")
    tool = root.add_tool_result("c1", "42")
    custom = PrettyPrintConfig("S ", "U ", "A ")
    assert pretty_messages(tool, custom) == "S I am Ada\n\nTOOL: 42"


def test_multimodal_without_text_and_text_parts_joined() -> None:
    image = ImageData.from_url("https://example.com/x.png")
    only_image = MessageContent.from_parts([MessageContent.with_images("", [image]).parts[1]])
    node = ChatNode.root("s").add_user(only_image)
    assert format_conversation(node) == "SYSTEM: s\n\nUSER: [multimodal content]"
    two_texts = MessageContent.with_images("first", [image]).merge(MessageContent.text("second"))
    node2 = ChatNode.root("s").add_user(two_texts)
    assert format_conversation(node2) == "SYSTEM: s\n\nUSER: first\nsecond"
