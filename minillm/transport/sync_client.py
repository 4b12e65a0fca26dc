"""``SyncClient``: the blocking transport over ``httpx.Client``, and its ``CompletionStream``.

It sends what the core builds and feeds back what it receives; every decision (prompt, wire, retry, cost)
is the core's. Its twin is ``async_client.py``: keep the two side by side when changing either.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import attrs
import httpx

from minillm.core.errors import APITimeoutError, InvalidParameterError, MiniLLMError, StreamError
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
from minillm.transport._network import bound_sync_client, deadline

__all__ = ["CompletionStream", "SyncClient"]

_T = TypeVar("_T")


def _report(callback: Callable[[CostInfo], Any] | None, info: CostInfo | None) -> None:
    """Call the cost callback; an ``async def`` one cannot run here, and says so."""
    if callback is None or info is None:
        return
    result = callback(info)
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise InvalidParameterError(
            "the cost_callback is async but the completion is blocking; use acomplete() or a plain function"
        )


class SyncClient:
    """A blocking client: ``node.complete(gen, client=client)``. Safe to share between threads.

    ``http_client`` injects your own ``httpx.Client`` (its proxies, certificates and hooks carry every
    request; you close it); an ``httpx2.Client`` works too. ``timeout`` is the default for requests whose
    parameters set none.
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if http_client is None:
            self._timeout = httpx.Timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
            limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
            self._http = httpx.Client(timeout=self._timeout, limits=limits, headers={"User-Agent": user_agent()})
            bound_sync_client(self._http)  # its timeout is a deadline for the whole request (see _network.py)
            self._owns_http = True
        else:
            self._timeout = client_timeout(http_client, timeout)
            self._http = http_client
            self._owns_http = False
        self._errors = transport_errors(self._http)
        self._url = url_parser(self._http)

    def close(self) -> None:
        """Close the connection pool (an injected ``httpx.Client`` is left to its owner)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----- sending ----------------------------------------------------------------------------------

    def _send(self, request: HTTPRequest, timeout: httpx.Timeout) -> tuple[int, Mapping[str, str], bytes]:
        try:
            with deadline(timeout.read):
                response = self._http.request(
                    request.method,
                    self._url(request.url),
                    headers=request.headers,
                    content=request.body_bytes(),
                    timeout=timeout,
                )
        except self._errors as e:
            raise map_transport_error(e, "waiting for the response") from e
        return response.status_code, response.headers, response.content

    def _open_stream(self, call: CompletionCall, timeout: httpx.Timeout) -> httpx.Response:
        request = call.request()
        built = self._http.build_request(
            request.method,
            self._url(request.url),
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
        )
        with deadline(timeout.read):  # the idle bound also bounds the wait for the whole head
            try:
                response = self._http.send(built, stream=True)
            except self._errors as e:
                raise map_transport_error(e, "starting the stream") from e
            if not call.stream_started(response.status_code, response.headers):
                try:
                    body = response.read()
                except self._errors as e:
                    raise map_transport_error(e, "reading the error response") from e
                finally:
                    response.close()
                call.check_stream_start(response.status_code, response.headers, body)
        return response

    # ----- completions ------------------------------------------------------------------------------

    def complete(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> ChatNode:
        """Complete the thread ending at ``node``; return the new assistant node (see ``ChatNode.complete``)."""
        return self._complete(CompletionCall(node, generator, params or DEFAULT_PARAMS))[0]

    def _retry(self, call: CompletionCall, error: Exception, attempt: Callable[[], _T]) -> _T:
        """The retries of ``attempt`` after its first try failed with ``error``; raises ``error`` (or
        ``MaxRetriesExceededError``) when the call's policy retries nothing more.

        Callers make the first try themselves, outside tenacity: most succeed, and tenacity's loop costs more
        than the rest of a request's own work (about 28 us; ``bench/README.md``)."""
        import tenacity

        time.sleep(retry_wait(call.retry_policy, error))
        for state in tenacity.Retrying(sleep=time.sleep, **retry_settings(call.retry_policy, done=1)):
            with state:
                result = attempt()
        return result

    def _attempt(self, call: CompletionCall, timeout: httpx.Timeout) -> tuple[ChatNode, CompletionResponse]:
        response = call.parse_response(*self._send(call.request(), timeout))
        return call.accept(response), response

    def _complete(self, call: CompletionCall) -> tuple[ChatNode, CompletionResponse]:
        timeout = request_timeout(self._timeout, call.timeout())
        try:  # the first attempt outside tenacity (see _retry)
            node, response = self._attempt(call, timeout)
        except Exception as error:
            node, response = self._retry(call, error, lambda: self._attempt(call, timeout))
        if call.params.cost_callback is not None:
            _report(call.params.cost_callback, self._resolve_cost(call, response))
        return node, response

    def complete_costed(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> tuple[ChatNode, CostInfo]:
        """``complete``, also returning the cost (looked up out of band when the reply carried no usage)."""
        params = attrs.evolve(params or DEFAULT_PARAMS, track_cost=True, cost_callback=None)
        call = CompletionCall(node, generator, params)
        reply, response = self._complete(call)
        return reply, self._resolve_cost(call, response)

    def _resolve_cost(self, call: CompletionCall, response: CompletionResponse) -> CostInfo:
        lookup: CostLookup | None = call.cost_lookup(response)
        if lookup is None:
            return call.cost_from_usage(response)
        timeout = request_timeout(self._timeout, lookup.timeout)
        for _ in range(lookup.attempts):
            time.sleep(lookup.interval)
            try:
                found = lookup.parse(*self._send(lookup.request, timeout))
            except MiniLLMError:
                continue
            if found is not None:
                return found
        return call.cost_from_usage(response)

    def ensure_cached(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> CostInfo:
        """Send the thread once with a cache mark on its last message and no reply; return the cost."""
        call = cache_warmup_call(node, generator, params or DEFAULT_PARAMS)
        timeout = request_timeout(self._timeout, call.timeout())
        response = call.parse_response(*self._send(call.request(), timeout))
        info = call.cost_from_usage(response)
        _report(call.params.cost_callback, info)
        return info

    def complete_streaming(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> CompletionStream:
        """Start a stream (the start is retried per ``params``; the stream itself never is)."""
        call = CompletionCall(node, generator, params or DEFAULT_PARAMS, stream=True)
        timeout = stream_timeout(self._timeout, call.timeout())
        try:
            response = self._open_stream(call, timeout)
        except Exception as error:
            response = self._retry(call, error, lambda: self._open_stream(call, timeout))
        return CompletionStream(self, call, response)


class CompletionStream:
    """A streamed completion: iterate it for ``StreamChunk``s; ``response`` is the whole reply at the end.

    Use it as a context manager so the HTTP response is closed however the loop ends. A failure while it
    is read (a drop, an idle timeout, an in-band error) raises ``StreamError`` with the text received so far
    and the underlying error as its cause; the request is never re-sent.
    """

    def __init__(self, client: SyncClient, call: CompletionCall, response: httpx.Response) -> None:
        self._client = client
        self._call = call
        self._http_response = response
        self._raw: Iterator[bytes] = response.iter_raw()
        self._parser = call.stream_parser()
        self._pending: Iterator[StreamChunk] = iter(())  # the last piece's chunks not handed out yet
        self._clock = IdleClock(call.timeout())
        self._final: CompletionResponse | None = None
        self._closed = False

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> StreamChunk:
        # The chunks of the last piece read, else the next piece, read and parsed here (as in the async twin).
        while True:
            chunk = next(self._pending, None)
            if chunk is not None:
                return chunk
            if self._closed:
                raise StopIteration
            try:
                data = next(self._raw)
            except StopIteration:
                self._end()
                continue
            except self._client._errors as e:
                self._fail(map_transport_error(e, "reading the stream"))
            try:
                chunks = self._parser.feed(data)
            except StreamError as e:
                self._fail(e)
            if chunks:
                self._clock.event()
                self._pending = iter(chunks)
            elif self._clock.expired():
                silence = f"no stream event for {self._clock.limit} s (keep-alive comments only)"
                self._fail(APITimeoutError(silence))
            if self._parser.finished:
                self._end()

    def _end(self) -> None:
        self._drain()
        try:
            self._final = self._parser.finish(self._http_response.headers)
        except StreamError as e:
            self._fail(e)
        self.close()
        if self._call.params.cost_callback is not None:
            _report(self._call.params.cost_callback, self.cost())

    def _drain(self) -> None:
        # Read a finished body to its end so the connection is reused; the parser keeps any usage in it and
        # says when to stop. A read that fails or a body that goes on too long just closes the connection.
        clock = IdleClock(self._clock.limit)
        try:
            for data in self._raw:
                if not self._parser.drain(data) or clock.expired():
                    return
        except self._client._errors:
            return

    def _fail(self, error: MiniLLMError) -> NoReturn:
        self.close()
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

    def cost(self) -> CostInfo:
        """What this stream's completion cost, finished or closed early: from its usage, else looked up out
        of band where the wire can (OpenRouter ``/generation``, a bounded poll), else ``UNKNOWN``."""
        response = self._final or self._parser.accumulator.response(self._http_response.headers)
        return self._client._resolve_cost(self._call, response)

    def close(self) -> None:
        """Close the HTTP response (safe to call more than once); unread chunks are dropped."""
        if not self._closed:
            self._closed = True
            self._raw.close()  # type: ignore[attr-defined]
            self._http_response.close()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
