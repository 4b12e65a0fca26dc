"""The network layer under the blocking client minillm makes: whole-request deadlines, and connections that
are safe to share between threads.

Whole-request deadlines. httpx's ``read`` timeout bounds each read, so a server that sends its headers (or its
body) a byte at a time, every byte inside the read timeout, holds a request for ever. minillm's timeout is a
deadline for the whole exchange: a request that is not streamed must be answered in full within it, and a
stream's idle timeout also bounds the wait for its headers.

- Blocking: ``deadline(seconds)`` sets the deadline of the requests made inside it (a context variable, so
  per thread); ``bound_sync_client`` puts a network backend under the pools of an ``httpx.Client`` that
  clamps every connect, read and write to the time left, and raises httpcore's timeout once none is left
  (httpx turns it into its ``ReadTimeout`` and friends, as for any other timeout).
- Async: ``_concurrency.acall_within`` cancels the call at the deadline; it needs nothing from this module.

Sharing a blocking pool between threads. httpcore's pool (1.0.9, encode/httpcore#1110) decides that an idle
connection was closed by the server with ``state is IDLE and socket is readable``, two steps another thread
can come between: it starts a request on that connection (assigned to it a moment before), the server
answers, and the pool, now seeing a readable socket, closes the connection under the request (a ``Bad file
descriptor`` error, or a read that hangs until its timeout). The connections made here say "not readable"
to the first check after any request was written on them, so a pool never mistakes an answer for a hang-up
(a real hang-up is seen one check later); and closing one shuts its socket down first, so a read blocked on
it (should a pool still close a connection in use) ends at once with a connection error, which is retried,
rather than hanging.

An injected ``httpx.Client`` is its owner's: minillm does not reach into it, so its requests have httpx's
per-operation timeouts and pool only.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import time
import warnings
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["bound_sync_client", "deadline"]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("minillm_deadline", default=None)


class deadline:  # lower case: it reads as a function, ``with deadline(seconds):``
    """Bound the blocking requests made inside the block to ``seconds`` in all (None: no bound).

    A class rather than a ``contextlib.contextmanager`` generator: it wraps every request, and this costs a
    third as much."""

    __slots__ = ("_seconds", "_token")

    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._token: contextvars.Token[float | None] | None = None

    def __enter__(self) -> None:
        if self._seconds is not None:
            self._token = _deadline.set(time.monotonic() + self._seconds)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before the deadline; ``expired`` is raised when none is left."""
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline of the request using it, and whose idle
    check is safe against a request starting on it from another thread (see the module docstring)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._writes = 0  # requests (well, writes) made on this connection so far
        self._checked = 0  # ... as of the last readability check

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._writes += 1  # before any byte goes out, so before any answer can make the socket readable
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on it, which close() alone does not
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        value = self._inner.get_extra_info(info)
        if info == "is_readable" and self._writes != self._checked:
            # A request was written since the last check: readable may mean its answer, not a hang-up.
            self._checked = self._writes
            return False
        return value


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens connections (by the deadline) that keep to the deadline of whichever request uses them."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bound_sync_client(http_client: httpx.Client) -> bool:
    """Make the requests of ``http_client`` (one minillm made) keep to ``deadline``; True when every pool
    under it could be bound.

    httpx keeps its pools in private attributes, so a future httpx may not allow it: then this warns (a
    ``RuntimeWarning``) rather than let whole-request deadlines go without a word, and returns False."""
    transports = [getattr(http_client, "_transport", None), *getattr(http_client, "_mounts", {}).values()]
    bound = True
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _DeadlineBackend):
            continue
        if not isinstance(backend, httpcore.NetworkBackend):
            bound = False
            continue
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    if not bound:
        warnings.warn(
            f"minillm could not put its whole-request deadline under this httpx {httpx.__version__} client's "
            "connection pool (httpx keeps it somewhere minillm does not know); blocking requests keep httpx's "
            "per-read timeouts only, so a server that sends a byte at a time can hold one past its timeout. "
            "Use an httpx version minillm supports (see pyproject.toml), or report this to minillm.",
            RuntimeWarning,
            stacklevel=2,
        )
    return bound
