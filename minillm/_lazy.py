"""Lazy loading of minillm's public names: ``import minillm`` loads only the error classes.

``minillm/__init__.py`` re-exports ``__getattr__`` and ``__dir__`` from here (PEP 562), so each public name
is imported from its home module the first time it is used, and then kept in the package's namespace. A
program therefore pays for what it uses: a script that only repairs JSON never loads httpx, a blocking one
never loads asyncio, and nothing loads json-repair, cattrs or python-dotenv until it repairs JSON, saves a
thread or reads a ``.env`` file.

Every name that can reach the network (the tree, the generators, the clients) also loads
``minillm.transport``, which registers the default clients with the core, so ``ChatNode.complete`` works
without ``client=`` exactly as with eager imports.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LAZY_NAMES", "load"]

LAZY_NAMES: dict[str, str] = {
    # the tree and the network
    "ChatNode": "minillm.core.tree",
    "ConversationBuilder": "minillm.core.tree",
    "GeneratorInfo": "minillm.core.generator",
    "AsyncClient": "minillm.transport",
    "AsyncCompletionStream": "minillm.transport",
    "CompletionStream": "minillm.transport",
    "SyncClient": "minillm.transport",
    # values
    "AudioData": "minillm.core.media",
    "DocumentData": "minillm.core.media",
    "ImageData": "minillm.core.media",
    "VideoData": "minillm.core.media",
    "ContentPart": "minillm.core.messages",
    "Message": "minillm.core.messages",
    "MessageContent": "minillm.core.messages",
    "Role": "minillm.core.messages",
    "CompletionParameters": "minillm.core.params",
    "NodeCompletionParameters": "minillm.core.params",
    "ProviderSettings": "minillm.core.params",
    "ReasoningConfig": "minillm.core.params",
    "ResponseFormat": "minillm.core.params",
    "CompletionResponse": "minillm.core.response",
    "StreamChunk": "minillm.core.stream",
    "ToolCallDelta": "minillm.core.stream",
    "ToolCall": "minillm.core.tools",
    "CostInfo": "minillm.core.usage",
    "CostResolution": "minillm.core.usage",
    "TokenPrice": "minillm.core.usage",
    "Usage": "minillm.core.usage",
    "ToolChoice": "minillm.core.tools",
    "ToolDefinition": "minillm.core.tools",
    "ArgumentStream": "minillm.core.argstream",
    "FieldHandle": "minillm.core.argstream",
    # helpers
    "PrettyPrintConfig": "minillm.core.pretty",
    "format_conversation": "minillm.core.pretty",
    "pretty_messages": "minillm.core.pretty",
    "extract_json": "minillm.core.jsonfix",
    "loads": "minillm.core.jsonfix",
    "repair_json": "minillm.core.jsonfix",
}
"""Each lazily loaded public name and the module that defines it."""

_NETWORK = frozenset({"minillm.core.tree", "minillm.core.generator", "minillm.transport"})


def load(name: str, namespace: dict[str, Any]) -> Any:
    """The public name ``name``, imported from its module and stored in ``namespace`` (the package's), or
    ``AttributeError`` for a name minillm does not have."""
    home = LAZY_NAMES.get(name)
    if home is None:
        raise AttributeError(f"module 'minillm' has no attribute {name!r}")
    if home in _NETWORK:
        importlib.import_module("minillm.transport")  # registers the default clients with the core
    value = getattr(importlib.import_module(home), name)
    namespace[name] = value
    return value
