"""The public API as a member list (as httpx pins its own): adding, removing or renaming a public name must
show up here as a deliberate change, not slip in with a refactor."""

from __future__ import annotations

from typing import Any

import minillm
import minillm.core.providers

PUBLIC_NAMES = [
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

PROVIDER_NAMES = [
    "AnthropicProvider",
    "CompatibilityProfile",
    "GenericProvider",
    "OpenAIDialect",
    "OpenAIProvider",
    "OpenRouterProvider",
    "Provider",
    "ResolvedCredential",
    "ServerSentEvent",
    "StreamEnd",
    "WireRequest",
    "join_url",
]

# What the package module needs for itself; none of it is API, so none of it should show in dir(minillm).
_HELPERS = ["Any", "TYPE_CHECKING", "annotations", "importlib"]


def test_the_pinned_list_is_sorted_and_has_no_repeats() -> None:
    assert sorted(set(PUBLIC_NAMES)) == PUBLIC_NAMES
    assert sorted(set(PROVIDER_NAMES)) == PROVIDER_NAMES


def test_minillm_exports_exactly_the_public_names() -> None:
    assert len(minillm.__all__) == len(set(minillm.__all__)), "a name is listed twice in minillm.__all__"
    assert set(minillm.__all__) == set(PUBLIC_NAMES)


def test_every_public_name_is_importable() -> None:
    for name in PUBLIC_NAMES:
        assert getattr(minillm, name) is not None, name


def test_minillm_all_is_sorted() -> None:
    assert minillm.__all__ == sorted(minillm.__all__)


def test_the_provider_front_door_exports_what_a_wire_needs() -> None:
    assert minillm.core.providers.__all__ == PROVIDER_NAMES
    for name in PROVIDER_NAMES:
        assert getattr(minillm.core.providers, name) is not None, name


def test_the_front_door_hands_out_the_same_objects_as_their_home_modules() -> None:
    from minillm.core.auth import ResolvedCredential
    from minillm.core.providers.base import Provider, StreamEnd, WireRequest, join_url
    from minillm.core.providers.openai_wire import OpenAIDialect
    from minillm.core.sse import ServerSentEvent

    homes: list[Any] = [Provider, OpenAIDialect, WireRequest, StreamEnd, ResolvedCredential, ServerSentEvent, join_url]
    assert all(getattr(minillm.core.providers, obj.__name__) is obj for obj in homes)


def test_dir_lists_every_public_name() -> None:
    assert set(PUBLIC_NAMES) <= set(dir(minillm))


def test_dir_hides_the_modules_own_helpers() -> None:
    assert [name for name in _HELPERS if name in dir(minillm)] == []
