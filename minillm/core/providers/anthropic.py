"""The native Anthropic wire (``GeneratorInfo.anthropic`` / ``claude_subscription``): ``/v1/messages``."""

from __future__ import annotations

import attrs

from minillm.core.providers.base import join_url

__all__ = ["AnthropicProvider"]


@attrs.frozen
class AnthropicProvider:
    """Anthropic's Messages API."""

    @property
    def name(self) -> str:
        return "anthropic"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/v1/messages")
