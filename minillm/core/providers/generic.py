"""The generic wire (``GeneratorInfo.custom``): any server that speaks the ``/chat/completions`` dialect.

By default no usage opt-in key is sent (servers that do not know ``stream_options`` may refuse it), so a
stream does not wait past its finish reason for a usage event; usage that arrives anyway, after the finish
reason or with it, is still read (vLLM, LiteLLM and llama.cpp's server send one). ``stream_usage=True`` sends
``stream_options.include_usage`` on every stream and waits for the usage chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from minillm.core.providers.base import WireRequest
from minillm.core.providers.openai_wire import OpenAIDialect, UsageOptIn

__all__ = ["GenericProvider"]


@attrs.frozen
class GenericProvider(OpenAIDialect):
    """An OpenAI-compatible server (vLLM, llama.cpp, LiteLLM, ...).

    ``legacy_token_limit=True`` sends the token limit as ``max_tokens`` instead of ``max_completion_tokens``,
    for servers that only know the older key. ``stream_usage=True`` asks for usage on every stream and waits
    for it.
    """

    usage_opt_in: ClassVar[UsageOptIn] = "none"

    legacy_token_limit: bool = False
    stream_usage: bool = False

    @property
    def name(self) -> str:
        return "generic"

    def token_limit_key(self) -> str:
        return "max_tokens" if self.legacy_token_limit else "max_completion_tokens"

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        body = super().build_body(request)
        if self.stream_usage and request.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """Wait for a usage chunk after the finish reason only when it was asked for (``stream_usage``)."""
        return self.stream_usage
