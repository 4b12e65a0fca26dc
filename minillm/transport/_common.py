"""What the two transports share that is not pure enough for the core: httpx error mapping, timeouts,
tenacity's settings, and the idle clock of a stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import tenacity

from minillm.core.errors import APIConnectionError, APITimeoutError, MiniLLMError
from minillm.core.retry import RetryPolicy, give_up, is_retryable

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "IdleClock",
    "map_transport_error",
    "request_timeout",
    "retry_settings",
    "stream_timeout",
]

def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minillm-sdk")
    except PackageNotFoundError:
        return "0"


DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
"""Ten minutes to read (long completions are slow), ten seconds to connect."""

DEFAULT_MAX_CONNECTIONS = 100

USER_AGENT = f"minillm/{_version()}"


def map_transport_error(exc: BaseException, what: str) -> MiniLLMError:
    """The minillm error for an httpx failure while doing ``what`` ("sending the request", ...)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__
        return APITimeoutError(f"timed out {what} ({kind}); raise the timeout or check the server")
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection failed {what}: {detail}")


def request_timeout(default: httpx.Timeout, seconds: float | None) -> httpx.Timeout:
    """A non-streaming request's timeout: ``timeout_secs`` bounds every phase when given."""
    if seconds is None:
        return default
    return httpx.Timeout(seconds)


def stream_timeout(default: httpx.Timeout, idle: float | None) -> httpx.Timeout:
    """A stream's timeout: the idle bound also bounds the wait for the response to start."""
    if idle is None:
        return default
    return httpx.Timeout(default.connect or idle, read=idle, write=idle, pool=idle)


class IdleClock:
    """Time since the last server-sent event, so keep-alive comments alone cannot keep a stream alive."""

    __slots__ = ("_last", "limit")

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self._last = time.monotonic()

    def event(self) -> None:
        self._last = time.monotonic()

    def expired(self) -> bool:
        return self.limit is not None and time.monotonic() - self._last > self.limit


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.wait_seconds(state.attempt_number, exc)

    return wait


def _retry_if(state: tenacity.RetryCallState) -> bool:
    outcome = state.outcome
    return outcome is not None and outcome.failed and is_retryable(outcome.exception())  # type: ignore[arg-type]


def _give_up(state: tenacity.RetryCallState) -> Any:
    outcome = state.outcome
    assert outcome is not None
    error = outcome.exception()
    assert error is not None
    raise give_up(error, state.attempt_number)


def retry_settings(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the core policy decides what is
    retried and how long to wait; exhausting the attempts raises ``MaxRetriesExceededError``; an error
    that is not worth retrying is raised as it is."""
    return {
        "stop": tenacity.stop_after_attempt(policy.max_attempts),
        "wait": _wait(policy),
        "retry": _retry_if,
        "retry_error_callback": _give_up,
        "reraise": False,
    }
