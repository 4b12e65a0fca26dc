"""Human-readable renderings of a thread: plain text with role prefixes, and Markdown for notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from minillm.core.messages import Message, Role
from minillm.core.utf8 import well_formed

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode

__all__ = ["PrettyPrintConfig", "format_conversation", "pretty_messages"]

_TOOL_PREFIX = "\n\nTOOL: "
_MULTIMODAL = "[multimodal content]"


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


def pretty_messages(node: ChatNode, config: PrettyPrintConfig | None = None) -> str:
    """The thread up to ``node`` (placeholders filled by each node's kwargs) as one prefixed string."""
    config = config or PrettyPrintConfig()
    out: list[str] = []
    for i, message in enumerate(node.formatted_thread()):
        if i and config.separator:
            out.append(config.separator)
        out.append(config.prefix_for(message.role))
        out.append(_shown_text(message))
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
        lines.append(f"**{message.role.value}**: {_shown_text(message)}\n")
    return "\n".join(lines)
