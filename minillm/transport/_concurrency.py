"""Where the blocking and the async client really differ, as twin helpers side by side.

``async_client.py`` is written once, for the async world, and ``sync_client.py`` is generated from it by
``scripts/unasync.py``, which renames each async helper here to its blocking twin (``asleep`` → ``sleep``,
``acall_within`` → ``call_within``, ...). So everything the two worlds do differently lives in this module,
and the clients themselves are the same code. Each pair keeps one signature; the async one is a coroutine
function named with an ``a`` prefix (or, for what is not a coroutine, ``async``/``sync`` in its name).

asyncio is imported inside the async helpers, never at the top: a blocking program never loads it.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import httpx

from minillm.core.errors import APITimeoutError, ConfigurationError, InvalidParameterError
from minillm.core.events import Event
from minillm.core.usage import CostInfo
from minillm.transport._common import hook_failed, log_event, user_agent
from minillm.transport._network import bound_sync_client, deadline

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "LoopCheck",
    "NoLoopCheck",
    "acall_within",
    "aemit",
    "areport_cost",
    "asleep",
    "async_cancellation",
    "async_hooks",
    "async_http_client",
    "call_within",
    "emit",
    "report_cost",
    "sleep",
    "sync_cancellation",
    "sync_hooks",
    "sync_http_client",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")

CostCallback = Callable[[CostInfo], Any]
Hook = Callable[[Event], Any]

# ----- waiting ----------------------------------------------------------------------------------------


async def asleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop."""
    import asyncio

    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Wait ``seconds``, blocking the thread."""
    time.sleep(seconds)


# ----- whole-request deadlines ------------------------------------------------------------------------


async def acall_within(
    seconds: float | None, what: str, fn: Callable[_P, Awaitable[_T]], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Await ``fn(*args, **kwargs)`` with a deadline of ``seconds`` in all (None: no bound).

    At the deadline the call is cancelled and ``APITimeoutError`` says it timed out ``what`` ("waiting for
    the response", ...). This works whatever client or pool carries the request, an injected one included.
    """
    import asyncio

    if seconds is None:
        return await fn(*args, **kwargs)
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(seconds):
                return await fn(*args, **kwargs)
        return await asyncio.wait_for(fn(*args, **kwargs), seconds)
    except asyncio.TimeoutError as e:  # only the deadline's: httpx's own timeouts are httpx exceptions
        raise APITimeoutError(
            f"timed out {what}: no complete answer within {seconds:g} s; raise the timeout or check the server"
        ) from e


def call_within(seconds: float | None, what: str, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Call ``fn(*args, **kwargs)`` with a deadline of ``seconds`` in all (None: no bound).

    The deadline binds the requests of a client minillm made (``sync_http_client``): their connections clamp
    every connect, read and write to the time left, and once none is left httpx raises its own timeout
    exception, which the caller maps as any other (so ``what`` is not needed here). An injected
    ``httpx.Client`` keeps httpx's per-operation timeouts only.
    """
    with deadline(seconds):
        return fn(*args, **kwargs)


# ----- the HTTP client minillm makes --------------------------------------------------------------------


def async_http_client(timeout: httpx.Timeout, max_connections: int) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` an ``AsyncClient`` makes when none is injected.

    At most ``max_connections`` connections, each in a pool of its own (``ConnectionPerPoolTransport``:
    taking and giving back a connection cost the same under thousands of concurrent requests).
    """
    from minillm.transport._pool import ConnectionPerPoolTransport

    pool = ConnectionPerPoolTransport(max_connections)
    return httpx.AsyncClient(timeout=timeout, transport=pool, headers={"User-Agent": user_agent()})


def sync_http_client(timeout: httpx.Timeout, max_connections: int) -> httpx.Client:
    """The ``httpx.Client`` a ``SyncClient`` makes when none is injected.

    At most ``max_connections`` connections, all kept alive, in httpx's pool; its requests keep to the
    whole-request deadline of ``call_within`` (``bound_sync_client`` warns when it cannot make them).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    client = httpx.Client(timeout=timeout, limits=limits, headers={"User-Agent": user_agent()})
    bound_sync_client(client)
    return client


# ----- reporting a cost ---------------------------------------------------------------------------------


async def areport_cost(callback: CostCallback | None, info: CostInfo | None) -> None:
    """Hand ``info`` to the cost callback, if there is one; an ``async def`` callback is awaited."""
    if callback is None or info is None:
        return
    result = callback(info)
    if inspect.isawaitable(result):
        await result


def report_cost(callback: CostCallback | None, info: CostInfo | None) -> None:
    """Hand ``info`` to the cost callback, if there is one; an ``async def`` one cannot run in a blocking
    call, so it is refused with ``InvalidParameterError`` (its coroutine closed, not left un-awaited)."""
    if callback is None or info is None:
        return
    result = callback(info)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise InvalidParameterError(
            "the cost_callback is async but the completion is blocking; use acomplete() or a plain function"
        )


# ----- hooks: the core's events, delivered -------------------------------------------------------------


def _check_hook(hook: object) -> None:
    if not callable(hook):
        raise InvalidParameterError(f"a hook must be a callable taking one event, got {type(hook).__name__}")


def async_hooks(hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    """The hooks of an ``AsyncClient``: any callables taking one event, plain or ``async def``."""
    found = tuple(hooks)
    for hook in found:
        _check_hook(hook)
    return found


def _is_async_callable(hook: object) -> bool:
    call = getattr(hook, "__call__", None)  # noqa: B004 -- an object whose __call__ is a coroutine function
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call)


def sync_hooks(hooks: Iterable[Hook]) -> tuple[Hook, ...]:
    """The hooks of a ``SyncClient``: plain callables; an ``async def`` one could never run in a blocking
    call, so it is refused here, when it is registered, with ``InvalidParameterError``."""
    found = tuple(hooks)
    for hook in found:
        _check_hook(hook)
        if _is_async_callable(hook):
            raise InvalidParameterError(
                f"hook {hook!r} is async but SyncClient calls its hooks in the blocking call; "
                "register a plain function, or use it on an AsyncClient"
            )
    return found


async def aemit(hooks: tuple[Hook, ...], event: Event) -> None:
    """Log ``event`` (DEBUG, under ``minillm``) and hand it to each hook in turn, awaiting an async one. A hook
    that raises is reported (WARNING under ``minillm.hooks``) and the others still run."""
    log_event(event)
    for hook in hooks:
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            hook_failed(hook, event)


def emit(hooks: tuple[Hook, ...], event: Event) -> None:
    """Log ``event`` (DEBUG, under ``minillm``) and hand it to each hook in turn. A hook that raises, or that
    returns an awaitable (which cannot be awaited here: it is closed), is reported (WARNING under
    ``minillm.hooks``) and the others still run."""
    log_event(event)
    for hook in hooks:
        try:
            result = hook(event)
        except Exception:
            hook_failed(hook, event)
            continue
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            hook_failed(hook, event, "returned an awaitable, which a SyncClient cannot await")


# ----- which event loop, which thread -------------------------------------------------------------------


class LoopCheck:
    """An ``AsyncClient`` belongs to the event loop it first runs on (its connections do): ``check`` refuses
    any other loop with ``ConfigurationError``."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def check(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise ConfigurationError(
                "this AsyncClient belongs to another event loop; make one AsyncClient per loop "
                "(or omit client= to use the running loop's default client)"
            )


class NoLoopCheck:
    """A ``SyncClient`` may be used from any thread: there is nothing to check."""

    __slots__ = ()

    def check(self) -> None:
        pass


def async_cancellation() -> tuple[type[BaseException], ...]:
    """The exceptions that cancel an async read from outside (a stream closes its response on them)."""
    import asyncio

    return (asyncio.CancelledError,)


def sync_cancellation() -> tuple[type[BaseException], ...]:
    """None: nothing cancels a blocking read from outside it (and ``except ()`` catches nothing)."""
    return ()
