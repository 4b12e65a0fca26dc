"""minillm: conversations with large language models as trees, blocking or async, over a sans-IO core."""

from minillm.core.argstream import ArgumentStream, FieldHandle
from minillm.core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
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
    RateLimitError,
    ServerError,
    StreamError,
    ThreadFormatError,
)
from minillm.core.generator import GeneratorInfo
from minillm.core.jsonfix import extract_json, loads, repair_json
from minillm.core.media import AudioData, DocumentData, ImageData, VideoData
from minillm.core.messages import ContentPart, Message, MessageContent, Role
from minillm.core.params import (
    CompletionParameters,
    NodeCompletionParameters,
    ProviderSettings,
    ReasoningConfig,
    ResponseFormat,
)
from minillm.core.pretty import PrettyPrintConfig, format_conversation, pretty_messages
from minillm.core.response import CompletionResponse
from minillm.core.stream import StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall, ToolChoice, ToolDefinition
from minillm.core.tree import ChatNode, ConversationBuilder
from minillm.core.usage import CostInfo, CostResolution, TokenPrice, Usage
from minillm.transport import AsyncClient, AsyncCompletionStream, CompletionStream, SyncClient

__all__ = [
    "ArgumentStream",
    "FieldHandle",
    "ToolChoice",
    "ToolDefinition",
    "AsyncClient",
    "AsyncCompletionStream",
    "CompletionStream",
    "SyncClient",
    "AudioData",
    "ChatNode",
    "CompletionParameters",
    "CompletionResponse",
    "CostInfo",
    "CostResolution",
    "GeneratorInfo",
    "NodeCompletionParameters",
    "ProviderSettings",
    "ReasoningConfig",
    "ResponseFormat",
    "TokenPrice",
    "Usage",
    "ContentPart",
    "ConversationBuilder",
    "DocumentData",
    "ImageData",
    "Message",
    "MessageContent",
    "PrettyPrintConfig",
    "Role",
    "StreamChunk",
    "ToolCall",
    "ToolCallDelta",
    "VideoData",
    "extract_json",
    "format_conversation",
    "loads",
    "pretty_messages",
    "repair_json",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
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
    "RateLimitError",
    "ServerError",
    "StreamError",
    "ThreadFormatError",
]
