"""Checks and copies that restructure a conversation tree, for ``ChatNode`` (``core/tree.py``).

Each walks with a loop and an explicit stack, never recursion, so a chain 100,000 nodes deep works like a short
one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minillm.core.errors import InvalidParameterError
from minillm.core.messages import Role

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode, _Tree

__all__ = ["check_tool_result", "copy_subtree"]


def check_tool_result(node: ChatNode, call_id: str) -> None:
    """Refuse a tool result for a call the assistant above did not make, or one already answered.

    The walk goes up past earlier tool results (parallel calls are answered one node each) to the first other
    message; only an assistant message with tool calls constrains the id. Trees built by hand may hang a
    result anywhere else.
    """
    answered: set[str] = set()
    current: ChatNode | None = node
    while current is not None and current.role is Role.TOOL:
        if current._message.tool_call_id is not None:
            answered.add(current._message.tool_call_id)
        current = current._parent
    if current is None or current.role is not Role.ASSISTANT or not current._message.tool_calls:
        return
    ids = [call.id for call in current._message.tool_calls]
    if call_id not in ids:
        raise InvalidParameterError(
            f"no tool call with id {call_id!r} to answer: the assistant message above asked for "
            f"{', '.join(map(repr, ids))}; pass one of those ids (node.tool_calls lists them)"
        )
    if call_id in answered:
        pending = [i for i in ids if i not in answered]
        rest = f"still unanswered: {', '.join(map(repr, pending))}" if pending else "every call is answered"
        raise InvalidParameterError(f"the tool call {call_id!r} already has a result on this branch ({rest})")


def _copy_node(src: ChatNode, tree: _Tree, node_class: type[ChatNode]) -> ChatNode:
    node = node_class(src._message)
    node._tree = tree
    node._metadata = dict(src._metadata)
    node._format_kwargs = dict(src._format_kwargs)
    node._cache = src._cache
    node._parsed = src._parsed
    return node


def copy_subtree(
    src: ChatNode,
    parent: ChatNode | None,
    tree: _Tree,
    *,
    register: bool,
    mapping: dict[int, ChatNode] | None = None,
) -> ChatNode:
    """Copy ``src`` and its registered descendants under ``parent`` (fresh ids); return the copy of ``src``."""
    from minillm.core.tree import ChatNode  # the tree module imports this one

    top = _copy_node(src, tree, ChatNode)
    top._parent = parent
    if parent is not None and register:
        parent._children.append(top)
    if mapping is not None:
        mapping[id(src)] = top
    stack = [(src, top)]
    while stack:
        original, copy = stack.pop()
        for child in original._children:
            child_copy = _copy_node(child, tree, ChatNode)
            child_copy._parent = copy
            copy._children.append(child_copy)
            if mapping is not None:
                mapping[id(child)] = child_copy
            stack.append((child, child_copy))
    return top
