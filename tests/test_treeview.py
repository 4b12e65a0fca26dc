"""``ChatNode.show_tree``: every branch of the tree, the node marked, long texts folded, any depth."""

from __future__ import annotations

from minillm import ChatNode, ImageData, Message, MessageContent, Role, ToolCall


def _branched() -> tuple[ChatNode, ChatNode]:
    root = ChatNode.root("You are a helpful assistant.")
    user = root.add_user("Tell me a joke.")
    first = user.add_assistant("Why did the cat sit on the computer?")
    first.add_user("Why?").add_assistant("To keep an eye on the mouse.")
    second = user.add_assistant("I'd rather not.")
    again = second.add_user("Please?")
    again.add_assistant("Fine: meow.")
    again.add_assistant("No.")
    return root, again


def test_every_branch_is_shown_and_the_node_marked() -> None:
    root, again = _branched()
    assert again.show_tree() == "\n".join(
        [
            "system: You are a helpful assistant.",
            "user: Tell me a joke.",
            "├─ assistant: Why did the cat sit on the computer?",
            "│  user: Why?",
            "│  assistant: To keep an eye on the mouse.",
            "└─ assistant: I'd rather not.",
            "   user: Please?  ◀ here",
            "   ├─ assistant: Fine: meow.",
            "   └─ assistant: No.",
        ]
    )
    # the same tree from any node: only the mark moves
    assert root.show_tree().splitlines()[0].endswith("◀ here")
    assert root.show_tree().count("◀ here") == 1


def test_long_and_multiline_texts_are_folded() -> None:
    node = ChatNode.root("line one\nline two " + "word " * 40)
    (line,) = node.show_tree(width=30).splitlines()
    assert (
        line == "system: line one line two word word w…  ◀ here"
    )  # the text part is 30 characters and line.startswith("system: line one line two") and "…" in line


def test_media_and_tool_calls_are_named() -> None:
    image = ImageData.from_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16, "image/png")
    user = ChatNode.root("sys").add_user(MessageContent.with_images("", [image]))
    call = ToolCall(id="c1", name="get_weather", arguments='{"city": "Paris"}')
    reply = user.add_child(ChatNode(Message(Role.ASSISTANT, MessageContent.text(""), tool_calls=[call])))
    text = reply.show_tree()
    assert "user: [multimodal content]" in text
    assert "assistant: [calls get_weather]  ◀ here" in text


def test_a_very_deep_chain_stays_flat_and_needs_no_recursion() -> None:
    root = leaf = ChatNode.root("start")
    for i in range(100_000):
        leaf = leaf.add_user(f"m{i}") if i % 2 == 0 else leaf.add_assistant(f"m{i}")
    lines = leaf.show_tree().splitlines()
    assert len(lines) == 100_001
    assert lines[-1] == "assistant: m99999  ◀ here"
    assert all(not line.startswith((" ", "│", "├", "└")) for line in lines)
    assert root.is_root()
