"""The OpenRouter wire (``GeneratorInfo.openrouter``): the ``/chat/completions`` dialect plus routing,
attribution headers and native cost."""

from __future__ import annotations

import attrs

from minillm.core.providers.base import join_url

__all__ = ["OpenRouterProvider"]


@attrs.frozen
class OpenRouterProvider:
    """OpenRouter's OpenAI-compatible API."""

    @property
    def name(self) -> str:
        return "openrouter"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/chat/completions")
