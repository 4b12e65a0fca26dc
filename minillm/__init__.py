"""minillm: conversations with large language models as trees, blocking or async, over a sans-IO core.

Every public name is loaded from its home module the first time it is used (PEP 562), so ``import minillm``
costs almost nothing and a program pays only for what it uses: httpx comes with the clients, asyncio only
with the async ones. A completion without ``client=`` loads the transport (and with it the default
clients) on demand, through ``minillm.core.seam``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from minillm.core import seam as _seam

if TYPE_CHECKING:
    from minillm.core.argstream import ArgumentStream, FieldHandle
    from minillm.core.budget import Budget, CostEstimate
    from minillm.core.errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        BudgetExceededError,
        ConfigurationError,
        EmptyResponseError,
        EmptyThreadError,
        FileAccessError,
        InvalidParameterError,
        JSONRepairError,
        MalformedResponseError,
        MaxRetriesExceededError,
        MiniLLMError,
        NoJSONFoundError,
        ProviderError,
        RateLimitError,
        ReplyRejectedError,
        SchemaValidationError,
        ServerError,
        StreamError,
        ThreadFormatError,
    )
    from minillm.core.events import (
        AttemptSent,
        CostKnown,
        Event,
        FirstChunk,
        RequestBuilt,
        RequestFailed,
        ResponseReceived,
        RetryScheduled,
        StreamFinished,
    )
    from minillm.core.fallback import FallbackGenerator, FallbackReason
    from minillm.core.generator import GeneratorInfo
    from minillm.core.jsonfix import extract_json, loads, repair_json
    from minillm.core.media import AudioData, DocumentData, ImageData, VideoData
    from minillm.core.messages import ContentPart, Message, MessageContent, ReasoningPart, Role
    from minillm.core.params import (
        CompletionParameters,
        NodeCompletionParameters,
        ProviderSettings,
        ReasoningConfig,
        ResponseFormat,
    )
    from minillm.core.pretty import PrettyPrintConfig, format_conversation, pretty_messages
    from minillm.core.providers.profiles import CompatibilityProfile, ProfileWarning
    from minillm.core.response import CompletionResponse
    from minillm.core.stream import StreamChunk, ToolCallDelta
    from minillm.core.structured import OutputSchema
    from minillm.core.tokens import TokenCount, TokenCountMethod
    from minillm.core.tools import ToolCall, ToolChoice, ToolDefinition
    from minillm.core.tree import ChatNode, ConversationBuilder
    from minillm.core.usage import CostInfo, CostResolution, TokenPrice, Usage
    from minillm.transport import AsyncClient, AsyncCompletionStream, CompletionStream, SyncClient

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ArgumentStream",
    "AsyncClient",
    "AsyncCompletionStream",
    "AttemptSent",
    "AudioData",
    "AuthenticationError",
    "BadRequestError",
    "Budget",
    "BudgetExceededError",
    "ChatNode",
    "CompatibilityProfile",
    "CompletionParameters",
    "CompletionResponse",
    "CompletionStream",
    "ConfigurationError",
    "ContentPart",
    "ConversationBuilder",
    "CostEstimate",
    "CostInfo",
    "CostKnown",
    "CostResolution",
    "DocumentData",
    "EmptyResponseError",
    "EmptyThreadError",
    "Event",
    "FallbackGenerator",
    "FallbackReason",
    "FieldHandle",
    "FileAccessError",
    "FirstChunk",
    "GeneratorInfo",
    "ImageData",
    "InvalidParameterError",
    "JSONRepairError",
    "MalformedResponseError",
    "MaxRetriesExceededError",
    "Message",
    "MessageContent",
    "MiniLLMError",
    "NoJSONFoundError",
    "NodeCompletionParameters",
    "OutputSchema",
    "PrettyPrintConfig",
    "ProfileWarning",
    "ProviderError",
    "ProviderSettings",
    "RateLimitError",
    "ReasoningConfig",
    "ReasoningPart",
    "ReplyRejectedError",
    "RequestBuilt",
    "RequestFailed",
    "ResponseFormat",
    "ResponseReceived",
    "RetryScheduled",
    "Role",
    "SchemaValidationError",
    "ServerError",
    "StreamChunk",
    "StreamError",
    "StreamFinished",
    "SyncClient",
    "ThreadFormatError",
    "TokenCount",
    "TokenCountMethod",
    "TokenPrice",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolDefinition",
    "Usage",
    "VideoData",
    "extract_json",
    "format_conversation",
    "loads",
    "pretty_messages",
    "repair_json",
]

_EXPORTS: dict[str, tuple[str, ...]] = {
    "minillm.core.argstream": ("ArgumentStream", "FieldHandle"),
    "minillm.core.budget": ("Budget", "CostEstimate"),
    "minillm.core.errors": (
        "APIConnectionError",
        "APIError",
        "APITimeoutError",
        "AuthenticationError",
        "BadRequestError",
        "BudgetExceededError",
        "ConfigurationError",
        "EmptyResponseError",
        "EmptyThreadError",
        "FileAccessError",
        "InvalidParameterError",
        "JSONRepairError",
        "MalformedResponseError",
        "MaxRetriesExceededError",
        "MiniLLMError",
        "NoJSONFoundError",
        "ProviderError",
        "RateLimitError",
        "ReplyRejectedError",
        "SchemaValidationError",
        "ServerError",
        "StreamError",
        "ThreadFormatError",
    ),
    "minillm.core.fallback": ("FallbackGenerator", "FallbackReason"),
    "minillm.core.events": (
        "AttemptSent",
        "CostKnown",
        "Event",
        "FirstChunk",
        "RequestBuilt",
        "RequestFailed",
        "ResponseReceived",
        "RetryScheduled",
        "StreamFinished",
    ),
    "minillm.core.generator": ("GeneratorInfo",),
    "minillm.core.providers.profiles": ("CompatibilityProfile", "ProfileWarning"),
    "minillm.core.jsonfix": ("extract_json", "loads", "repair_json"),
    "minillm.core.media": ("AudioData", "DocumentData", "ImageData", "VideoData"),
    "minillm.core.messages": ("ContentPart", "Message", "MessageContent", "ReasoningPart", "Role"),
    "minillm.core.params": (
        "CompletionParameters",
        "NodeCompletionParameters",
        "ProviderSettings",
        "ReasoningConfig",
        "ResponseFormat",
    ),
    "minillm.core.pretty": ("PrettyPrintConfig", "format_conversation", "pretty_messages"),
    "minillm.core.response": ("CompletionResponse",),
    "minillm.core.stream": ("StreamChunk", "ToolCallDelta"),
    "minillm.core.tokens": ("TokenCount", "TokenCountMethod"),
    "minillm.core.structured": ("OutputSchema",),
    "minillm.core.tools": ("ToolCall", "ToolChoice", "ToolDefinition"),
    "minillm.core.tree": ("ChatNode", "ConversationBuilder"),
    "minillm.core.usage": ("CostInfo", "CostResolution", "TokenPrice", "Usage"),
    "minillm.transport": ("AsyncClient", "AsyncCompletionStream", "CompletionStream", "SyncClient"),
}
"""The public names, by the module that defines them (the same lines as the imports above, as data)."""

_HOME: dict[str, str] = {name: module for module, names in _EXPORTS.items() for name in names}
"""Each public name and the module it is loaded from."""


def _load(name: str) -> Any:
    """The public name ``name``, imported from its home module on first use and then kept in this module's
    namespace (so later lookups are plain attribute reads). This is the module's ``__getattr__``."""
    try:
        home = _HOME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


if not TYPE_CHECKING:  # type checkers see the imports above instead, so they still flag a misspelt name
    __getattr__ = _load


def __dir__() -> list[str]:
    """The public names, loaded or not, and the module's dunders (for ``dir()`` and completion); the helpers this
    module imports for itself (``Any``, ``importlib`` ...) stay out of sight."""
    return sorted({name for name in globals() if name.startswith("__")} | set(__all__))


def _load_transport() -> None:
    """Import the HTTP transports, which register the default clients with the core as they load."""
    importlib.import_module("minillm.transport")


_seam.register_transport_loader(_load_transport)
