"""The generic wire (``GeneratorInfo.custom``): any server that speaks the ``/chat/completions`` dialect."""

from __future__ import annotations

import attrs

from minillm.core.providers.base import join_url

__all__ = ["GenericProvider"]


@attrs.frozen
class GenericProvider:
    """An OpenAI-compatible server (vLLM, llama.cpp, LiteLLM, ...).

    ``legacy_token_limit=True`` sends the token limit as ``max_tokens`` instead of ``max_completion_tokens``,
    for servers that only know the older key.
    """

    legacy_token_limit: bool = False

    @property
    def name(self) -> str:
        return "generic"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/chat/completions")
