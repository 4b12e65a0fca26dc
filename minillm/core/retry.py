"""The retry policy: which failures are worth another attempt, and how long to wait before it.

It lives in one small module of the sans-IO core so that both transports retry exactly alike: tenacity runs
the loop in ``SyncClient`` and ``AsyncClient`` and asks this policy what to do; the policy itself never
sleeps. Failures that another attempt could fix are retried after a fixed or a doubling backoff, and two
things lengthen the wait: a server's advertised wait (``retry-after-ms``, ``Retry-After`` in seconds or as an
HTTP date), up to ``MAX_RETRY_AFTER`` seconds (a longer one means the error is raised at once, ``retry_after``
on it), and a little random jitter on top of the backoff, never shortening it, so that many clients that
failed together do not retry in lockstep.
"""

from __future__ import annotations

import email.utils
import math
import random as _random
import re
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from typing import TYPE_CHECKING

import attrs

from minillm.core import _validators as _v
from minillm.core.errors import (
    APIConnectionError,
    APIError,
    EmptyResponseError,
    JSONRepairError,
    MaxRetriesExceededError,
    MiniLLMError,
    NoJSONFoundError,
    StreamError,
)

if TYPE_CHECKING:
    from minillm.core.params import NodeCompletionParameters

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_ERRORS",
    "RETRYABLE_STATUS_CODES",
    "RetryPolicy",
    "give_up",
    "is_retryable",
    "parse_retry_after",
]

MAX_RETRY_AFTER = 60.0
"""The longest advertised wait (seconds) worth waiting for; a server asking for more gets its error raised."""

RETRYABLE_ERRORS: tuple[type[MiniLLMError], ...] = (
    APIConnectionError,  # includes APITimeoutError
    StreamError,
    # Replies rejected by post-processing (blank, no JSON, unrepairable): another sample may well be acceptable.
    EmptyResponseError,
    NoJSONFoundError,
    JSONRepairError,
)
"""Transient failures that are always retried (``APIError`` is decided by its status code)."""

RETRYABLE_STATUS_CODES = frozenset({408, 429})
"""Client-error statuses worth retrying; every status of 500 and above is retried too."""

# A delay: digits with an optional fraction. Stricter than float(), which also takes "inf", "1_0" and "-1".
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")

# 2**60 seconds outlasts any cap; it keeps the exponent from overflowing a float on absurd attempt numbers.
_MAX_DOUBLINGS = 60


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (lower-case), whatever case the mapping uses."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def _delay(value: str, scale: float) -> float | None:
    text = value.strip()
    if not _NUMBER.fullmatch(text):
        return None
    seconds = float(text) * scale
    return seconds if math.isfinite(seconds) else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait in seconds a response advertises, or ``None`` when it advertises none (or only garbage).

    ``retry-after-ms`` (milliseconds, may be fractional) wins over ``Retry-After``, which is either a number of
    seconds or an HTTP date; a date gives the seconds from ``now`` (default: the current time), never less
    than 0. Header names are matched case-insensitively.
    """
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        delay = _delay(ms, 0.001)
        if delay is not None:
            return delay
    value = _header(headers, "retry-after")
    if value is None:
        return None
    delay = _delay(value, 1.0)
    if delay is not None:
        return delay
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):  # 3.10 raises TypeError on garbage
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone information
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt could succeed after ``exc``.

    Retried: ``APIError`` with status 408, 429 or 500 and above (unless it advertises a wait longer than
    ``MAX_RETRY_AFTER``), connection failures and timeouts, broken streams, and the content rejections of
    post-processing. Not retried: any other status (the request itself is wrong), bad parameters,
    configuration, malformed answers, and anything that is not a ``MiniLLMError``.
    """
    if isinstance(exc, APIError):
        if not (exc.status_code in RETRYABLE_STATUS_CODES or exc.status_code >= 500):
            return False
        return exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
    return isinstance(exc, RETRYABLE_ERRORS)


_NON_NEGATIVE = _v.number_in(0, optional=False)


@attrs.frozen
class RetryPolicy:
    """How a completion is retried: how many attempts in all, and the wait before each new one.

    ``attempt_number`` counts as tenacity does: 1 means the first attempt just failed. The wait is the
    backoff (``back_off_time`` each time, or doubling from it up to ``max_back_off`` with ``exp_back_off``),
    raised to the server's advertised ``retry_after`` when there is one, plus a jitter of up to ``jitter``
    times the backoff. ``random`` returns a number in [0, 1) and can be fixed in tests.
    """

    max_attempts: int = attrs.field(default=5, validator=_v.int_at_least(1, optional=False))
    exp_back_off: bool = False
    back_off_time: float = attrs.field(default=1.0, validator=_NON_NEGATIVE)
    max_back_off: float = attrs.field(default=15.0, validator=_NON_NEGATIVE)
    jitter: float = attrs.field(default=0.1, validator=_NON_NEGATIVE)
    random: Callable[[], float] = attrs.field(default=_random.random, eq=False, repr=False)

    @classmethod
    def from_params(
        cls,
        params: NodeCompletionParameters,
        *,
        jitter: float = 0.1,
        random: Callable[[], float] | None = None,
    ) -> RetryPolicy:
        """The policy of a request: ``retry`` extra attempts after the first, with its backoff settings."""
        return cls(
            max_attempts=params.retry + 1,
            exp_back_off=params.exp_back_off,
            back_off_time=params.back_off_time,
            max_back_off=params.max_back_off,
            jitter=jitter,
            random=_random.random if random is None else random,
        )

    def should_retry(self, exc: BaseException, attempt_number: int) -> bool:
        """Whether to make another attempt after attempt ``attempt_number`` failed with ``exc``."""
        return attempt_number < self.max_attempts and is_retryable(exc)

    def backoff(self, attempt_number: int) -> float:
        """The wait after attempt ``attempt_number`` failed, before the advertised wait and the jitter."""
        if not self.exp_back_off:
            return self.back_off_time
        doublings = min(max(attempt_number - 1, 0), _MAX_DOUBLINGS)
        return min(self.back_off_time * 2.0**doublings, self.max_back_off)

    def wait_seconds(self, attempt_number: int, exc: BaseException | None = None) -> float:
        """The seconds to sleep after attempt ``attempt_number`` failed with ``exc``, before the next one.

        At least the backoff and at least the wait ``exc`` advertises (capped at ``MAX_RETRY_AFTER``), plus
        a jitter in [0, ``jitter`` * backoff].
        """
        base = self.backoff(attempt_number)
        wait = base
        retry_after = exc.retry_after if isinstance(exc, APIError) else None
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
        return wait + self.jitter * base * self.random()


def give_up(last_error: BaseException, attempts: int) -> MaxRetriesExceededError:
    """The error to raise when every attempt failed: it names the attempts and has ``last_error`` as cause."""
    return MaxRetriesExceededError(last_error, attempts)
