"""A whole conversation tree as text: every branch, one line per message, the current node marked.

A chain of single children stays at one indentation level; only a fork indents (with ``├─``/``└─`` rails), so a
100,000-message chain is still 100,000 short lines and a bushy tree reads like ``git log --graph``. The walk is
iterative: no recursion limit, however deep the tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode

__all__ = ["MARK", "tree_text"]

MARK = "◀ here"
"""What follows the line of the marked node."""

_BRANCH, _LAST = "├─ ", "└─ "
_RAIL, _GAP = "│  ", "   "


def _fold(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis when longer."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def _label(node: ChatNode, width: int) -> str:
    message = node.message
    text = message.content.all_text()
    if not text and message.content.has_multimodal():
        text = "[multimodal content]"
    if message.tool_calls:
        calls = ", ".join(call.name for call in message.tool_calls)
        text = f"{text} [calls {calls}]" if text else f"[calls {calls}]"
    return f"{message.role.value}: {_fold(text, width)}"


def tree_text(node: ChatNode, *, width: int = 72) -> str:
    """The tree that holds ``node``, from its root, with ``node``'s line marked; texts folded to ``width``."""
    lines: list[str] = []
    # Each entry: the node, the prefix of its own line, the prefix of the lines below it in its branch.
    stack: list[tuple[ChatNode, str, str]] = [(node.get_root(), "", "")]
    while stack:
        current, first, rest = stack.pop()
        line = first + _label(current, width)
        lines.append(f"{line}  {MARK}" if current is node else line)
        children = current.children
        if len(children) == 1:
            stack.append((children[0], rest, rest))
        else:
            last = len(children) - 1
            for i in range(last, -1, -1):  # pushed in reverse, so the first child is printed first
                is_last = i == last
                stack.append((children[i], rest + (_LAST if is_last else _BRANCH), rest + (_GAP if is_last else _RAIL)))
    return "\n".join(lines)
