"""A node's Markdown in a notebook: each message stays its own block whatever its text holds (an unclosed code
fence, HTML-like tags), and a branched tree shows every branch, folded. Rendered with Python-Markdown (the
docs' renderer) so the checks are about what a reader sees, not about strings."""

from __future__ import annotations

import markdown

from minillm import ChatNode
from minillm.core.pretty import fenced, safe_markdown


def _html(node: ChatNode) -> str:
    return markdown.markdown(node._repr_markdown_(), extensions=["fenced_code"])


def test_an_unclosed_fence_does_not_swallow_the_next_message() -> None:
    user = ChatNode.root("Be brief.").add_user("Fix this:\n```python\nprint('hi')\n")
    reply = user.add_assistant("Done.")
    html = _html(reply)
    assert "<strong>assistant</strong>: Done." in html  # a label, not text inside the user's code block
    assert "<code class=\"language-python\">print('hi')" in html


def test_tags_in_text_are_shown_not_interpreted() -> None:
    reply = ChatNode.user("hi").add_assistant("<thinking>plan</thinking> The answer is `a<b` and <b>bold</b>?")
    markdown_text = reply._repr_markdown_()
    assert "&lt;thinking>plan&lt;/thinking>" in markdown_text and "&lt;b>bold&lt;/b>" in markdown_text
    assert "`a<b`" in markdown_text  # inside inline code a < is already literal: left alone
    html = _html(reply)
    assert "<thinking>" not in html and "&lt;thinking&gt;" in html


def test_fences_inside_a_fence_and_closing_rules() -> None:
    assert safe_markdown("````\n```\ninner\n```\n````\nafter <x>") == "````\n```\ninner\n```\n````\nafter &lt;x>"
    assert safe_markdown("~~~\nopen <tag>") == "~~~\nopen <tag>\n~~~"  # no escaping inside code; closed at the end
    assert safe_markdown("```js\ncode\n``` not a close\n") == "```js\ncode\n``` not a close\n\n```"


def test_fenced_outlasts_any_backtick_run() -> None:
    assert fenced("a ``` b") == "````text\na ``` b\n````"
    assert fenced("plain") == "```text\nplain\n```"


def test_a_branched_tree_is_shown_folded_with_the_node_marked() -> None:
    root = ChatNode.root("sys")
    question = root.add_user("Pick a prime.")
    question.add_assistant("2")
    seven = question.add_assistant("7 ```")
    text = seven._repr_markdown_()
    assert "<details><summary>the whole tree: 4 messages, 2 branches (this one marked)</summary>" in text
    assert "└─ assistant: 7 ```  ◀ here" in text
    html = _html(seven)
    assert html.count("<details>") == 1 and "◀ here" in html


def test_a_straight_conversation_has_no_tree_view() -> None:
    reply = ChatNode.root("sys").add_user("hi").add_assistant("hello")
    assert "<details>" not in reply._repr_markdown_()
