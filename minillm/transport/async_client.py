"""``AsyncClient``: the async transport over ``httpx.AsyncClient``, and its ``AsyncCompletionStream``.

The twin of ``sync_client.py``, line for line: the same steps, awaited. Keep the two side by side when
changing either.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import attrs
import httpx

from minillm.core.errors import APITimeoutError, ConfigurationError, InvalidParameterError, MiniLLMError, StreamError
from minillm.core.flow import CompletionCall, CostLookup, cache_warmup_call
from minillm.core.generator import GeneratorInfo
from minillm.core.http import HTTPRequest
from minillm.core.params import NodeCompletionParameters
from minillm.core.response import CompletionResponse
from minillm.core.stream import StreamChunk
from minillm.core.tree import ChatNode
from minillm.core.usage import CostInfo
from minillm.transport._common import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PARAMS,
    DEFAULT_TIMEOUT,
    IdleClock,
    client_timeout,
    map_transport_error,
    request_timeout,
    retry_settings,
    retry_wait,
    stream_timeout,
    transport_errors,
    url_parser,
    user_agent,
)
from minillm.transport._network import within
from minillm.transport._pool import ConnectionPerPoolTransport

__all__ = ["AsyncClient", "AsyncCompletionStream"]

_T = TypeVar("_T")


async def _report(callback: Callable[[CostInfo], Any] | None, info: CostInfo | None) -> None:
    """Call the cost callback; an ``async def`` callback is awaited."""
    if callback is None or info is None:
        return
    result = callback(info)
    if inspect.isawaitable(result):
        await result


class AsyncClient:
    """An async client: ``await node.acomplete(gen, client=client)``. It belongs to one event loop.

    ``http_client`` injects your own ``httpx.AsyncClient`` (its proxies, certificates and hooks carry every
    request; you close it); an ``httpx2.AsyncClient`` works too. ``timeout`` is the default for requests whose
    parameters set none. ``max_connections`` bounds the connections of the pool minillm makes when no client
    is injected (see ``minillm.transport._pool`` for how that pool is kept fast).
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if http_client is None:
            self._timeout = httpx.Timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
            pool = ConnectionPerPoolTransport(max_connections)
            self._http = httpx.AsyncClient(timeout=self._timeout, transport=pool, headers={"User-Agent": user_agent()})
            self._owns_http = True
        else:
            self._timeout = client_timeout(http_client, timeout)
            self._http = http_client
            self._owns_http = False
        self._errors = transport_errors(self._http)
        self._url = url_parser(self._http)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        """Close the connection pool (an injected ``httpx.AsyncClient`` is left to its owner)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise ConfigurationError(
                "this AsyncClient belongs to another event loop; make one AsyncClient per loop "
                "(or omit client= to use the running loop's default client)"
            )

    # ----- sending ----------------------------------------------------------------------------------

    async def _send(self, request: HTTPRequest, timeout: httpx.Timeout) -> tuple[int, Mapping[str, str], bytes]:
        self._check_loop()
        sent = self._http.request(
            request.method,
            self._url(request.url),
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
        )
        del request  # httpx holds the bytes it sends: the body as JSON values need not live while the answer comes
        try:
            response = await within(timeout.read, sent, "waiting for the response")  # a whole-request deadline
        except self._errors as e:
            raise map_transport_error(e, "waiting for the response") from e
        return response.status_code, response.headers, response.content

    async def _open_stream(self, call: CompletionCall, timeout: httpx.Timeout) -> httpx.Response:
        self._check_loop()
        request = call.request()
        built = self._http.build_request(
            request.method,
            self._url(request.url),
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
        )
        del request  # as in _send: httpx holds the bytes; the body as JSON values need not live on
        # The idle bound also bounds the wait for the whole head.
        return await within(timeout.read, self._start_stream(call, built), "starting the stream")

    async def _start_stream(self, call: CompletionCall, built: httpx.Request) -> httpx.Response:
        try:
            response = await self._http.send(built, stream=True)
        except self._errors as e:
            raise map_transport_error(e, "starting the stream") from e
        if not call.stream_started(response.status_code, response.headers):
            try:
                body = await response.aread()
            except self._errors as e:
                raise map_transport_error(e, "reading the error response") from e
            finally:
                await response.aclose()
            call.check_stream_start(response.status_code, response.headers, body)
        return response

    # ----- completions ------------------------------------------------------------------------------

    async def acomplete(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> ChatNode:
        """Complete the thread ending at ``node``; return the new assistant node (see ``ChatNode.acomplete``)."""
        return (await self._complete(CompletionCall(node, generator, params or DEFAULT_PARAMS)))[0]

    async def _retry(self, call: CompletionCall, error: Exception, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """The retries of ``attempt`` after its first try failed with ``error``; raises ``error`` (or
        ``MaxRetriesExceededError``) when the call's policy retries nothing more.

        Callers make the first try themselves, outside tenacity: most succeed, and tenacity's loop costs more
        than the rest of a request's own work (about 28 us; ``bench/README.md``)."""
        import tenacity

        await asyncio.sleep(retry_wait(call.retry_policy, error))
        async for state in tenacity.AsyncRetrying(sleep=asyncio.sleep, **retry_settings(call.retry_policy, done=1)):
            with state:
                result = await attempt()
        return result

    async def _attempt(self, call: CompletionCall, timeout: httpx.Timeout) -> tuple[ChatNode, CompletionResponse]:
        response = call.parse_response(*await self._send(call.request(), timeout))
        return call.accept(response), response

    async def _complete(self, call: CompletionCall) -> tuple[ChatNode, CompletionResponse]:
        timeout = request_timeout(self._timeout, call.timeout())
        try:  # the first attempt outside tenacity (see _retry)
            node, response = await self._attempt(call, timeout)
        except Exception as error:
            node, response = await self._retry(call, error, lambda: self._attempt(call, timeout))
        if call.params.cost_callback is not None:
            await _report(call.params.cost_callback, await self._resolve_cost(call, response))
        return node, response

    async def acomplete_costed(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> tuple[ChatNode, CostInfo]:
        """``acomplete``, also returning the cost (looked up out of band when the reply carried no usage)."""
        params = attrs.evolve(params or DEFAULT_PARAMS, track_cost=True, cost_callback=None)
        call = CompletionCall(node, generator, params)
        reply, response = await self._complete(call)
        return reply, await self._resolve_cost(call, response)

    async def _resolve_cost(self, call: CompletionCall, response: CompletionResponse) -> CostInfo:
        lookup: CostLookup | None = call.cost_lookup(response)
        if lookup is None:
            return call.cost_from_usage(response)
        timeout = request_timeout(self._timeout, lookup.timeout)
        for _ in range(lookup.attempts):
            await asyncio.sleep(lookup.interval)
            try:
                found = lookup.parse(*await self._send(lookup.request, timeout))
            except MiniLLMError:
                continue
            if found is not None:
                return found
        return call.cost_from_usage(response)

    async def aensure_cached(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> CostInfo:
        """Send the thread once with a cache mark on its last message and no reply; return the cost."""
        call = cache_warmup_call(node, generator, params or DEFAULT_PARAMS)
        timeout = request_timeout(self._timeout, call.timeout())
        response = call.parse_response(*await self._send(call.request(), timeout))
        info = call.cost_from_usage(response)
        await _report(call.params.cost_callback, info)
        return info

    async def acomplete_streaming(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> AsyncCompletionStream:
        """Start a stream (the start is retried per ``params``; the stream itself never is)."""
        call = CompletionCall(node, generator, params or DEFAULT_PARAMS, stream=True)
        timeout = stream_timeout(self._timeout, call.timeout())
        try:
            response = await self._open_stream(call, timeout)
        except Exception as error:
            response = await self._retry(call, error, lambda: self._open_stream(call, timeout))
        return AsyncCompletionStream(self, call, response)


class AsyncCompletionStream:
    """An async streamed completion: ``async for`` it for ``StreamChunk``s; ``response`` at the end.

    Use ``async with`` so the HTTP response is closed however the loop ends, cancellation included. A
    failure while it is read (a drop, an idle timeout, an in-band error) raises ``StreamError`` with the text
    received so far and the underlying error as its cause; the request is never re-sent.
    """

    def __init__(self, client: AsyncClient, call: CompletionCall, response: httpx.Response) -> None:
        self._client = client
        self._call = call
        self._http_response = response
        self._raw: AsyncIterator[bytes] = response.aiter_raw()
        self._parser = call.stream_parser()
        self._pending: Iterator[StreamChunk] = iter(())  # the last piece's chunks not handed out yet
        self._clock = IdleClock(call.timeout())
        self._final: CompletionResponse | None = None
        self._closed = False

    def __aiter__(self) -> AsyncCompletionStream:
        return self

    async def __anext__(self) -> StreamChunk:
        # The chunks of the last piece read, else the next piece, read and parsed here rather than in helper
        # coroutines: this runs once per chunk.
        while True:
            chunk = next(self._pending, None)
            if chunk is not None:
                return chunk
            if self._closed:
                raise StopAsyncIteration
            try:
                data = await self._raw.__anext__()
            except StopAsyncIteration:
                await self._end()
                continue
            except self._client._errors as e:
                await self._fail(map_transport_error(e, "reading the stream"))
            except asyncio.CancelledError:
                await self.aclose()
                raise
            try:
                chunks = self._parser.feed(data)
            except StreamError as e:
                await self._fail(e)
            if chunks:
                self._clock.event()
                self._pending = iter(chunks)
            elif self._clock.expired():
                silence = f"no stream event for {self._clock.limit} s (keep-alive comments only)"
                await self._fail(APITimeoutError(silence))
            if self._parser.finished:
                await self._end()

    async def _end(self) -> None:
        await self._drain()
        try:
            self._final = self._parser.finish(self._http_response.headers)
        except StreamError as e:
            await self._fail(e)
        await self.aclose()
        if self._call.params.cost_callback is not None:
            await _report(self._call.params.cost_callback, await self.acost())

    async def _drain(self) -> None:
        # Read a finished body to its end so the connection is reused; the parser keeps any usage in it and
        # says when to stop. A read that fails or a body that goes on too long just closes the connection.
        clock = IdleClock(self._clock.limit)
        try:
            async for data in self._raw:
                if not self._parser.drain(data) or clock.expired():
                    return
        except self._client._errors:
            return

    async def _fail(self, error: MiniLLMError) -> NoReturn:
        await self.aclose()
        raise self._parser.fail(error)

    @property
    def response(self) -> CompletionResponse:
        """The whole reply, once the stream has been read to its end."""
        if self._final is None:
            raise InvalidParameterError("the stream has not finished: iterate it to the end before reading .response")
        return self._final

    @property
    def text(self) -> str:
        """The text received so far."""
        return self._parser.partial_text

    async def acost(self) -> CostInfo:
        """What this stream's completion cost, finished or closed early: from its usage, else looked up out
        of band where the wire can (OpenRouter ``/generation``, a bounded poll), else ``UNKNOWN``."""
        response = self._final or self._parser.accumulator.response(self._http_response.headers)
        return await self._client._resolve_cost(self._call, response)

    async def aclose(self) -> None:
        """Close the HTTP response (safe to call more than once); unread chunks are dropped."""
        if not self._closed:
            self._closed = True
            # Finish the body iterator too: left suspended, it would outlive its event loop.
            await self._raw.aclose()  # type: ignore[attr-defined]
            await self._http_response.aclose()

    async def __aenter__(self) -> AsyncCompletionStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
