"""Provider wires: one module per wire, all sans-IO."""

from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.base import Provider
from minillm.core.providers.generic import GenericProvider
from minillm.core.providers.openai import OpenAIProvider
from minillm.core.providers.openrouter import OpenRouterProvider

__all__ = [
    "AnthropicProvider",
    "GenericProvider",
    "OpenAIProvider",
    "OpenRouterProvider",
    "Provider",
]
