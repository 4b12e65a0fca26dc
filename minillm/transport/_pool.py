"""The connection pool of an ``AsyncClient`` that owns its HTTP client: fast under thousands of concurrent requests.

httpcore 1.0's pool (under httpx 0.28) re-examines every queued request against every connection whenever a
request starts or ends, and counts the idle connections once per idle connection, so a burst of ``N``
requests over ``C`` connections costs about ``N * N * C`` steps. Worse, a *warm* burst, which starts with
every connection idle, assigns many requests to the same idle connection (it stays idle until the first of
them writes on it); all but one fail over and are assigned again, so a warm burst of 500 requests over 100
kept-alive connections was measured slower than a cold one (5.2 s against 0.8 s; ``bench/README.md`` has
today's figures).

``ConnectionPerPoolTransport`` keeps the cost flat without touching httpcore: each connection lives in an
httpcore pool of its own (a pool of one never queues, never scans and never double-assigns), and this class
keeps the pools whose connection is free on a stack, so taking one and giving it back are O(1). The most
recently used connection is taken first, so sequential requests reuse one kept-alive connection and the
unused ones age out. When every connection is busy, requests wait here, first come first served: a
connection given back goes straight to the request that has waited longest, within that request's ``pool``
timeout. A connection is given back when its response is closed, which both transports always do.

A request cancelled or cut by its deadline at any point (connecting, waiting for the head, reading the body)
must not leave its slot taken: httpcore 1.0.9 can keep such a request in its pool's queue, or a connection
half-made, after the cancellation (a pool of one then never serves another request). So a connection whose
request failed, or whose pool is not clean once its response is closed (a request still queued, a connection
neither idle nor closed), is discarded with its pool, and a new pool takes its slot.

An injected client keeps its own pool: this is only for the client minillm makes. (httpx2's pool, which the
official SDKs use, fixed the same cost, so an injected ``httpx2.AsyncClient`` scales as well.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx

from minillm.core.errors import InvalidParameterError

__all__ = ["ConnectionPerPoolTransport"]

_ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1)


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its connection back to the pool when closed (once, however often)."""

    __slots__ = ("_owner", "_pool", "_stream")

    def __init__(
        self, stream: httpx.AsyncByteStream, owner: ConnectionPerPoolTransport, pool: httpx.AsyncHTTPTransport
    ) -> None:
        self._stream = stream
        self._owner = owner
        self._pool: httpx.AsyncHTTPTransport | None = pool

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator: no extra generator between each piece and the reader.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                self._owner._give_back(pool)


class ConnectionPerPoolTransport(httpx.AsyncBaseTransport):
    """Up to ``max_connections`` kept-alive connections, each in an ``httpx.AsyncHTTPTransport`` of its own.

    ``trust_env`` means what it means for ``httpx.AsyncHTTPTransport``; one SSL context is made and shared by
    every pool (making one is the slow part of making a transport).
    """

    def __init__(self, max_connections: int, *, trust_env: bool = True) -> None:
        if max_connections < 1:
            raise InvalidParameterError(f"max_connections must be at least 1, got {max_connections}")
        self._max = max_connections
        self._ssl_context = httpx.create_ssl_context(trust_env=trust_env)
        self._trust_env = trust_env
        self._pools: set[httpx.AsyncHTTPTransport] = set()  # made when first needed
        self._free: list[httpx.AsyncHTTPTransport] = []  # a stack of the pools whose connection is free
        # Requests waiting for a connection, oldest first; each future receives the pool it may use.
        self._waiters: deque[asyncio.Future[httpx.AsyncHTTPTransport]] = deque()
        self._closing: set[asyncio.Task[None]] = set()  # discarded pools being closed

    def _new_pool(self) -> httpx.AsyncHTTPTransport:
        pool = httpx.AsyncHTTPTransport(verify=self._ssl_context, trust_env=self._trust_env, limits=_ONE)
        self._pools.add(pool)
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # A free connection means nobody is waiting: a connection given back goes to a waiter first.
        pool = None
        while self._free:
            pool = self._free.pop()
            if _is_clean(pool):
                break
            self._discard(pool)  # went stale while free (a cancelled body closed late): make room for a new one
            pool = None
        if pool is None:
            pool = self._new_pool() if len(self._pools) < self._max else await self._wait_for_pool(request)
        try:
            response = await pool.handle_async_request(request)
        except BaseException:
            self._discard(pool)  # cancelled or failed half-way: its inner pool may keep the request for ever
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, self, pool)
        return response

    async def _wait_for_pool(self, request: httpx.Request) -> httpx.AsyncHTTPTransport:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[httpx.AsyncHTTPTransport] = loop.create_future()
        self._waiters.append(waiter)
        timeout = request.extensions.get("timeout", {}).get("pool")
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, request)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(waiter.result())  # handed a connection just as it was cancelled: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _give_back(self, pool: httpx.AsyncHTTPTransport) -> None:
        """``pool``'s connection is free again: it goes straight to the longest-waiting request, if any (a
        waiter that timed out or was cancelled is done, and skipped). A pool left unclean is discarded."""
        if not _is_clean(pool):
            self._discard(pool)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(pool)
                return
        self._free.append(pool)

    def _discard(self, pool: httpx.AsyncHTTPTransport) -> None:
        """Drop ``pool`` (closed in the background: this may run while a task is being cancelled) and give
        its slot to a new pool when a request is waiting for one."""
        if pool not in self._pools:
            return
        self._pools.discard(pool)
        task = asyncio.get_running_loop().create_task(_close_quietly(pool))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        if any(not waiter.done() for waiter in self._waiters):
            self._give_back(self._new_pool())

    async def aclose(self) -> None:
        for pool in list(self._pools):
            await pool.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _is_clean(pool: httpx.AsyncHTTPTransport) -> bool:
    """Whether ``pool`` can serve a new request: no request left in its queue, and its connection (if any)
    idle or closed. Reads httpcore's pool; when a future httpcore hides it, a pool counts as clean."""
    inner: Any = getattr(pool, "_pool", None)
    if getattr(inner, "_requests", None):
        return False
    connections = getattr(inner, "connections", ())
    return all(connection.is_idle() or connection.is_closed() for connection in connections)


async def _close_quietly(pool: httpx.AsyncHTTPTransport) -> None:
    """Close a discarded pool; it failed already, so a failure to close it says nothing new."""
    with contextlib.suppress(Exception):
        await pool.aclose()


def _expire(waiter: asyncio.Future[httpx.AsyncHTTPTransport], request: httpx.Request) -> None:
    """The pool timeout of a waiting request passed before a connection was handed to it."""
    if not waiter.done():
        waiter.set_exception(httpx.PoolTimeout("every connection stayed busy for the pool timeout", request=request))
