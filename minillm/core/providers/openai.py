"""The OpenAI wire (``GeneratorInfo.openai``): the shared ``/chat/completions`` dialect with OpenAI's defaults.

The token limit goes as ``max_completion_tokens``; usage is asked for only on streams
(``stream_options.include_usage``), since plain responses always carry it; media size hints are left out; no
cache markers (OpenAI caches prompts by itself) and no attribution headers.
"""

from __future__ import annotations

import attrs

from minillm.core.providers.openai_wire import OpenAIDialect

__all__ = ["OpenAIProvider"]


@attrs.frozen
class OpenAIProvider(OpenAIDialect):
    """OpenAI's Chat Completions API."""

    @property
    def name(self) -> str:
        return "openai"
