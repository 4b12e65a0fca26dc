"""The generic wire (``GeneratorInfo.custom``): any server that speaks the ``/chat/completions`` dialect.

No usage opt-in key is sent (servers that do not know ``stream_options`` may refuse it), so a stream never
waits past its finish reason for a usage event; usage that arrives anyway is still read.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from minillm.core.providers.openai_wire import OpenAIDialect, ReasoningShape, UsageOptIn

__all__ = ["GenericProvider"]


@attrs.frozen
class GenericProvider(OpenAIDialect):
    """An OpenAI-compatible server (vLLM, llama.cpp, LiteLLM, ...).

    ``legacy_token_limit=True`` sends the token limit as ``max_tokens`` instead of ``max_completion_tokens``,
    for servers that only know the older key. ``reasoning`` picks how a ``ReasoningConfig`` is sent:
    ``"openai"`` (``reasoning_effort``, the default) or ``"openrouter"`` (a ``reasoning`` object, for servers
    that take a token budget); pass such a provider with ``GeneratorInfo.with_provider``. Reasoning text is
    read from ``reasoning_content`` or ``reasoning`` either way.
    """

    usage_opt_in: ClassVar[UsageOptIn] = "none"

    legacy_token_limit: bool = False
    reasoning: ReasoningShape = "openai"

    @property
    def name(self) -> str:
        return "generic"

    def token_limit_key(self) -> str:
        return "max_tokens" if self.legacy_token_limit else "max_completion_tokens"

    def reasoning_shape(self) -> ReasoningShape:
        return self.reasoning
