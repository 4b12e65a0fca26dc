"""Provider wires, one module per wire, all sans-IO; and the front door for writing a wire of your own.

Everything a new wire needs is importable from here: the ``Provider`` protocol it implements (or
``OpenAIDialect`` to subclass when the server speaks a variant of OpenAI's chat completions), the values it
trades in (``WireRequest`` in, ``CompletionResponse``/``StreamChunk``/``StreamEnd`` out, the
``ResolvedCredential`` it turns into headers, the ``ServerSentEvent`` it reads) and ``join_url``. Pass an
instance to ``GeneratorInfo.with_provider``; docs/providers.md shows one end to end.
"""

from minillm.core.auth import ResolvedCredential
from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.base import Provider, StreamEnd, WireRequest, join_url
from minillm.core.providers.generic import GenericProvider
from minillm.core.providers.openai import OpenAIProvider
from minillm.core.providers.openai_wire import OpenAIDialect
from minillm.core.providers.openrouter import OpenRouterProvider
from minillm.core.providers.profiles import CompatibilityProfile
from minillm.core.sse import ServerSentEvent

__all__ = [
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
