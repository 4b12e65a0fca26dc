"""The generic wire (``GeneratorInfo.custom``): any server that speaks the ``/chat/completions`` dialect.

By default no usage opt-in key is sent (servers that do not know ``stream_options`` may refuse it), so a
stream does not wait past its finish reason for a usage event; usage that arrives anyway, after the finish
reason or with it, is still read (vLLM, LiteLLM and llama.cpp's server send one). ``stream_usage=True`` sends
``stream_options.include_usage`` on every stream and waits for the usage chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.messages import Message, MessageContent, Role
from minillm.core.providers.base import WireRequest
from minillm.core.providers.openai_wire import OpenAIDialect, ReasoningShape, UsageOptIn
from minillm.core.structured import prompt_instruction

SchemaMode = Literal["json_schema", "prompt"]

__all__ = ["GenericProvider"]


@attrs.frozen
class GenericProvider(OpenAIDialect):
    """An OpenAI-compatible server (vLLM, llama.cpp, LiteLLM, ...).

    ``legacy_token_limit=True`` sends the token limit as ``max_tokens`` instead of ``max_completion_tokens``,
    for servers that only know the older key. ``reasoning`` picks how a ``ReasoningConfig`` is sent:
    ``"openai"`` (``reasoning_effort``, the default) or ``"openrouter"`` (a ``reasoning`` object, for servers
    that take a token budget); pass such a provider with ``GeneratorInfo.with_provider``. Reasoning text is
    read from ``reasoning_content`` or ``reasoning`` either way. ``stream_usage=True`` asks for usage on every
    stream and waits for it.

    ``schema_mode`` is how a reply schema (``with_schema``) is sent: ``"json_schema"`` as a ``response_format``
    (vLLM, llama.cpp, LM Studio, Ollama and LiteLLM take it), or ``"prompt"`` for servers that refuse it: the
    schema goes into the system prompt and the reply is repaired and validated as usual (set it with
    ``GeneratorInfo.with_schema_mode("prompt")``).
    """

    usage_opt_in: ClassVar[UsageOptIn] = "none"
    strict_schemas: ClassVar[bool] = False

    legacy_token_limit: bool = False
    reasoning: ReasoningShape = "openai"
    stream_usage: bool = False
    schema_mode: SchemaMode = attrs.field(default="json_schema", kw_only=True)

    @schema_mode.validator
    def _check_mode(self, _attribute: Any, value: Any) -> None:
        if value not in ("json_schema", "prompt"):
            raise InvalidParameterError(f"schema_mode must be 'json_schema' or 'prompt', got {value!r}")

    @property
    def name(self) -> str:
        return "generic"

    def token_limit_key(self) -> str:
        return "max_tokens" if self.legacy_token_limit else "max_completion_tokens"

    def reasoning_shape(self) -> ReasoningShape:
        return self.reasoning

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        """The dialect's body; in ``prompt`` schema mode the schema rides in the system prompt instead, and with
        ``stream_usage`` a stream asks for its usage."""
        if request.schema is not None and self.schema_mode == "prompt":
            instruction = prompt_instruction(request.schema)
            messages = list(request.messages)
            if messages and messages[0].role is Role.SYSTEM:
                text = messages[0].content.all_text()
                messages[0] = attrs.evolve(messages[0], content=MessageContent(f"{text}\n\n{instruction}"))
            else:
                messages.insert(0, Message.system(instruction))
            request = attrs.evolve(request, messages=messages, schema=None)
        body = super().build_body(request)
        if self.stream_usage and request.stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """Wait for a usage chunk after the finish reason only when it was asked for (``stream_usage``)."""
        return self.stream_usage
