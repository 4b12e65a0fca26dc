"""Human-readable renderings of a thread: plain text with role prefixes, and Markdown for notebooks.

A reply's reasoning is never mixed into its text: plain text marks it on a line of its own
(``[reasoning: ...]``, shortened), Markdown folds it into a ``<details>`` block; a refusal is marked
``[refused]``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import attrs

from minillm.core.messages import Message, Role
from minillm.core.utf8 import well_formed

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode

__all__ = ["PrettyPrintConfig", "format_conversation", "pretty_messages"]

_TOOL_PREFIX = "\n\nTOOL: "
_MULTIMODAL = "[multimodal content]"
_REASONING_PREVIEW = 80
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_CODE_SPAN = re.compile(r"(`+)(?:.*?)\1")


def _escape_tags(line: str) -> str:
    """``line`` with every ``<`` that could open an HTML tag written as ``&lt;``, except inside inline code."""
    out: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(line):
        out.append(_TAG_START.sub("&lt;", line[last : span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(_TAG_START.sub("&lt;", line[last:]))
    return "".join(out)


def safe_markdown(text: str) -> str:
    """``text`` made safe to embed in a larger Markdown page: HTML-like tags (``<thinking>``) escaped outside
    code, and a code fence left open closed at the end, so one message can never swallow the next."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        marker = _FENCE_LINE.match(line)
        if fence is None:
            if marker is not None:
                fence = marker.group(1)
                out.append(line)
            else:
                out.append(_escape_tags(line))
            continue
        out.append(line)
        closes = marker is not None and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence)
        if closes and marker is not None and not marker.group(2).strip():
            fence = None
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def fenced(text: str) -> str:
    """``text`` as a Markdown code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


@attrs.frozen
class PrettyPrintConfig:
    """The prefix written before each role's messages, and a separator between messages."""

    system_prefix: str = "SYSTEM: "
    user_prefix: str = "\n\nUSER: "
    assistant_prefix: str = "\n\nASSISTANT: "
    separator: str = ""

    def with_separator(self, separator: str) -> PrettyPrintConfig:
        return attrs.evolve(self, separator=separator)

    def prefix_for(self, role: Role) -> str:
        """The prefix of ``role``; tool messages always use ``"\\n\\nTOOL: "``."""
        if role is Role.SYSTEM:
            return self.system_prefix
        if role is Role.USER:
            return self.user_prefix
        if role is Role.ASSISTANT:
            return self.assistant_prefix
        return _TOOL_PREFIX


def _shown_text(message: Message) -> str:
    text = well_formed(message.content.all_text())  # printable: no lone surrogate reaches a terminal
    if not text and message.content.has_multimodal():
        return _MULTIMODAL
    return text


def _reasoning_summary(message: Message) -> str:
    """What plain text shows of the reasoning: a shortened first line, or how many items were redacted."""
    if message.reasoning:
        flat = " ".join(message.reasoning.split())
        if len(flat) > _REASONING_PREVIEW:
            flat = flat[: _REASONING_PREVIEW - 3] + "..."
        return flat
    if any(p.redacted for p in message.reasoning_parts):
        return "redacted"
    return ""


def _plain_reply(message: Message) -> str:
    text = _shown_text(message)
    lines: list[str] = []
    summary = _reasoning_summary(message)
    if summary:
        lines.append(f"[reasoning: {summary}]")
    if message.refusal is not None:
        said = message.refusal if message.refusal and message.refusal != text else ""
        lines.append(f"[refused] {said}".rstrip())
    if text or not lines:
        lines.append(text)
    return "\n".join(lines)


def _markdown_reply(message: Message) -> str:
    raw = _shown_text(message)
    text = safe_markdown(raw)
    out = ""
    if message.reasoning:
        out += f"\n<details><summary>reasoning</summary>\n\n{safe_markdown(message.reasoning)}\n\n</details>\n\n"
    elif any(p.redacted for p in message.reasoning_parts):
        out += "*(reasoning redacted)* "
    if message.refusal is not None:
        said = safe_markdown(message.refusal) + " " if message.refusal and message.refusal != raw else ""
        out += "*(refused)* " + said
    if _FENCE_LINE.match(text.split("\n", 1)[0]):
        out += "\n\n"  # a block cannot start on the label's line
    return out + text


def pretty_messages(node: ChatNode, config: PrettyPrintConfig | None = None) -> str:
    """The thread up to ``node`` (placeholders filled by each node's kwargs) as one prefixed string."""
    config = config or PrettyPrintConfig()
    out: list[str] = []
    for i, message in enumerate(node.formatted_thread()):
        if i and config.separator:
            out.append(config.separator)
        out.append(config.prefix_for(message.role))
        out.append(_plain_reply(message))
    return "".join(out)


def format_conversation(node: ChatNode) -> str:
    """``pretty_messages`` with the default prefixes."""
    return pretty_messages(node)


def markdown_thread(node: ChatNode, *, limit: int = 200) -> str:
    """The thread as Markdown, one bold role label per message; only the last ``limit`` messages are shown."""
    messages = node.formatted_thread()
    lines: list[str] = []
    if len(messages) > limit:
        lines.append(f"*... {len(messages) - limit} earlier messages not shown ...*\n")
        messages = messages[-limit:]
    for message in messages:
        lines.append(f"**{message.role.value}**: {_markdown_reply(message)}\n")
    root = node.get_root()
    if any(len(each.children) > 1 for each in root._walk_depth_first()):
        from minillm.core.treeview import tree_text

        count = root.node_count()
        leaves = len(root.iter_leaves())
        lines.append(
            f"<details><summary>the whole tree: {count} messages, {leaves} branches (this one marked)</summary>\n\n"
            f"{fenced(tree_text(node))}\n\n</details>\n"
        )
    return "\n".join(lines)
