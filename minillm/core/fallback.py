"""Fallback generators: when one model fails in a way another may not, ask the next.

``FallbackGenerator([primary, backup, ...])`` is accepted wherever a completion takes a generator. The clients
try the generators in order and move on only for the failures named in ``on`` (by default: server errors that
outlived their retries, rate limits beyond the retry policy, connection failures and context-length refusals).
Anything else (a bad key, a bad parameter) is the caller's to fix, so it is raised at once. The decision is
made here; the clients only loop. A stream is never switched once it has been handed over: only its start
can fall back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import (
    APIConnectionError,
    BadRequestError,
    EmptyResponseError,
    InvalidParameterError,
    JSONRepairError,
    MaxRetriesExceededError,
    NoJSONFoundError,
    RateLimitError,
    SchemaValidationError,
    ServerError,
)
from minillm.core.generator import GeneratorInfo

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackGenerator", "FallbackReason", "FallbackRun", "fallback_reason"]

ATTEMPTS_KEY = "fallback_attempts"
"""The reply node's metadata key that lists every generator tried, in order."""


class FallbackReason(enum.Enum):
    """The kinds of failure a ``FallbackGenerator`` can move on from."""

    SERVER_ERROR = "server_error"  # 5xx, after the retries
    RATE_LIMITED = "rate_limited"  # 429 beyond the retry policy (or a wait longer than its cap)
    CONNECTION = "connection"  # no answer: refused, reset, timed out
    CONTEXT_LENGTH = "context_length"  # the prompt is too long for this model
    EMPTY_REPLY = "empty_reply"  # a blank reply refused by crash_on_empty_response
    UNPARSABLE_REPLY = "unparsable_reply"  # no usable JSON, or never matching the schema


DEFAULT_FALLBACK_ON = frozenset(
    {
        FallbackReason.SERVER_ERROR,
        FallbackReason.RATE_LIMITED,
        FallbackReason.CONNECTION,
        FallbackReason.CONTEXT_LENGTH,
    }
)
"""What a ``FallbackGenerator`` moves on from unless told otherwise: failures of the provider, not of the reply."""

_CONTEXT_LENGTH_SIGNS = (
    "context_length_exceeded",  # OpenAI's error code
    "maximum context length",  # OpenAI and OpenAI-compatible servers' message
    "context length",
    "context window",
    "prompt is too long",  # Anthropic's message
    "too many tokens",
)


def fallback_reason(error: BaseException) -> FallbackReason | None:
    """Which kind of failure ``error`` is, or None when it is not one to fall back from.

    Retried failures arrive wrapped in ``MaxRetriesExceededError``; the last error inside is what counts.
    """
    if isinstance(error, MaxRetriesExceededError):
        error = error.last_error
    if isinstance(error, ServerError):
        return FallbackReason.SERVER_ERROR
    if isinstance(error, RateLimitError):
        return FallbackReason.RATE_LIMITED
    if isinstance(error, APIConnectionError):
        return FallbackReason.CONNECTION
    if isinstance(error, BadRequestError):
        said = f"{error.message} {error.body}".lower()
        return FallbackReason.CONTEXT_LENGTH if any(sign in said for sign in _CONTEXT_LENGTH_SIGNS) else None
    if isinstance(error, EmptyResponseError):
        return FallbackReason.EMPTY_REPLY
    if isinstance(error, (NoJSONFoundError, JSONRepairError, SchemaValidationError)):
        return FallbackReason.UNPARSABLE_REPLY
    return None


def _generators(value: Iterable[GeneratorInfo]) -> tuple[GeneratorInfo, ...]:
    generators = tuple(value)
    if not generators:
        raise InvalidParameterError("FallbackGenerator needs at least one generator")
    for generator in generators:
        if not isinstance(generator, GeneratorInfo):
            raise InvalidParameterError(
                f"FallbackGenerator takes GeneratorInfo values, got {type(generator).__name__}; nest the "
                "generators of another FallbackGenerator by listing them"
            )
    return generators


def _reasons(value: Iterable[FallbackReason | str] | None) -> frozenset[FallbackReason]:
    if value is None:
        return DEFAULT_FALLBACK_ON
    try:
        return frozenset(FallbackReason(reason) for reason in value)
    except ValueError as e:
        known = ", ".join(reason.value for reason in FallbackReason)
        raise InvalidParameterError(f"unknown fallback reason in on=: {e}; use FallbackReason values ({known})") from e


@attrs.frozen
class FallbackGenerator:
    """Generators tried in order: the next one is asked when the last failed for a reason in ``on``.

    Each generator keeps its own retry policy (the retries of one run before the next is tried); every
    attempt is listed in the reply node's ``metadata["fallback_attempts"]``.
    """

    generators: tuple[GeneratorInfo, ...] = attrs.field(converter=_generators)
    on: frozenset[FallbackReason] = attrs.field(default=None, converter=_reasons, kw_only=True)

    @property
    def name(self) -> str:
        """The names of the generators, joined by ``→`` (for logs and displays)."""
        return " → ".join(generator.name for generator in self.generators)

    @property
    def model(self) -> str:
        """The first generator's model: the one asked first."""
        return self.generators[0].model

    def __repr__(self) -> str:
        chain = ", ".join(f"{generator.name}:{generator.model}" for generator in self.generators)
        return f"FallbackGenerator([{chain}])"


class FallbackRun:
    """One fallback loop, as the clients drive it::

        for generator in run:
            try:
                result = attempt(generator)
            except MiniLLMError as error:
                run.failed(generator, error)  # raises unless the next generator should be tried
            else:
                run.succeeded(generator, reply_node)
                return result
        raise run.last_error()

    A plain ``GeneratorInfo`` is a run of one that falls back from nothing.
    """

    def __init__(self, generator: GeneratorInfo | FallbackGenerator) -> None:
        if isinstance(generator, FallbackGenerator):
            self._generators, self._on = generator.generators, generator.on
        else:
            self._generators, self._on = (generator,), frozenset()
        self._attempts: list[dict[str, Any]] = []
        self._last_error: BaseException | None = None

    def __iter__(self) -> Iterator[GeneratorInfo]:
        return iter(self._generators)

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Each attempt so far: the generator's name and model, and the error and reason of a failed one."""
        return list(self._attempts)

    def failed(self, generator: GeneratorInfo, error: BaseException) -> None:
        """Record a failed attempt; raise ``error`` unless it is a failure to move on from."""
        reason = fallback_reason(error)
        self._last_error = error
        self._attempts.append(
            {
                "generator": generator.name,
                "model": generator.model,
                "error": f"{type(error).__name__}: {error}",
                "reason": reason.value if reason is not None else None,
            }
        )
        if reason not in self._on:
            raise error

    def last_error(self) -> BaseException:
        """The error of the last generator, to raise when every generator failed."""
        if self._last_error is None:
            raise InvalidParameterError("no attempt has failed yet")
        return self._last_error

    def succeeded(self, generator: GeneratorInfo, node: ChatNode | None) -> None:
        """Record the attempt that answered, and list every attempt on the reply ``node`` (when there is one
        and more than one generator was possible)."""
        self._attempts.append({"generator": generator.name, "model": generator.model, "error": None, "reason": None})
        if node is not None and len(self._generators) > 1:
            node.metadata[ATTEMPTS_KEY] = self.attempts
