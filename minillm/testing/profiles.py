"""Server emulations for ``MockLLMServer(profile=...)``: each OpenAI-compatible server's way with a body.

An emulation knows which top-level keys a server reads and what it does with the others: a strict server
(Groq, Google's OpenAI-compatible endpoint) refuses an unknown key with its own status and error body; a
lenient one (Ollama, vLLM, llama.cpp, LM Studio, DeepSeek) ignores it, and ``ignored_keys`` says which keys it
would ignore. Value-level refusals are emulated too: LM Studio's ``json_object`` response format, llama.cpp's
streamed tool calls (builds before May 2025), Groq's ``messages[].name``, DeepSeek's ``reasoning_content``
sent back. docs/providers.md cites the source of each.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.testing.replies import RecordedRequest, Reply

__all__ = ["EMULATIONS", "ServerEmulation", "emulation_for"]

# The chat-completions keys of OpenAI's own API that most compatible servers read.
_OPENAI_KEYS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "logprobs",
        "top_logprobs",
        "logit_bias",
        "user",
    }
)

Refusal = Callable[[str], Reply]
"""The server's answer to a request that carries the unknown key it is given."""


def _openai_style(status: int, kind: str) -> Refusal:
    def refuse(message: str) -> Reply:
        return Reply.error(status, body={"error": {"message": message, "type": kind}})

    return refuse


def _google_refusal(message: str) -> Reply:
    # Google's endpoint wraps its error object in a list.
    error = {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
    return Reply.error(400, body=json.dumps([error]), headers={"Content-Type": "application/json"})


def _messages(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def _groq_values(body: Mapping[str, Any]) -> Reply | None:
    for i, message in enumerate(_messages(body)):
        if "name" in message:
            role = message.get("role")
            text = f"'messages.{i}' : for 'role:{role}' the following must be satisfied[('messages.{i}' : property "
            return _openai_style(400, "invalid_request_error")(text + "'name' is unsupported)]")
    n = body.get("n")
    if n is not None and n != 1:
        return _openai_style(400, "invalid_request_error")("'n' : n must be 1 on this server")
    return None


def _lmstudio_values(body: Mapping[str, Any]) -> Reply | None:
    form = body.get("response_format")
    if isinstance(form, Mapping) and form.get("type") not in ("json_schema", "text"):
        return Reply.error(400, body={"error": "'response_format.type' must be 'json_schema' or 'text'"})
    return None


def _llamacpp_values(body: Mapping[str, Any]) -> Reply | None:
    if body.get("stream") is True and body.get("tools"):
        error = {"code": 500, "message": "Cannot use tools with stream", "type": "server_error"}
        return Reply.error(500, body={"error": error})
    return None


def _deepseek_values(body: Mapping[str, Any]) -> Reply | None:
    if any("reasoning_content" in m for m in _messages(body)):
        message = "reasoning_content is not accepted in input messages; remove it from the messages you send"
        return _openai_style(400, "invalid_request_error")(message)
    return None


@attrs.frozen
class ServerEmulation:
    """One server's handling of a chat-completions body: the keys it reads, whether it refuses the others
    (``refuse_unknown``, answering with ``refusal``) or ignores them, and its checks of values."""

    name: str
    known: frozenset[str]
    refuse_unknown: bool = False
    refusal: Refusal = attrs.field(factory=lambda: _openai_style(400, "invalid_request_error"))
    values: Callable[[Mapping[str, Any]], Reply | None] | None = None

    def ignored_keys(self, body: Any) -> list[str]:
        """The top-level keys of ``body`` this server does not read (a lenient server ignores them)."""
        return sorted(set(body) - self.known) if isinstance(body, Mapping) else []

    def check(self, request: RecordedRequest) -> Reply | None:
        """The server's refusal of ``request``, or None when it would answer it."""
        body = request.json
        if not isinstance(body, Mapping):
            return None
        if self.refuse_unknown:
            unknown = self.ignored_keys(body)
            if unknown:
                return self.refusal(unknown[0])
        return self.values(body) if self.values is not None else None


def _google_message(key: str) -> Reply:
    return _google_refusal(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')


def _groq_message(key: str) -> Reply:
    return _openai_style(400, "invalid_request_error")(f"property '{key}' is unsupported")


_ALL = (
    ServerEmulation(
        "ollama",
        known=frozenset(
            {
                "model",
                "messages",
                "frequency_penalty",
                "presence_penalty",
                "response_format",
                "seed",
                "stop",
                "stream",
                "stream_options",
                "temperature",
                "top_p",
                "max_tokens",
                "tools",
                "tool_choice",
                "reasoning_effort",
                "reasoning",
                "logprobs",
                "top_logprobs",
            }
        ),
    ),
    ServerEmulation(
        "vllm",
        known=_OPENAI_KEYS
        | {"top_k", "min_p", "repetition_penalty", "chat_template_kwargs", "guided_json", "structured_outputs"},
    ),
    ServerEmulation(
        "llama.cpp",
        known=(_OPENAI_KEYS - {"max_completion_tokens"})
        | {"top_k", "min_p", "repeat_penalty", "n_predict", "reasoning_format", "chat_template_kwargs"},
        values=_llamacpp_values,
    ),
    ServerEmulation(
        "lmstudio",
        known=_OPENAI_KEYS | {"top_k", "repeat_penalty", "ttl", "draft_model"},
        values=_lmstudio_values,
    ),
    ServerEmulation(
        "deepseek",
        known=frozenset(
            {
                "model",
                "messages",
                "frequency_penalty",
                "max_tokens",
                "presence_penalty",
                "response_format",
                "stop",
                "stream",
                "stream_options",
                "temperature",
                "top_p",
                "tools",
                "tool_choice",
                "logprobs",
                "top_logprobs",
                "thinking",
            }
        ),
        values=_deepseek_values,
    ),
    ServerEmulation(
        "groq",
        known=(_OPENAI_KEYS - {"logprobs", "top_logprobs", "logit_bias"})
        | {"reasoning_format", "include_reasoning", "service_tier"},
        refuse_unknown=True,
        refusal=_groq_message,
        values=_groq_values,
    ),
    ServerEmulation(
        "gemini",
        known=(_OPENAI_KEYS - {"frequency_penalty", "logit_bias"}) | {"extra_body"},
        refuse_unknown=True,
        refusal=_google_message,
    ),
)

EMULATIONS: Mapping[str, ServerEmulation] = MappingProxyType({e.name: e for e in _ALL})
"""One emulation per named compatibility profile."""


def emulation_for(profile: str) -> ServerEmulation:
    """The emulation of the server a named compatibility profile is for."""
    found = EMULATIONS.get(profile)
    if found is None:
        raise InvalidParameterError(f"no emulation of {profile!r}; the test server emulates {', '.join(EMULATIONS)}")
    return found
