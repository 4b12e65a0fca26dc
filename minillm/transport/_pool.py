"""The connection pool of an ``AsyncClient`` that owns its HTTP client: fast under thousands of concurrent requests.

httpcore 1.0's pool (under httpx 0.28) re-examines every queued request against every connection whenever a
request starts or ends, and counts the idle connections once per idle connection. A burst of ``N`` requests
over ``C`` connections therefore costs about ``N * N * C`` steps, and a *warm* burst, which starts with every
connection idle, was measured slower than a cold one (500 requests over 100 kept-alive connections: 5.2 s
warm against 0.8 s cold; see ``bench/README.md``).

``ShardedAsyncTransport`` keeps that cost flat without touching httpcore: it splits the connections among
several small httpcore pools (shards of ``SHARD_SIZE``), and admits a request to a shard only when that shard
has a free connection, so no request ever waits inside httpcore. The waiting happens here instead, on one
``asyncio.Semaphore`` (first come, first served, O(1) per request), bounded by the request's ``pool``
timeout. A slot is given back when the response is closed, which both transports always do.

An injected client keeps its own pool: this is only for the client minillm makes. (httpx2's pool, which the
official SDKs use, fixed the same cost, so an injected ``httpx2.AsyncClient`` scales as well.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx

from minillm.core.errors import InvalidParameterError

__all__ = ["SHARD_SIZE", "ShardedAsyncTransport"]

SHARD_SIZE = 10
"""Connections per httpcore pool: small enough that its bookkeeping stays cheap, large enough that a handful
of pools hold the default 100 connections."""


class _Shard:
    """One httpcore pool and how many more requests it may take right now."""

    __slots__ = ("free", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport, size: int) -> None:
        self.transport = transport
        self.free = size


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its shard slot back when closed (once, however often it is closed)."""

    __slots__ = ("_release", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner stream's own iterator: no extra generator between each piece and the reader.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """``max_connections`` connections in shards of at most ``SHARD_SIZE``, each kept alive when idle.

    ``trust_env`` means what it means for ``httpx.AsyncHTTPTransport``; one SSL context is made and shared by
    every shard (making one is the slow part of making a transport).
    """

    def __init__(self, max_connections: int, *, trust_env: bool = True) -> None:
        if max_connections < 1:
            raise InvalidParameterError(f"max_connections must be at least 1, got {max_connections}")
        count = -(-max_connections // SHARD_SIZE)
        ssl_context = httpx.create_ssl_context(trust_env=trust_env)
        self._shards: list[_Shard] = []
        for i in range(count):
            size = max_connections // count + (1 if i < max_connections % count else 0)
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=trust_env, limits=limits)
            self._shards.append(_Shard(transport, size))
        self._slots = asyncio.Semaphore(max_connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._slots.locked():
            await self._wait_for_slot(request)
        else:
            await self._slots.acquire()  # a free slot: returns at once
        # The shard with the most free connections; the first one while the client is quiet, so sequential
        # requests reuse the same kept-alive connection.
        shard = max(self._shards, key=_free)
        shard.free -= 1
        release = _releaser(self._slots, shard)
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, release)
        return response

    async def _wait_for_slot(self, request: httpx.Request) -> None:
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise httpx.PoolTimeout(
                "every connection stayed busy for the pool timeout", request=request
            ) from None

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.transport.aclose()


def _free(shard: _Shard) -> int:
    return shard.free


def _releaser(slots: asyncio.Semaphore, shard: _Shard) -> Callable[[], None]:
    def release() -> None:
        shard.free += 1
        slots.release()

    return release
