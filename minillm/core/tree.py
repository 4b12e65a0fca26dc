"""The conversation tree: ``ChatNode`` and ``ConversationBuilder``.

Each node holds one immutable ``Message`` plus per-node state (metadata, format kwargs, a cache mark).
A path from the root to a node is a thread: the prompt a completion sends. The tree knows nothing of
HTTP; the network methods reach the transport through ``minillm.core.seam``.

Every walk here is a loop, never recursion, so a chain 100,000 nodes deep works like a short one.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core import seam
from minillm.core._tree_edits import check_tool_result, copy_subtree
from minillm.core.errors import InvalidParameterError
from minillm.core.messages import Message, MessageContent, Role, merge_contiguous
from minillm.core.spending import CostMethods, aguarded, guarded
from minillm.core.structured import reask as _reask
from minillm.core.templates import apply_kwargs
from minillm.core.tools import ToolCall

if TYPE_CHECKING:
    from minillm.core.fallback import FallbackGenerator
    from minillm.core.generator import GeneratorInfo
    from minillm.core.params import NodeCompletionParameters
    from minillm.core.response import CompletionResponse
    from minillm.core.seam import AsyncChunkStream, AsyncCompletionClient, SyncChunkStream, SyncCompletionClient
    from minillm.core.usage import CostInfo

__all__ = ["ChatNode", "ConversationBuilder"]


class _Tree:
    """Identity shared by every node of one tree. ``add_child`` moves nodes within a tree and copies
    them across trees; a detached branch still belongs to the tree it came from."""

    __slots__ = ("__weakref__",)


class ChatNode(CostMethods):
    """One message in a conversation tree, with links to its parent and children.

    Build a tree with ``ChatNode.root(...)`` then ``add_user`` / ``add_assistant``; each returns the new
    child, so calls chain. ``thread()`` is the conversation from the root down to this node.
    """

    __slots__ = ("_cache", "_children", "_format_kwargs", "_id", "_message", "_metadata", "_parent", "_parsed", "_tree")

    def __init__(self, message: Message) -> None:
        if not isinstance(message, Message):
            raise InvalidParameterError(
                f"ChatNode needs a Message, not {type(message).__name__}; use ChatNode.user(text) for plain text"
            )
        self._id: str | None = None  # made on first use: most nodes never need one
        self._message = message
        self._parent: ChatNode | None = None
        self._children: list[ChatNode] = []
        self._metadata: dict[str, Any] = {}
        self._format_kwargs: dict[str, str] = {}
        self._cache = message.cache_breakpoint
        self._tree = _Tree()
        self._parsed: Any = None

    # ----- construction ------------------------------------------------------------------------------

    @classmethod
    def root(cls, system_prompt: str | MessageContent) -> ChatNode:
        """A new tree whose root is a system message."""
        return cls(Message.system(system_prompt))

    @classmethod
    def user(cls, content: str | MessageContent) -> ChatNode:
        """A new tree whose root is a user message."""
        return cls(Message.user(content))

    @classmethod
    def assistant(cls, content: str | MessageContent) -> ChatNode:
        """A new tree whose root is an assistant message."""
        return cls(Message.assistant(content))

    def _new_child(self, message: Message, *, register: bool = True) -> ChatNode:
        node = ChatNode(message)
        node._tree = self._tree
        node._parent = self
        if register:
            self._children.append(node)
        return node

    def add_user(self, content: str | MessageContent) -> ChatNode:
        """Append a user message as a new child and return it."""
        return self._new_child(Message.user(content))

    def add_assistant(self, content: str | MessageContent) -> ChatNode:
        """Append an assistant message as a new child and return it."""
        return self._new_child(Message.assistant(content))

    def add_tool_result(self, call_id: str | ToolCall, content: str | MessageContent) -> ChatNode:
        """Append the result of tool call ``call_id`` (an id, or the ``ToolCall`` itself) as a new child and
        return it. Chain one per call to answer parallel calls.

        When the assistant message above (past earlier tool results) asked for tool calls, ``call_id`` must be
        one of them and not answered yet; otherwise ``InvalidParameterError`` says which ids are expected.
        """
        if isinstance(call_id, ToolCall):
            call_id = call_id.id
        if not isinstance(call_id, str) or not call_id:
            raise InvalidParameterError("a tool result needs the id of the tool call it answers")
        check_tool_result(self, call_id)
        return self._new_child(Message.tool(call_id, content))

    def add_child(self, child: ChatNode) -> ChatNode:
        """Put ``child`` (with its subtree) under this node and return it.

        A node of this same tree is moved, keeping its id; moving this node or one of its ancestors
        would make a cycle and raises ``InvalidParameterError``. A node of another tree is copied, with
        fresh ids, and the copy is returned; the other tree is left untouched.
        """
        if child._tree is not self._tree:
            return copy_subtree(child, self, self._tree, register=True)
        node: ChatNode | None = self
        while node is not None:
            if node is child:
                raise InvalidParameterError(
                    "add_child would create a cycle: the child is this node or one of its ancestors"
                )
            node = node._parent
        child._unlink()
        child._parent = self
        self._children.append(child)
        return child

    def append_response(self, response: CompletionResponse, params: NodeCompletionParameters | None = None) -> ChatNode:
        """Add the assistant reply ``response`` (for instance a finished stream's) as a new child. With the
        request's ``params`` holding a schema, the reply is validated: ``parsed`` is set, or the reply stays in
        the tree and ``SchemaValidationError`` is raised (its ``node.reask(...)`` asks again)."""
        if params is None or params.schema is None:
            return self._add_response(response, response.content, register=True)
        return _reask.append_structured(self, response, params)

    def _add_response(self, response: CompletionResponse, text: str, *, register: bool) -> ChatNode:
        """The assistant node for a response: registered, or a phantom that only knows its parent."""
        message = Message(
            Role.ASSISTANT,
            text,
            tool_calls=response.tool_calls or None,
            reasoning=response.reasoning,
            refusal=response.refusal,
            reasoning_parts=response.reasoning_parts,
        )
        node = self._new_child(message, register=register)
        node._metadata["response_id"] = response.id
        node._metadata["model"] = response.model
        if response.usage is not None:
            node._metadata["usage"] = response.usage.to_dict()
        if response.finish_reason is not None:
            node._metadata["finish_reason"] = response.finish_reason
        return node

    # ----- state -------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """A UUID4 string, unique to this node (copies get new ones)."""
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    @property
    def message(self) -> Message:
        """The node's message, its ``cache_breakpoint`` showing the node's current cache mark."""
        if self._message.cache_breakpoint == self._cache:
            return self._message
        return attrs.evolve(self._message, cache_breakpoint=self._cache)

    @property
    def role(self) -> Role:
        return self._message.role

    @property
    def text(self) -> str | None:
        """The message's first text (unformatted); None when it has no text part."""
        return self._message.content.get_text()

    @property
    def content(self) -> MessageContent:
        return self._message.content

    @property
    def parsed(self) -> Any:
        """The validated value of a reply to a request with a schema (``with_schema``): an instance of the
        schema's class, or the JSON value for a dict schema; None without a schema (or in a loaded thread)."""
        return self._parsed

    @property
    def tool_calls(self) -> list[ToolCall] | None:
        """The tool calls this (assistant) message asks for, or None."""
        calls = self._message.tool_calls
        return list(calls) if calls else None

    @property
    def reasoning(self) -> str | None:
        """The model's readable reasoning behind this (assistant) reply, or None when it showed none."""
        return self._message.reasoning

    @property
    def refusal(self) -> str | None:
        """The text of the model's refusal (``""`` when it refused without a reason), or None."""
        return self._message.refusal

    @property
    def parent(self) -> ChatNode | None:
        return self._parent

    @property
    def children(self) -> list[ChatNode]:
        """The registered children, in the order they were added (a copy of the list)."""
        return list(self._children)

    @property
    def metadata(self) -> dict[str, Any]:
        """Free-form JSON data about this node (completions store ``response_id``, ``model``, ``usage``...)."""
        return self._metadata

    def set_metadata(self, key: str, value: Any) -> ChatNode:
        self._metadata[key] = value
        return self

    def get_metadata(self, key: str) -> Any:
        return self._metadata.get(key)

    # ----- navigation --------------------------------------------------------------------------------

    def is_root(self) -> bool:
        return self._parent is None

    def is_leaf(self) -> bool:
        return not self._children

    def child_count(self) -> int:
        return len(self._children)

    def last_child(self) -> ChatNode | None:
        return self._children[-1] if self._children else None

    def get_root(self) -> ChatNode:
        node = self
        while node._parent is not None:
            node = node._parent
        return node

    def get_leaf(self) -> ChatNode:
        """Follow the last child down until a leaf (this node when it has no children)."""
        node = self
        while node._children:
            node = node._children[-1]
        return node

    def depth(self) -> int:
        """The number of ancestors (a root has depth 0)."""
        count = 0
        node = self._parent
        while node is not None:
            count += 1
            node = node._parent
        return count

    def _path(self) -> list[ChatNode]:
        """The nodes from the root down to this one."""
        path: list[ChatNode] = []
        node: ChatNode | None = self
        while node is not None:
            path.append(node)
            node = node._parent
        path.reverse()
        return path

    def thread(self) -> list[Message]:
        """The messages from the root to this node, as stored: unformatted and unmerged."""
        return [n.message for n in self._path()]

    def merged_thread(self) -> list[Message]:
        """``thread()`` with runs of same-role plain messages merged, as a prompt is sent."""
        return merge_contiguous(self.thread())

    def find_by_id(self, node_id: str) -> ChatNode | None:
        """The node with this id in this node's subtree, or None."""
        for node in self._walk_depth_first():
            if node._id is not None and node._id == node_id:
                return node
        return None

    # ----- iteration ---------------------------------------------------------------------------------

    def _walk_depth_first(self) -> Iterator[ChatNode]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node._children))

    def iter_depth_first(self) -> list[ChatNode]:
        """This subtree in pre-order, children in insertion order."""
        return list(self._walk_depth_first())

    def iter_breadth_first(self) -> list[ChatNode]:
        """This subtree level by level."""
        out: list[ChatNode] = []
        queue = deque([self])
        while queue:
            node = queue.popleft()
            out.append(node)
            queue.extend(node._children)
        return out

    def iter_leaves(self) -> list[ChatNode]:
        """The leaves of this subtree, in depth-first order."""
        return [n for n in self._walk_depth_first() if not n._children]

    def node_count(self) -> int:
        """The size of this subtree, this node included."""
        return sum(1 for _ in self._walk_depth_first())

    # ----- restructuring -----------------------------------------------------------------------------

    def _unlink(self) -> None:
        parent = self._parent
        if parent is not None:
            for i, c in enumerate(parent._children):
                if c is self:
                    del parent._children[i]
                    break
        self._parent = None

    def detach(self) -> ChatNode:
        """Cut this node (with its subtree) from its parent; it becomes a root. Returns this node."""
        self._unlink()
        return self

    def merge(self, other: ChatNode) -> ChatNode:
        """Graft ``other``'s whole tree (from its root) under this node; return the graft's last leaf.

        Another tree is copied; a detached branch of this tree is moved. Merging a node whose root is
        an ancestor of this node would make a cycle and raises ``InvalidParameterError``.
        """
        return self.add_child(other.get_root()).get_leaf()

    def clone_tree(self) -> ChatNode:
        """Copy the whole tree this node belongs to, with fresh ids; return the copy of this node."""
        path = self._path()
        tree = _Tree()
        mapping: dict[int, ChatNode] = {}
        copy_subtree(path[0], None, tree, register=False, mapping=mapping)
        for node in path[1:]:
            if id(node) not in mapping:
                # A phantom (or a phantom's descendant): not reachable through registered children.
                parent_copy = mapping[id(node._parent)]
                registered = any(c is node for c in node._parent._children)  # type: ignore[union-attr]
                copy_subtree(node, parent_copy, tree, register=registered, mapping=mapping)
        return mapping[id(self)]

    # ----- completions (the network, through the client seam) -----------------------------------------

    def complete(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> ChatNode:
        """Ask ``generator`` to continue the thread ending here; return the new assistant node.

        Retries, post-processing, re-asks (``with_schema``) and the cost callback follow ``params``. Blocking;
        safe inside a running event loop (a notebook). ``client`` defaults to the process's shared ``SyncClient``.
        """
        return guarded(
            self, generator, params, client, lambda g, p: _reask.complete(seam.sync_client(client), self, g, p)
        )

    async def acomplete(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> ChatNode:
        """``complete``, awaited. ``client`` defaults to the running loop's shared ``AsyncClient``."""
        return await aguarded(
            self, generator, params, client, lambda g, p: _reask.acomplete(seam.async_client(client), self, g, p)
        )

    def chat(
        self,
        content: str | MessageContent,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> ChatNode:
        """Add ``content`` as a user message under this node, complete it, and return the reply."""
        return self.add_user(content).complete(generator, params, client=client)

    async def achat(
        self,
        content: str | MessageContent,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> ChatNode:
        """``chat``, awaited."""
        return await self.add_user(content).acomplete(generator, params, client=client)

    def complete_streaming(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> SyncChunkStream:
        """Start a streamed completion and return the stream (a context manager yielding ``StreamChunk``s).

        HTTP errors raise here; no node is added (use ``append_response(stream.response)`` at the end).
        """
        stream: SyncChunkStream = guarded(
            self, generator, params, client, lambda g, p: seam.sync_client(client).complete_streaming(self, g, p)
        )
        return stream

    async def acomplete_streaming(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> AsyncChunkStream:
        """``complete_streaming``, awaited; the stream is an async iterator and async context manager."""
        stream: AsyncChunkStream = await aguarded(
            self, generator, params, client, lambda g, p: seam.async_client(client).acomplete_streaming(self, g, p)
        )
        return stream

    def ensure_cached(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> CostInfo:
        """Warm the provider's prompt cache with the thread ending here (one request, no reply kept)."""
        return guarded(self, generator, params, client, lambda g, p: seam.sync_client(client).ensure_cached(self, g, p))

    async def aensure_cached(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> CostInfo:
        """``ensure_cached``, awaited."""
        return await aguarded(
            self, generator, params, client, lambda g, p: seam.async_client(client).aensure_cached(self, g, p)
        )

    def complete_costed(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> tuple[ChatNode, CostInfo]:
        """``complete``, also returning what it cost, re-asks included (``resolution`` tells a real price)."""
        send = lambda g, p: _reask.complete_costed(seam.sync_client(client), self, g, p)  # noqa: E731
        return guarded(self, generator, params, client, send, wants_cost=True, cost_of=lambda r: r[1])

    async def acomplete_costed(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> tuple[ChatNode, CostInfo]:
        """``complete_costed``, awaited."""
        send = lambda g, p: _reask.acomplete_costed(seam.async_client(client), self, g, p)  # noqa: E731
        return await aguarded(self, generator, params, client, send, wants_cost=True, cost_of=lambda r: r[1])

    def reask(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters,
        *,
        client: SyncCompletionClient | None = None,
    ) -> ChatNode:
        """Ask again after this reply failed its schema (``SchemaValidationError.node``): its errors go under it
        as a user message, completed like ``complete`` (with up to ``params.max_reasks`` further re-asks)."""
        return _reask.correction_node(self, params).complete(generator, params, client=client)

    async def areask(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> ChatNode:
        """``reask``, awaited."""
        return await _reask.correction_node(self, params).acomplete(generator, params, client=client)

    # ----- cache marks -------------------------------------------------------------------------------

    def cache_breakpoint(self) -> ChatNode:
        """Mark this node as a prompt-caching breakpoint; returns the node."""
        self._cache = True
        return self

    def is_cache_breakpoint(self) -> bool:
        return self._cache

    def clear_cache_breakpoint(self) -> ChatNode:
        self._cache = False
        return self

    def clear_all_cache_breakpoints(self) -> None:
        """Clear the cache mark on every node of the tree, from any of its nodes."""
        for node in self.get_root()._walk_depth_first():
            node._cache = False

    # ----- format kwargs -----------------------------------------------------------------------------

    def set_format_kwarg(self, key: str, value: str) -> ChatNode:
        """Fill ``{key}`` in this node's own text (never its ancestors' or descendants')."""
        self._format_kwargs[key] = value
        return self

    def set_format_kwargs(self, kwargs: Mapping[str, str]) -> ChatNode:
        """Add or overwrite several kwargs (existing other keys stay)."""
        self._format_kwargs.update(kwargs)
        return self

    def get_format_kwarg(self, key: str) -> str | None:
        return self._format_kwargs.get(key)

    def get_format_kwargs(self) -> dict[str, str]:
        """A copy of this node's own kwargs."""
        return dict(self._format_kwargs)

    def format_string(self, template: str) -> str:
        """``template`` with this node's kwargs substituted."""
        return apply_kwargs(template, self._format_kwargs)

    def formatted_text(self) -> str | None:
        """This node's first text with its own kwargs substituted."""
        text = self.text
        return None if text is None else apply_kwargs(text, self._format_kwargs)

    def _formatted_message(self, base: Mapping[str, str] | None) -> Message:
        kwargs: Mapping[str, str] = {**base, **self._format_kwargs} if base else self._format_kwargs
        message = self.message
        if not kwargs:
            return message
        return attrs.evolve(message, content=message.content.map_text(lambda t: apply_kwargs(t, kwargs)))

    def formatted_thread(self) -> list[Message]:
        """The thread with each message's placeholders filled by its own node's kwargs."""
        return [n._formatted_message(None) for n in self._path()]

    def formatted_thread_with_base(self, base: Mapping[str, str]) -> list[Message]:
        """As ``formatted_thread``, each node using ``base`` overlaid by its own kwargs (the node wins)."""
        return [n._formatted_message(base) for n in self._path()]

    # ----- threads (save / load) ---------------------------------------------------------------------

    def to_thread_data(self) -> dict[str, Any]:
        """The root-to-here thread as JSON-ready data (the format ``save_thread`` writes)."""
        from minillm.core.threads import thread_to_data

        return thread_to_data(self._path())

    def save_thread(self, path: str | os.PathLike[str]) -> None:
        """Write the root-to-here thread as JSON; atomic, so a failure never leaves a half-written file."""
        from minillm.core.threads import save_thread

        save_thread(self._path(), path)

    @classmethod
    def from_thread_data(cls, data: Any) -> tuple[ChatNode, ChatNode]:
        """Build a chain from thread data (current or legacy format); returns ``(root, leaf)``."""
        from minillm.core.threads import chain_from_data

        return chain_from_data(data)

    @classmethod
    def from_thread_json(cls, text: str | bytes) -> tuple[ChatNode, ChatNode]:
        """Build a chain from thread JSON text; returns ``(root, leaf)``."""
        from minillm.core.threads import chain_from_json

        return chain_from_json(text)

    @classmethod
    def from_thread_file(cls, path: str | os.PathLike[str]) -> tuple[ChatNode, ChatNode]:
        """Build a chain from a saved thread file; returns ``(root, leaf)``."""
        from minillm.core.threads import chain_from_file

        return chain_from_file(path)

    @classmethod
    def from_messages(cls, messages: Iterable[Message]) -> tuple[ChatNode, ChatNode]:
        """Build a chain with one node per message; returns ``(root, leaf)``."""
        from minillm.core.errors import EmptyThreadError

        it = iter(messages)
        first = next(it, None)
        if first is None:
            raise EmptyThreadError("from_messages got no messages; a thread needs at least one")
        root = leaf = cls(first)
        for message in it:
            leaf = leaf._new_child(message)
        return root, leaf

    # ----- display -----------------------------------------------------------------------------------

    def __repr__(self) -> str:
        text = self.text or ""
        if len(text) > 40:
            text = text[:37] + "..."
        return f"<ChatNode {self._role_name()} {text!r} depth={self.depth()} children={len(self._children)}>"

    def _role_name(self) -> str:
        return self._message.role.value

    def show_tree(self, *, width: int = 72) -> str:
        """The whole tree this node belongs to, as text: every branch from the root, one line per message
        (folded to ``width`` characters), this node's line marked ``◀ here``."""
        from minillm.core.treeview import tree_text

        return tree_text(self, width=width)

    def _repr_markdown_(self) -> str:
        """A notebook shows the conversation up to this node."""
        from minillm.core.pretty import markdown_thread

        return markdown_thread(self)


class ConversationBuilder:
    """Build a linear conversation fluently: ``ConversationBuilder(sys).user("hi").assistant("hello")``."""

    __slots__ = ("_current", "_root")

    def __init__(self, system_prompt: str | MessageContent) -> None:
        self._root = ChatNode.root(system_prompt)
        self._current = self._root

    def user(self, content: str | MessageContent) -> ConversationBuilder:
        self._current = self._current.add_user(content)
        return self

    def assistant(self, content: str | MessageContent) -> ConversationBuilder:
        self._current = self._current.add_assistant(content)
        return self

    def root(self) -> ChatNode:
        return self._root

    def current(self) -> ChatNode:
        return self._current

    def build(self) -> ChatNode:
        """The last node added (the conversation's tip)."""
        return self._current
