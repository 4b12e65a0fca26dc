"""Compatibility profiles: what one OpenAI-compatible server (Ollama, vLLM, Groq, ...) takes and refuses.

A ``CompatibilityProfile`` is a frozen value the generic wire (``GenericProvider``) consults when it builds a
body: which key carries the token limit, whether ``stream_options`` may be sent, how reasoning is asked for,
which parameters the server refuses or ignores, whether it takes ``messages[].name``, and whether it can
stream tool calls. A parameter the profile leaves out is dropped from the body: with a ``warnings.warn``
when the request (or the client's ``default_params``) set it, with a DEBUG line under the ``minillm`` logger
when it came from the generator's ``default_params`` or the library's defaults. Nothing is dropped silently.

The named profiles are ``PROFILES``; each quirk is cited in docs/providers.md.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from minillm.core.errors import InvalidParameterError

if TYPE_CHECKING:
    from minillm.core.params import CompletionParameters
    from minillm.core.providers.openai_wire import ReasoningShape

__all__ = ["PROFILES", "CompatibilityProfile", "ProfileWarning", "profile_named"]

_log = logging.getLogger("minillm")

TokenLimitKey = Literal["max_tokens", "max_completion_tokens"]

# The CompletionParameters fields a profile may refuse (``extra`` is the user's own escape hatch: never touched).
_DROPPABLE = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "stop",
        "seed",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
    }
)


class ProfileWarning(UserWarning):
    """A parameter you set was left out of the request because the server's compatibility profile says the
    server refuses (or ignores) it."""


def _names(value: Iterable[str]) -> frozenset[str]:
    names = frozenset(value)
    unknown = sorted(names - _DROPPABLE)
    if unknown:
        raise InvalidParameterError(
            f"a compatibility profile can leave out these parameters only: {', '.join(sorted(_DROPPABLE))}; "
            f"got {', '.join(unknown)}"
        )
    return names


def _check_key(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("max_tokens", "max_completion_tokens"):
        raise InvalidParameterError(f"token_limit_key must be 'max_tokens' or 'max_completion_tokens', got {value!r}")


def _check_reasoning(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in (None, "openai", "openrouter"):
        raise InvalidParameterError(f"reasoning must be 'openai', 'openrouter' or None, got {value!r}")


@attrs.frozen
class CompatibilityProfile:
    """What one OpenAI-compatible server takes: pass it (or its name) as ``GeneratorInfo.custom(...,
    profile=...)``.

    - ``token_limit_key``: the body key of ``max_tokens``.
    - ``stream_options``: whether ``stream_options.include_usage`` may be sent, so a stream can ask for usage
      (when costs are tracked, or with ``stream_usage``).
    - ``reasoning``: how a ``ReasoningConfig`` is sent (``"openai"``: ``reasoning_effort``; ``"openrouter"``:
      a ``reasoning`` object), or None when the server takes no reasoning request (it is dropped).
    - ``reasoning_field``: the reply key that carries reasoning text, None when the server sends none apart
      (informative: both ``reasoning`` and ``reasoning_content`` are always read).
    - ``unsupported``: ``CompletionParameters`` fields the server refuses or ignores; they are dropped.
    - ``message_names``: whether ``messages[].name`` is accepted (else names are dropped).
    - ``stream_tools``: whether tool calls can be streamed; when not, a stream that offers tools is refused
      before it is sent (use ``complete()``).
    """

    name: str
    token_limit_key: TokenLimitKey = attrs.field(default="max_completion_tokens", validator=_check_key)
    stream_options: bool = False
    reasoning: ReasoningShape | None = attrs.field(default="openai", validator=_check_reasoning)
    reasoning_field: str | None = "reasoning_content"
    unsupported: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    message_names: bool = True
    stream_tools: bool = True

    @classmethod
    def named(cls, name: str) -> CompatibilityProfile:
        """The named profile: ``"ollama"``, ``"vllm"``, ``"llama.cpp"``, ``"lmstudio"``, ``"deepseek"``,
        ``"groq"`` or ``"gemini"``."""
        return profile_named(name)

    def fit(self, params: CompletionParameters, explicit: frozenset[str] | None) -> CompletionParameters:
        """``params`` without what this server refuses. ``explicit`` names the fields the caller set (None: take
        all as set); dropping one of those warns (``ProfileWarning``), any other is noted at DEBUG."""
        dropped = set(self.unsupported)
        if self.reasoning is None:
            dropped.add("reasoning")
        changes = {name: None for name in sorted(dropped) if getattr(params, name) is not None}
        for name in changes:
            self.note_dropped(name, explicit is None or name in explicit)
        return attrs.evolve(params, **changes) if changes else params

    def note_dropped(self, what: str, explicit: bool) -> None:
        """Say that ``what`` was left out of a request: a warning when the caller set it, else a DEBUG line."""
        if explicit:
            warnings.warn(
                f"{what} was left out of the request: the {self.name} server refuses or ignores it (its "
                f"compatibility profile says so); remove it from the parameters, or use a profile that takes it",
                ProfileWarning,
                stacklevel=2,
            )
        else:
            _log.debug("%s left out of the request: the %s profile's server does not take it", what, self.name)


_ALL = (
    CompatibilityProfile(
        "ollama",
        token_limit_key="max_tokens",
        stream_options=True,
        reasoning="openai",
        reasoning_field="reasoning",
        unsupported={"top_k", "repetition_penalty", "parallel_tool_calls"},
    ),
    CompatibilityProfile(
        "vllm",
        token_limit_key="max_tokens",
        stream_options=True,
        reasoning="openai",
        reasoning_field="reasoning_content",
    ),
    CompatibilityProfile(
        "llama.cpp",
        token_limit_key="max_tokens",
        stream_options=False,
        reasoning=None,
        reasoning_field="reasoning_content",
        unsupported={"repetition_penalty"},
        stream_tools=False,
    ),
    CompatibilityProfile(
        "lmstudio",
        token_limit_key="max_tokens",
        stream_options=False,
        reasoning="openai",
        reasoning_field="reasoning_content",
        unsupported={"response_format", "repetition_penalty"},
    ),
    CompatibilityProfile(
        "deepseek",
        token_limit_key="max_tokens",
        stream_options=True,
        reasoning=None,
        reasoning_field="reasoning_content",
        unsupported={"top_k", "repetition_penalty", "seed", "parallel_tool_calls"},
    ),
    CompatibilityProfile(
        "groq",
        token_limit_key="max_completion_tokens",
        stream_options=True,
        reasoning="openai",
        reasoning_field="reasoning",
        unsupported={"top_k", "repetition_penalty"},
        message_names=False,
    ),
    CompatibilityProfile(
        "gemini",
        token_limit_key="max_tokens",
        stream_options=True,
        reasoning="openai",
        reasoning_field=None,
        unsupported={"top_k", "repetition_penalty", "frequency_penalty"},
    ),
)

PROFILES: Mapping[str, CompatibilityProfile] = MappingProxyType({p.name: p for p in _ALL})
"""The named profiles: ``ollama``, ``vllm``, ``llama.cpp``, ``lmstudio``, ``deepseek``, ``groq``, ``gemini``
(Google's OpenAI-compatible endpoint)."""


def profile_named(profile: str | CompatibilityProfile) -> CompatibilityProfile:
    """The profile called ``profile`` (a ``CompatibilityProfile`` is returned as it is)."""
    if isinstance(profile, CompatibilityProfile):
        return profile
    found = PROFILES.get(profile) if isinstance(profile, str) else None
    if found is None:
        raise InvalidParameterError(
            f"unknown compatibility profile {profile!r}; the profiles are {', '.join(PROFILES)} "
            "(or pass a CompatibilityProfile of your own)"
        )
    return found
