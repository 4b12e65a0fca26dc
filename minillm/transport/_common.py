"""What the two transports share that is not pure enough for the core: httpx error mapping, timeouts,
tenacity's settings, the idle clock of a stream, and the log lines of the core's events.

tenacity is imported on the first retry, not with minillm.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from minillm._version import __version__
from minillm.core.errors import APIConnectionError, APITimeoutError, InvalidParameterError, MiniLLMError
from minillm.core.events import Event, RequestBuilt, ResponseReceived, StreamFinished, describe, public_url
from minillm.core.retry import RetryPolicy, give_up, is_retryable

if TYPE_CHECKING:
    import tenacity

__all__ = [
    "BODY_LOG_LEVEL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_TIMEOUT",
    "IdleClock",
    "check_client_options",
    "client_timeout",
    "hook_failed",
    "listening",
    "log_event",
    "map_transport_error",
    "max_bytes",
    "request_timeout",
    "retry_settings",
    "retry_wait",
    "stream_timeout",
    "transport_errors",
    "url_parser",
    "user_agent",
]


def user_agent() -> str:
    """``minillm/<version>``, the ``User-Agent`` of the clients minillm makes."""
    return f"minillm/{__version__}"


DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
"""Ten minutes to read (long completions are slow), ten seconds to connect."""

DEFAULT_MAX_CONNECTIONS = 100

DEFAULT_MAX_RESPONSE_BYTES = 128 * 2**20
"""The largest answer body read whole (128 MiB): far above any real completion, low enough that a server
sending an endless body cannot exhaust memory."""


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_timeout_value(value: object) -> bool:
    if value is None or isinstance(value, httpx.Timeout):
        return True
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is not None and isinstance(value, httpx2.Timeout):
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_client_options(*, timeout: object, max_connections: object, max_event_bytes: object) -> None:
    """Refuse, when a client is made, settings that would only fail later: ``InvalidParameterError``.

    A pool of no connections (``max_connections`` 0 or less) would make every request wait out the pool
    timeout, and a timeout that is not a number (``"x"``) would fail deep inside httpx at the first request.
    """
    if not _is_timeout_value(timeout):
        raise InvalidParameterError(
            f"timeout must be a positive, finite number of seconds, an httpx.Timeout or None (the default), "
            f"got {timeout!r}"
        )
    if not _is_count(max_connections):
        raise InvalidParameterError(f"max_connections must be an integer of at least 1, got {max_connections!r}")
    if not _is_count(max_event_bytes):
        raise InvalidParameterError(
            f"max_event_bytes must be an integer of at least 1 (bytes), got {max_event_bytes!r}"
        )


def transport_errors(http_client: object) -> tuple[type[BaseException], ...]:
    """The exceptions ``http_client`` raises when the transport fails: ``httpx.HTTPError``, and also
    ``httpx2.HTTPError`` when it is an httpx2 client (the fork the official SDKs use; same API).

    httpx2 is never imported here: an httpx2 client can only exist once its module is loaded.
    """
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is not None and isinstance(http_client, (httpx2.Client, httpx2.AsyncClient)):
        return (httpx.HTTPError, httpx2.HTTPError)
    return (httpx.HTTPError,)


def url_parser(http_client: object) -> Callable[[str], Any]:
    """How to hand a URL to ``http_client``: as its own ``URL`` value, parsed once per distinct URL.

    httpx parses a string URL more than once per request (about 30 us, measured in ``bench/``: more than
    the rest of minillm's own work for a request); a parsed ``URL`` is copied instead. Any other client gets
    the string.
    """
    for module in (httpx, sys.modules.get("httpx2")):
        if module is not None and isinstance(http_client, (module.Client, module.AsyncClient)):
            parse: Callable[[str], Any] = module.URL
            return functools.lru_cache(maxsize=256)(parse)
    return str


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TimeoutException):
        return True
    httpx2 = sys.modules.get("httpx2")
    return httpx2 is not None and isinstance(exc, httpx2.TimeoutException)


def map_transport_error(exc: BaseException, what: str) -> MiniLLMError:
    """The minillm error for an httpx (or httpx2) failure while doing ``what`` ("sending the request", ...)."""
    if _is_timeout(exc):
        kind = type(exc).__name__
        return APITimeoutError(f"timed out {what} ({kind}); raise the timeout or check the server")
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection failed {what}: {detail}")


def max_bytes(name: str, value: object) -> int:
    """``value`` as a byte limit named ``name``: a whole number of at least 1, else ``InvalidParameterError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"{name} must be a whole number of bytes, at least 1; got {value!r}")
    return value


def client_timeout(http_client: Any, timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """The default timeout of a transport over ``http_client``: ``timeout`` when given, else the client's own.

    It is of the client's own ``Timeout`` class (httpx or httpx2), which is the only kind that client takes.
    """
    if timeout is None:
        return http_client.timeout  # type: ignore[no-any-return]
    kind: type[httpx.Timeout] = type(http_client.timeout)
    if isinstance(timeout, (int, float)):
        return kind(timeout)
    return kind(connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool)


def request_timeout(default: httpx.Timeout, seconds: float | None) -> httpx.Timeout:
    """A non-streaming request's timeout: ``timeout_secs`` bounds every phase when given. It is of the same
    class as ``default`` (httpx's or httpx2's)."""
    if seconds is None:
        return default
    return type(default)(seconds)


def stream_timeout(default: httpx.Timeout, idle: float | None) -> httpx.Timeout:
    """A stream's timeout: the idle bound also bounds the wait for the response to start."""
    if idle is None:
        return default
    return type(default)(default.connect or idle, read=idle, write=idle, pool=idle)


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


def _wait(policy: RetryPolicy, done: int) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.wait_seconds(done + state.attempt_number, exc)

    return wait


def _retry_if(state: tenacity.RetryCallState) -> bool:
    outcome = state.outcome
    return outcome is not None and outcome.failed and is_retryable(outcome.exception())  # type: ignore[arg-type]


def _give_up(done: int) -> Callable[[tenacity.RetryCallState], Any]:
    def raise_it(state: tenacity.RetryCallState) -> Any:
        outcome = state.outcome
        assert outcome is not None
        error = outcome.exception()
        assert error is not None
        raise give_up(error, done + state.attempt_number)

    return raise_it


def retry_settings(
    policy: RetryPolicy, *, done: int = 0, before_sleep: Callable[[tenacity.RetryCallState], Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: the core policy decides what is
    retried and how long to wait; exhausting the attempts raises ``MaxRetriesExceededError``; an error
    that is not worth retrying is raised as it is. ``done`` attempts were already made (and failed) before
    tenacity took over, so it makes only the remaining ones and counts on from there. ``before_sleep`` is
    called before each wait (the client reports the retry to its hooks there)."""
    import tenacity

    settings: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(policy.max_attempts - done),
        "wait": _wait(policy, done),
        "retry": _retry_if,
        "retry_error_callback": _give_up(done),
        "reraise": False,
    }
    if before_sleep is not None:
        settings["before_sleep"] = before_sleep
    return settings


def retry_wait(policy: RetryPolicy, error: Exception) -> float:
    """After the first attempt failed with ``error``: the seconds to wait before tenacity makes the others
    (``retry_settings(policy, done=1)``). When there is nothing to retry it raises what tenacity would have:
    ``error`` itself when it is not worth retrying, ``MaxRetriesExceededError`` when no attempt is left."""
    if not is_retryable(error):
        raise error
    if policy.max_attempts <= 1:
        raise give_up(error, 1)
    return policy.wait_seconds(1, error)


# ----- logging the core's events ------------------------------------------------------------------------

_LOG = logging.getLogger("minillm")
_BODIES = logging.getLogger("minillm.bodies")
_HOOKS = logging.getLogger("minillm.hooks")

BODY_LOG_LEVEL = 5
"""The level of the ``minillm.bodies`` lines (request and reply bodies): below DEBUG, so turning DEBUG on for
``minillm`` shows the events without the bodies; set ``minillm.bodies`` to level 5 to see them too."""


def listening(hooks: tuple[Any, ...]) -> bool:
    """Whether a call's events are wanted: a hook is registered, or the ``minillm`` logger (or its bodies
    child) would write them. Nothing is built for a call nobody observes."""
    return bool(hooks) or _LOG.isEnabledFor(logging.DEBUG) or _BODIES.isEnabledFor(BODY_LOG_LEVEL)


def log_event(event: Event) -> None:
    """The DEBUG line of ``event`` under ``minillm``; with ``minillm.bodies`` at ``BODY_LOG_LEVEL``, also
    the request body (credential headers never: they are not in the body) and the reply's text."""
    if _LOG.isEnabledFor(logging.DEBUG):
        _LOG.debug("%s", describe(event))
    if not _BODIES.isEnabledFor(BODY_LOG_LEVEL):
        return
    if isinstance(event, RequestBuilt):
        body = event.request.body_bytes().decode("utf-8", errors="replace")
        _BODIES.log(BODY_LOG_LEVEL, "[%s] request body to %s: %s", event.call_id, public_url(event.request.url), body)
    elif isinstance(event, (ResponseReceived, StreamFinished)):
        r = event.response
        calls = [(c.name, c.arguments) for c in r.tool_calls]
        _BODIES.log(BODY_LOG_LEVEL, "[%s] reply text: %r tool calls: %r", event.call_id, r.content, calls)


def hook_failed(hook: Any, event: Event, problem: str | None = None) -> None:
    """Report a hook that raised (or misbehaved): a WARNING under ``minillm.hooks`` with its traceback; the
    call and the other hooks go on (an observer's bug must not fail the request it observes)."""
    what = problem or "raised"
    _HOOKS.warning("hook %r %s on %s; the request goes on", hook, what, type(event).__name__, exc_info=problem is None)
