"""``AsyncClient``: the async transport over ``httpx.AsyncClient``, and its ``AsyncCompletionStream``.

It sends what the core builds and feeds back what it receives; every decision (prompt, wire, retry, cost)
is the core's. ``async_client.py`` is the source of both clients: ``scripts/unasync.py`` generates
``sync_client.py`` from it, so edit ``async_client.py`` and run ``python scripts/unasync.py``. Where the two
worlds really differ (deadlines, waiting, the HTTP client made, cost callbacks, the event loop) the code calls
the twin helpers of ``_concurrency``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import httpx

from minillm.core.cost_lookup import Answer, Flow, Wait, cost_flow
from minillm.core.errors import APITimeoutError, InvalidParameterError, MiniLLMError, StreamError
from minillm.core.events import CallTrace, Event
from minillm.core.fallback import FallbackGenerator, FallbackRun
from minillm.core.flow import CompletionCall, cache_warmup_call, costed_call
from minillm.core.generator import GeneratorInfo
from minillm.core.http import HTTPRequest, body_too_large
from minillm.core.params import NodeCompletionParameters, apply_defaults
from minillm.core.response import CompletionResponse
from minillm.core.sse import DEFAULT_MAX_EVENT_BYTES
from minillm.core.stream import StreamChunk
from minillm.core.tree import ChatNode
from minillm.core.usage import CostInfo
from minillm.transport import _concurrency
from minillm.transport._common import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    IdleClock,
    check_client_options,
    client_timeout,
    listening,
    map_transport_error,
    max_bytes,
    request_timeout,
    retry_settings,
    retry_wait,
    stream_timeout,
    transport_errors,
    url_parser,
)

if TYPE_CHECKING:
    import tenacity

    from minillm.transport._concurrency import Hook

__all__ = ["AsyncClient", "AsyncCompletionStream"]

_T = TypeVar("_T")


class AsyncClient:
    """An async client: ``await node.acomplete(gen, client=client)``. It belongs to one event loop.

    ``http_client`` injects your own ``httpx.AsyncClient`` (its proxies, certificates and hooks carry every
    request; you close it); an ``httpx2.AsyncClient`` works too. ``timeout`` is the default for requests whose
    parameters set none. ``max_connections`` bounds the connections of the pool minillm makes when no client
    is injected (100 by default). ``max_response_bytes`` caps an answer body read whole (128 MiB by default;
    a longer one raises ``MalformedResponseError``). minillm never follows a redirect, whatever the injected
    client's ``follow_redirects``: a 3xx raises ``APIError`` naming its ``Location``.
    ``max_event_bytes`` bounds one server-sent event of a stream (16 MiB by default): a larger one raises
    ``StreamError``.

    ``default_params`` apply to every call: each field a call's own parameters leave at its default takes
    the client's value (``minillm.core.params.apply_defaults``). ``hooks`` (or ``add_hook``) receive every
    call's events (``RequestBuilt``, ``AttemptSent``, ... ``RequestFailed``, all in ``minillm``); a hook that
    raises is logged under ``minillm.hooks`` and the request goes on.
    """

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        default_params: NodeCompletionParameters | None = None,
        hooks: Iterable[Hook] = (),
    ) -> None:
        check_client_options(timeout=timeout, max_connections=max_connections, max_event_bytes=max_event_bytes)
        self._max_event_bytes = max_event_bytes
        self._max_response_bytes = max_bytes("max_response_bytes", max_response_bytes)
        if default_params is not None and not isinstance(default_params, NodeCompletionParameters):
            raise InvalidParameterError(
                f"default_params must be a NodeCompletionParameters, got {type(default_params).__name__}"
            )
        self._default_params = default_params
        self._hooks = _concurrency.async_hooks(hooks)
        if http_client is None:
            self._timeout = httpx.Timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
            self._http = _concurrency.async_http_client(self._timeout, max_connections)
            self._owns_http = True
        else:
            self._timeout = client_timeout(http_client, timeout)
            self._http = http_client
            self._owns_http = False
        self._errors = transport_errors(self._http)
        self._url = url_parser(self._http)
        self._loop_check = _concurrency.LoopCheck()

    @property
    def default_params(self) -> NodeCompletionParameters | None:
        """The parameters under every call's own (None: none)."""
        return self._default_params

    def add_hook(self, hook: Hook) -> None:
        """Hand every event of the calls made from now on to ``hook(event)``."""
        self._hooks = (*self._hooks, *_concurrency.async_hooks([hook]))

    def remove_hook(self, hook: Hook) -> None:
        """Stop calling ``hook`` (nothing happens when it is not registered)."""
        self._hooks = tuple(h for h in self._hooks if h != hook)

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

    # ----- sending ----------------------------------------------------------------------------------

    def _build(self, request: HTTPRequest, timeout: httpx.Timeout) -> httpx.Request:
        return self._http.build_request(
            request.method,
            self._url(request.url),
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
        )

    async def _send(self, request: HTTPRequest, timeout: httpx.Timeout) -> Answer:
        self._loop_check.check()
        built = self._build(request, timeout)
        del request  # httpx holds the bytes it sends: the body as JSON values need not live while the answer comes
        # The timeout is a deadline for the whole request, not for each read.
        return await _concurrency.acall_within(timeout.read, "waiting for the response", self._receive, built)

    async def _receive(self, built: httpx.Request) -> Answer:
        try:
            response = await self._http.send(built, stream=True, follow_redirects=False)
            try:
                body = await self._read_body(response)
            finally:
                await response.aclose()
        except self._errors as e:
            raise map_transport_error(e, "waiting for the response") from e
        return response.status_code, response.headers, body

    async def _read_body(self, response: httpx.Response) -> bytes:
        """The whole (decoded) body, read piece by piece up to ``max_response_bytes``: an endless body
        raises ``MalformedResponseError`` rather than fill memory."""
        pieces: list[bytes] = []
        left = self._max_response_bytes
        async for piece in response.aiter_bytes():
            left -= len(piece)
            if left < 0:
                raise body_too_large(self._max_response_bytes)
            pieces.append(piece)
        return b"".join(pieces)

    async def _open_stream(
        self,
        call: CompletionCall,
        timeout: httpx.Timeout,
        trace: CallTrace | None,
    ) -> httpx.Response:
        self._loop_check.check()
        request = call.request()
        if trace is not None:
            await self._emit(*trace.sending(request))
        built = self._build(request, timeout)
        # The idle bound also bounds the wait for the whole head.
        return await _concurrency.acall_within(timeout.read, "starting the stream", self._start_stream, call, built)

    async def _start_stream(self, call: CompletionCall, built: httpx.Request) -> httpx.Response:
        try:
            response = await self._http.send(built, stream=True, follow_redirects=False)
        except self._errors as e:
            raise map_transport_error(e, "starting the stream") from e
        if not call.stream_started(response.status_code, response.headers):
            try:
                body = await self._read_body(response)
            except self._errors as e:
                raise map_transport_error(e, "reading the error response") from e
            finally:
                await response.aclose()
            call.check_stream_start(response.status_code, response.headers, body)
        return response

    async def _drive(self, flow: Flow[_T]) -> _T:
        """Run a core flow: wait when it says wait, send what it says send, hand back each answer (or throw
        in the error it failed with), until it returns."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, Wait):
                    await _concurrency.asleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    answer = await self._send(step.request, request_timeout(self._timeout, step.timeout))
                except Exception as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(answer)
        except StopIteration as done:
            result: _T = done.value
            return result

    async def asend_request(self, request: HTTPRequest, timeout: float | None = None) -> Answer:
        """Send one request the core built (a token count, the price catalog); return status, headers and body."""
        return await self._send(request, request_timeout(self._timeout, timeout))

    # ----- events -----------------------------------------------------------------------------------

    def _trace(self, call: CompletionCall) -> CallTrace | None:
        """The call's event trace, or None when no hook and no log line would see it."""
        return CallTrace(call) if listening(self._hooks) else None

    async def _emit(self, *events: Event | None) -> None:
        for event in events:
            if event is not None:
                await _concurrency.aemit(self._hooks, event)

    async def _retry_scheduled(self, trace: CallTrace, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if isinstance(error, Exception):
            await self._emit(trace.retry_scheduled(wait, error))

    # ----- completions ------------------------------------------------------------------------------

    def _params(self, params: NodeCompletionParameters | None) -> NodeCompletionParameters:
        """A call's parameters over the client's defaults."""
        return apply_defaults(params, self._default_params)

    async def _fall_back(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        attempt: Callable[[GeneratorInfo], Awaitable[_T]],
        reply: Callable[[_T], ChatNode | None],
    ) -> _T:
        """``attempt`` with ``generator``, or with each generator of a fallback chain in turn until one answers
        (the core's ``FallbackRun`` says when to move on; ``reply`` finds the node to record the attempts on)."""
        if not isinstance(generator, FallbackGenerator):
            return await attempt(generator)
        run = FallbackRun(generator)
        for each in run:
            try:
                result = await attempt(each)
            except MiniLLMError as error:
                run.failed(each, error)
            else:
                run.succeeded(each, reply(result))
                return result
        raise run.last_error()

    async def acomplete(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> ChatNode:
        """Complete the thread ending at ``node``; return the new assistant node (see ``ChatNode.acomplete``)."""
        return await self._fall_back(generator, lambda each: self._complete_one(node, each, params), _itself)

    async def _complete_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> ChatNode:
        reply, _, _ = await self._complete(CompletionCall(node, generator, self._params(params)))
        return reply

    async def _retry(
        self,
        call: CompletionCall,
        error: Exception,
        attempt: Callable[[], Awaitable[_T]],
        trace: CallTrace | None,
    ) -> _T:
        """The retries of ``attempt`` after its first try failed with ``error``; raises ``error`` (or
        ``MaxRetriesExceededError``) when the call's policy retries nothing more.

        Callers make the first try themselves, outside tenacity: most succeed, and tenacity's loop costs more
        than the rest of a request's own work (about 28 us; ``bench/README.md``)."""
        import tenacity

        wait = retry_wait(call.retry_policy, error)
        if trace is not None:
            await self._emit(trace.retry_scheduled(wait, error))
        await _concurrency.asleep(wait)
        before_sleep = None if trace is None else functools.partial(self._retry_scheduled, trace)
        settings = retry_settings(call.retry_policy, done=1, before_sleep=before_sleep)
        retrying = tenacity.AsyncRetrying(sleep=_concurrency.asleep, **settings)
        async for state in retrying:
            with state:
                result = await attempt()
        return result

    async def _exchange(
        self,
        call: CompletionCall,
        timeout: httpx.Timeout,
        trace: CallTrace | None,
    ) -> CompletionResponse:
        """One attempt of a plain request: build it, send it, read the answer."""
        request = call.request()
        if trace is not None:
            await self._emit(*trace.sending(request))
        return call.parse_response(*await self._send(request, timeout))

    async def _attempt(
        self, call: CompletionCall, timeout: httpx.Timeout, trace: CallTrace | None
    ) -> tuple[ChatNode, CompletionResponse]:
        response = await self._exchange(call, timeout, trace)
        return call.accept(response), response

    async def _complete(
        self, call: CompletionCall, *, costed: bool = False
    ) -> tuple[ChatNode, CompletionResponse, CostInfo | None]:
        """Run ``call`` with its retries; its cost is resolved when ``costed`` or a cost callback wants it."""
        trace = self._trace(call)
        timeout = request_timeout(self._timeout, call.timeout())
        try:
            try:  # the first attempt outside tenacity (see _retry)
                node, response = await self._attempt(call, timeout, trace)
            except Exception as error:
                node, response = await self._retry(call, error, lambda: self._attempt(call, timeout, trace), trace)
        except Exception as error:
            if trace is not None:
                await self._emit(trace.failed(error))
            raise
        callback = call.params.cost_callback
        info = await self._resolve_cost(call, response) if costed or callback is not None else None
        if trace is not None:
            await self._emit(trace.cost_known(response, info), trace.response_received(response))
        await _concurrency.areport_cost(callback, info)
        return node, response, info

    async def acomplete_costed(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> tuple[ChatNode, CostInfo]:
        """``acomplete``, also returning the cost (looked up out of band when the reply carried no usage)."""
        return await self._fall_back(generator, lambda each: self._complete_costed_one(node, each, params), _first)

    async def _complete_costed_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> tuple[ChatNode, CostInfo]:
        reply, _, info = await self._complete(costed_call(node, generator, self._params(params)), costed=True)
        assert info is not None  # a costed call always resolves its cost
        return reply, info

    async def _resolve_cost(self, call: CompletionCall, response: CompletionResponse) -> CostInfo:
        return await self._drive(cost_flow(call, response))

    async def aensure_cached(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> CostInfo:
        """Send the thread once with a cache mark on its last message and no reply; return the cost."""
        return await self._fall_back(generator, lambda each: self._ensure_cached_one(node, each, params), _none)

    async def _ensure_cached_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> CostInfo:
        call = cache_warmup_call(node, generator, self._params(params))
        trace = self._trace(call)
        timeout = request_timeout(self._timeout, call.timeout())
        try:
            response = await self._exchange(call, timeout, trace)
        except Exception as error:
            if trace is not None:
                await self._emit(trace.failed(error))
            raise
        info = call.cost_from_usage(response)
        if trace is not None:
            await self._emit(trace.cost_known(response, info), trace.response_received(response))
        await _concurrency.areport_cost(call.params.cost_callback, info)
        return info

    async def acomplete_streaming(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> AsyncCompletionStream:
        """Start a stream (the start is retried per ``params``, and falls back to the next generator of a
        ``FallbackGenerator``; the stream itself is never retried or switched)."""
        return await self._fall_back(generator, lambda each: self._complete_streaming_one(node, each, params), _none)

    async def _complete_streaming_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> AsyncCompletionStream:
        call = CompletionCall(node, generator, self._params(params), stream=True)
        trace = self._trace(call)
        timeout = stream_timeout(self._timeout, call.timeout())
        try:
            try:
                response = await self._open_stream(call, timeout, trace)
            except Exception as error:
                response = await self._retry(call, error, lambda: self._open_stream(call, timeout, trace), trace)
        except Exception as error:
            if trace is not None:
                await self._emit(trace.failed(error))
            raise
        return AsyncCompletionStream(self, call, response, trace)


def _itself(node: ChatNode) -> ChatNode:
    return node


def _first(result: tuple[ChatNode, CostInfo]) -> ChatNode:
    return result[0]


def _none(_result: object) -> None:
    return None


class AsyncCompletionStream:
    """An async streamed completion: ``async for`` it for ``StreamChunk``s; ``response`` at the end.

    Use ``async with`` so the HTTP response is closed however the loop ends. A failure while it is read (a
    drop, an idle timeout, an in-band error) raises ``StreamError`` with the text received so far and the
    underlying error as its cause; the request is never re-sent.
    """

    def __init__(
        self, client: AsyncClient, call: CompletionCall, response: httpx.Response, trace: CallTrace | None = None
    ) -> None:
        self._client = client
        self._trace = trace
        self._call = call
        self._http_response = response
        self._raw = response.aiter_raw()
        self._cancelled = _concurrency.async_cancellation()
        self._parser = call.stream_parser(client._max_event_bytes)
        self._pending: Iterator[StreamChunk] = iter(())  # the last piece's chunks not handed out yet
        # Keep-alive comments alone must not hold a stream open: without timeout_secs, the client's read
        # timeout is the idle bound.
        self._clock = IdleClock(call.timeout() or client._timeout.read)
        self._final: CompletionResponse | None = None
        self._closed = False

    def __aiter__(self) -> AsyncCompletionStream:
        return self

    async def __anext__(self) -> StreamChunk:
        # The chunks of the last piece read, else the next piece, read and parsed here rather than in helper
        # methods: this runs once per chunk.
        while True:
            chunk = next(self._pending, None)
            if chunk is not None:
                return chunk
            if self._closed:
                raise StopAsyncIteration
            if self._parser.error is not None:  # held back until the chunks before it were handed over
                await self._fail(self._parser.error)
            try:
                data = await self._raw.__anext__()
            except StopAsyncIteration:
                await self._end()
                continue
            except self._client._errors as e:
                await self._fail(map_transport_error(e, "reading the stream"))
            except self._cancelled:  # a cancelled read closes the response (async only: the blocking tuple is empty)
                await self.aclose()
                raise
            try:
                chunks = self._parser.feed(data)
            except StreamError as e:
                await self._fail(e)
            if chunks:
                self._clock.event()
                if self._trace is not None and not self._trace.first_chunk_seen:
                    await self._client._emit(self._trace.first_chunk())
                if len(chunks) == 1 and not self._parser.finished:
                    return chunks[0]  # the usual piece: one chunk, handed over without an iterator
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
        callback = self._call.params.cost_callback
        info = await self.acost() if callback is not None else None
        if self._trace is not None:
            trace = self._trace
            await self._client._emit(trace.cost_known(self._final, info), trace.stream_finished(self._final, True))
        await _concurrency.areport_cost(callback, info)

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
        # The trace is taken first, so that closing reports the failure, not an early close.
        trace, self._trace = self._trace, None
        await self.aclose()
        failure = self._parser.fail(error)
        if trace is not None:
            await self._client._emit(trace.failed(failure))
        raise failure

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

    async def apartial(self) -> AsyncIterator[Any]:
        """Read the stream to its end, yielding the reply's JSON value each time it grows (plain JSON values;
        ``append_response(stream.response, params)`` validates the whole reply)."""
        values = self._call.partial_values()
        async for chunk in self:
            for value in values.feed(chunk):
                yield value

    async def acost(self) -> CostInfo:
        """What this stream's completion cost, finished or closed early: from its usage, else looked up out
        of band where the wire can (OpenRouter ``/generation``, a bounded poll), else ``UNKNOWN``."""
        response = self._final or self._parser.accumulator.response(self._http_response.headers)
        return await self._client._resolve_cost(self._call, response)

    async def aclose(self) -> None:
        """Close the HTTP response (safe to call more than once); unread chunks are dropped."""
        if not self._closed:
            self._closed = True
            # Finish the body iterator too: left suspended, it would outlive its response (and its event loop).
            await self._raw.aclose()  # type: ignore[attr-defined]
            await self._http_response.aclose()
            if self._trace is not None and self._final is None:  # closed before its end
                partial = self._parser.accumulator.response(self._http_response.headers)
                await self._client._emit(self._trace.stream_finished(partial, False))

    async def __aenter__(self) -> AsyncCompletionStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
