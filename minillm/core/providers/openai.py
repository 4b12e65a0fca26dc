"""The OpenAI wire (``GeneratorInfo.openai``): the shared ``/chat/completions`` dialect."""

from __future__ import annotations

import attrs

from minillm.core.providers.base import join_url

__all__ = ["OpenAIProvider"]


@attrs.frozen
class OpenAIProvider:
    """OpenAI's Chat Completions API."""

    @property
    def name(self) -> str:
        return "openai"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/chat/completions")
