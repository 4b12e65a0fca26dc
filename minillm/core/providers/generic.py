"""The generic wire (``GeneratorInfo.custom``): any server that speaks the ``/chat/completions`` dialect.

By default no usage opt-in key is sent (servers that do not know ``stream_options`` may refuse it), so a
stream does not wait past its finish reason for a usage event; usage that arrives anyway, after the finish
reason or with it, is still read (vLLM, LiteLLM and llama.cpp's server send one). ``stream_usage=True`` sends
``stream_options.include_usage`` on every stream and waits for the usage chunk.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.messages import Message, MessageContent, Role
from minillm.core.providers.base import WireRequest
from minillm.core.providers.openai_wire import OpenAIDialect, ReasoningShape, UsageOptIn
from minillm.core.providers.profiles import CompatibilityProfile, ProfileWarning, profile_named
from minillm.core.structured import prompt_instruction

SchemaMode = Literal["json_schema", "prompt"]

__all__ = ["GenericProvider"]


def _profile(value: str | CompatibilityProfile | None) -> CompatibilityProfile | None:
    return None if value is None else profile_named(value)


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

    ``profile`` (a ``CompatibilityProfile``, see ``GenericProvider.for_profile``) fits the body to one server:
    its token-limit key and reasoning shape replace ``legacy_token_limit`` and ``reasoning``, it asks for usage
    on streams where the server takes ``stream_options``, and it leaves out what the server refuses.
    """

    usage_opt_in: ClassVar[UsageOptIn] = "none"
    strict_schemas: ClassVar[bool] = False

    legacy_token_limit: bool = False
    reasoning: ReasoningShape = "openai"
    stream_usage: bool = False
    schema_mode: SchemaMode = attrs.field(default="json_schema", kw_only=True)
    profile: CompatibilityProfile | None = attrs.field(default=None, kw_only=True, converter=_profile)

    def __attrs_post_init__(self) -> None:
        profile = self.profile
        if profile is not None and self.stream_usage and not profile.stream_options:
            warnings.warn(
                f"stream_usage is ignored: the {profile.name} server does not take stream_options, so a stream "
                "cannot ask for its usage (usage the server sends unasked is still read)",
                ProfileWarning,
                stacklevel=3,
            )

    @classmethod
    def for_profile(cls, profile: str | CompatibilityProfile, **kwargs: Any) -> GenericProvider:
        """The generic wire fitted to a named server (``"ollama"``, ``"vllm"``, ``"llama.cpp"``,
        ``"lmstudio"``, ``"deepseek"``, ``"groq"``, ``"gemini"``) or to a ``CompatibilityProfile`` of your own."""
        return cls(profile=profile_named(profile), **kwargs)

    def with_profile(self, profile: str | CompatibilityProfile | None) -> GenericProvider:
        """This wire with another compatibility profile (None: the plain generic wire)."""
        return attrs.evolve(self, profile=None if profile is None else profile_named(profile))

    @schema_mode.validator
    def _check_mode(self, _attribute: Any, value: Any) -> None:
        if value not in ("json_schema", "prompt"):
            raise InvalidParameterError(f"schema_mode must be 'json_schema' or 'prompt', got {value!r}")

    @property
    def name(self) -> str:
        return "generic"

    def token_limit_key(self) -> str:
        if self.profile is not None:
            return self.profile.token_limit_key
        return "max_tokens" if self.legacy_token_limit else "max_completion_tokens"

    def reasoning_shape(self) -> ReasoningShape:
        if self.profile is not None and self.profile.reasoning is not None:
            return self.profile.reasoning
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
        profile = self.profile
        if profile is None:
            body = super().build_body(request)
            if self.stream_usage and request.stream:
                body["stream_options"] = {"include_usage": True}
            return body
        return self._profile_body(profile, request)

    def _profile_body(self, profile: CompatibilityProfile, request: WireRequest) -> dict[str, Any]:
        """The body fitted to ``profile``: refused parameters and message names left out, usage asked for on
        streams where the server takes ``stream_options``; a stream with tools refused where it cannot stream
        them."""
        params = profile.fit(request.params, request.explicit)
        if request.stream and params.tools and not profile.stream_tools:
            raise InvalidParameterError(
                f"the {profile.name} server cannot stream tool calls (its compatibility profile says so): call "
                "complete() for a request that offers tools, or drop the tools from this stream; if your build "
                "does stream them, use attrs.evolve(profile, stream_tools=True) as the profile"
            )
        body = super().build_body(attrs.evolve(request, params=params, include_usage=False))
        if not profile.message_names and any(m.name is not None for m in request.messages):
            profile.note_dropped("messages[].name", explicit=True)
            for message in body["messages"]:
                message.pop("name", None)
        if request.stream and profile.stream_options and (self.stream_usage or request.include_usage):
            body["stream_options"] = {"include_usage": True}
        return body

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """Wait for a usage chunk after the finish reason only when it was asked for: ``stream_usage``, or, with
        a profile whose server takes ``stream_options``, whenever usage is wanted."""
        profile = self.profile
        if profile is None:
            return self.stream_usage
        return profile.stream_options and (self.stream_usage or include_usage)
