# Generated from minillm/transport/async_client.py by scripts/unasync.py: do not edit it by hand.
# Change async_client.py, then run `python scripts/unasync.py` (CI runs it with --check).
"""``SyncClient``: the blocking transport over ``httpx.Client``, and its ``CompletionStream``.

It sends what the core builds and feeds back what it receives; every decision (prompt, wire, retry, cost)
is the core's. ``async_client.py`` is the source of both clients: ``scripts/unasync.py`` generates
``sync_client.py`` from it, so edit ``async_client.py`` and run ``python scripts/unasync.py``. Where the two
worlds really differ (deadlines, waiting, the HTTP client made, cost callbacks, the event loop) the code calls
the twin helpers of ``_concurrency``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx

from minillm.core.cost_lookup import Answer, Flow, Wait, cost_flow
from minillm.core.errors import APITimeoutError, InvalidParameterError, MiniLLMError, StreamError
from minillm.core.fallback import FallbackGenerator, FallbackRun
from minillm.core.flow import CompletionCall, cache_warmup_call, costed_call
from minillm.core.generator import GeneratorInfo
from minillm.core.http import HTTPRequest, body_too_large
from minillm.core.params import NodeCompletionParameters
from minillm.core.response import CompletionResponse
from minillm.core.sse import DEFAULT_MAX_EVENT_BYTES
from minillm.core.stream import StreamChunk
from minillm.core.tree import ChatNode
from minillm.core.usage import CostInfo
from minillm.transport import _concurrency
from minillm.transport._common import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_PARAMS,
    DEFAULT_TIMEOUT,
    IdleClock,
    check_client_options,
    client_timeout,
    map_transport_error,
    max_bytes,
    request_timeout,
    retry_settings,
    retry_wait,
    stream_timeout,
    transport_errors,
    url_parser,
)

__all__ = ["CompletionStream", "SyncClient"]

_T = TypeVar("_T")


class SyncClient:
    """A blocking client: ``node.complete(gen, client=client)``. Safe to share between threads.

    ``http_client`` injects your own ``httpx.Client`` (its proxies, certificates and hooks carry every
    request; you close it); an ``httpx2.Client`` works too. ``timeout`` is the default for requests whose
    parameters set none. ``max_connections`` bounds the connections of the pool minillm makes when no client
    is injected (100 by default). ``max_response_bytes`` caps an answer body read whole (128 MiB by default;
    a longer one raises ``MalformedResponseError``). minillm never follows a redirect, whatever the injected
    client's ``follow_redirects``: a 3xx raises ``APIError`` naming its ``Location``.
    ``max_event_bytes`` bounds one server-sent event of a stream (16 MiB by default): a larger one raises
    ``StreamError``.
    """

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_client_options(timeout=timeout, max_connections=max_connections, max_event_bytes=max_event_bytes)
        self._max_event_bytes = max_event_bytes
        self._max_response_bytes = max_bytes("max_response_bytes", max_response_bytes)
        if http_client is None:
            self._timeout = httpx.Timeout(timeout) if timeout is not None else DEFAULT_TIMEOUT
            self._http = _concurrency.sync_http_client(self._timeout, max_connections)
            self._owns_http = True
        else:
            self._timeout = client_timeout(http_client, timeout)
            self._http = http_client
            self._owns_http = False
        self._errors = transport_errors(self._http)
        self._url = url_parser(self._http)
        self._loop_check = _concurrency.NoLoopCheck()

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

    def _build(self, request: HTTPRequest, timeout: httpx.Timeout) -> httpx.Request:
        return self._http.build_request(
            request.method,
            self._url(request.url),
            headers=request.headers,
            content=request.body_bytes(),
            timeout=timeout,
        )

    def _send(self, request: HTTPRequest, timeout: httpx.Timeout) -> Answer:
        self._loop_check.check()
        built = self._build(request, timeout)
        del request  # httpx holds the bytes it sends: the body as JSON values need not live while the answer comes
        # The timeout is a deadline for the whole request, not for each read.
        return _concurrency.call_within(timeout.read, "waiting for the response", self._receive, built)

    def _receive(self, built: httpx.Request) -> Answer:
        try:
            response = self._http.send(built, stream=True, follow_redirects=False)
            try:
                body = self._read_body(response)
            finally:
                response.close()
        except self._errors as e:
            raise map_transport_error(e, "waiting for the response") from e
        return response.status_code, response.headers, body

    def _read_body(self, response: httpx.Response) -> bytes:
        """The whole (decoded) body, read piece by piece up to ``max_response_bytes``: an endless body
        raises ``MalformedResponseError`` rather than fill memory."""
        pieces: list[bytes] = []
        left = self._max_response_bytes
        for piece in response.iter_bytes():
            left -= len(piece)
            if left < 0:
                raise body_too_large(self._max_response_bytes)
            pieces.append(piece)
        return b"".join(pieces)

    def _open_stream(self, call: CompletionCall, timeout: httpx.Timeout) -> httpx.Response:
        self._loop_check.check()
        built = self._build(call.request(), timeout)
        # The idle bound also bounds the wait for the whole head.
        return _concurrency.call_within(timeout.read, "starting the stream", self._start_stream, call, built)

    def _start_stream(self, call: CompletionCall, built: httpx.Request) -> httpx.Response:
        try:
            response = self._http.send(built, stream=True, follow_redirects=False)
        except self._errors as e:
            raise map_transport_error(e, "starting the stream") from e
        if not call.stream_started(response.status_code, response.headers):
            try:
                body = self._read_body(response)
            except self._errors as e:
                raise map_transport_error(e, "reading the error response") from e
            finally:
                response.close()
            call.check_stream_start(response.status_code, response.headers, body)
        return response

    def _drive(self, flow: Flow[_T]) -> _T:
        """Run a core flow: wait when it says wait, send what it says send, hand back each answer (or throw
        in the error it failed with), until it returns."""
        try:
            step = next(flow)
            while True:
                if isinstance(step, Wait):
                    _concurrency.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                try:
                    answer = self._send(step.request, request_timeout(self._timeout, step.timeout))
                except Exception as error:
                    step = flow.throw(error)
                else:
                    step = flow.send(answer)
        except StopIteration as done:
            result: _T = done.value
            return result

    def send_request(self, request: HTTPRequest, timeout: float | None = None) -> Answer:
        """Send one request the core built (a token count, the price catalog); return status, headers and body."""
        return self._send(request, request_timeout(self._timeout, timeout))

    # ----- completions ------------------------------------------------------------------------------

    def _fall_back(
        self,
        generator: GeneratorInfo | FallbackGenerator,
        attempt: Callable[[GeneratorInfo], _T],
        reply: Callable[[_T], ChatNode | None],
    ) -> _T:
        """``attempt`` with ``generator``, or with each generator of a fallback chain in turn until one answers
        (the core's ``FallbackRun`` says when to move on; ``reply`` finds the node to record the attempts on)."""
        if not isinstance(generator, FallbackGenerator):
            return attempt(generator)
        run = FallbackRun(generator)
        for each in run:
            try:
                result = attempt(each)
            except MiniLLMError as error:
                run.failed(each, error)
            else:
                run.succeeded(each, reply(result))
                return result
        raise run.last_error()

    def complete(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> ChatNode:
        """Complete the thread ending at ``node``; return the new assistant node (see ``ChatNode.complete``)."""
        return self._fall_back(generator, lambda each: self._complete_one(node, each, params), _itself)

    def _complete_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> ChatNode:
        reply, _ = self._complete(CompletionCall(node, generator, params or DEFAULT_PARAMS))
        return reply

    def _retry(self, call: CompletionCall, error: Exception, attempt: Callable[[], _T]) -> _T:
        """The retries of ``attempt`` after its first try failed with ``error``; raises ``error`` (or
        ``MaxRetriesExceededError``) when the call's policy retries nothing more.

        Callers make the first try themselves, outside tenacity: most succeed, and tenacity's loop costs more
        than the rest of a request's own work (about 28 us; ``bench/README.md``)."""
        import tenacity

        _concurrency.sleep(retry_wait(call.retry_policy, error))
        retrying = tenacity.Retrying(sleep=_concurrency.sleep, **retry_settings(call.retry_policy, done=1))
        for state in retrying:
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
            _concurrency.report_cost(call.params.cost_callback, self._resolve_cost(call, response))
        return node, response

    def complete_costed(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> tuple[ChatNode, CostInfo]:
        """``complete``, also returning the cost (looked up out of band when the reply carried no usage)."""
        return self._fall_back(generator, lambda each: self._complete_costed_one(node, each, params), _first)

    def _complete_costed_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> tuple[ChatNode, CostInfo]:
        call = costed_call(node, generator, params)
        reply, response = self._complete(call)
        return reply, self._resolve_cost(call, response)

    def _resolve_cost(self, call: CompletionCall, response: CompletionResponse) -> CostInfo:
        return self._drive(cost_flow(call, response))

    def ensure_cached(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> CostInfo:
        """Send the thread once with a cache mark on its last message and no reply; return the cost."""
        return self._fall_back(generator, lambda each: self._ensure_cached_one(node, each, params), _none)

    def _ensure_cached_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> CostInfo:
        call = cache_warmup_call(node, generator, params or DEFAULT_PARAMS)
        timeout = request_timeout(self._timeout, call.timeout())
        response = call.parse_response(*self._send(call.request(), timeout))
        info = call.cost_from_usage(response)
        _concurrency.report_cost(call.params.cost_callback, info)
        return info

    def complete_streaming(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> CompletionStream:
        """Start a stream (the start is retried per ``params``, and falls back to the next generator of a
        ``FallbackGenerator``; the stream itself is never retried or switched)."""
        return self._fall_back(generator, lambda each: self._complete_streaming_one(node, each, params), _none)

    def _complete_streaming_one(
        self, node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None
    ) -> CompletionStream:
        call = CompletionCall(node, generator, params or DEFAULT_PARAMS, stream=True)
        timeout = stream_timeout(self._timeout, call.timeout())
        try:
            response = self._open_stream(call, timeout)
        except Exception as error:
            response = self._retry(call, error, lambda: self._open_stream(call, timeout))
        return CompletionStream(self, call, response)


def _itself(node: ChatNode) -> ChatNode:
    return node


def _first(result: tuple[ChatNode, CostInfo]) -> ChatNode:
    return result[0]


def _none(_result: object) -> None:
    return None


class CompletionStream:
    """A streamed completion: iterate it for ``StreamChunk``s; ``response`` at the end.

    Use ``with`` so the HTTP response is closed however the loop ends. A failure while it is read (a
    drop, an idle timeout, an in-band error) raises ``StreamError`` with the text received so far and the
    underlying error as its cause; the request is never re-sent.
    """

    def __init__(self, client: SyncClient, call: CompletionCall, response: httpx.Response) -> None:
        self._client = client
        self._call = call
        self._http_response = response
        self._raw = response.iter_raw()
        self._cancelled = _concurrency.sync_cancellation()
        self._parser = call.stream_parser(client._max_event_bytes)
        self._pending: Iterator[StreamChunk] = iter(())  # the last piece's chunks not handed out yet
        # Keep-alive comments alone must not hold a stream open: without timeout_secs, the client's read
        # timeout is the idle bound.
        self._clock = IdleClock(call.timeout() or client._timeout.read)
        self._final: CompletionResponse | None = None
        self._closed = False

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> StreamChunk:
        # The chunks of the last piece read, else the next piece, read and parsed here rather than in helper
        # methods: this runs once per chunk.
        while True:
            chunk = next(self._pending, None)
            if chunk is not None:
                return chunk
            if self._closed:
                raise StopIteration
            if self._parser.error is not None:  # held back until the chunks before it were handed over
                self._fail(self._parser.error)
            try:
                data = self._raw.__next__()
            except StopIteration:
                self._end()
                continue
            except self._client._errors as e:
                self._fail(map_transport_error(e, "reading the stream"))
            except self._cancelled:  # a cancelled read closes the response (async only: the blocking tuple is empty)
                self.close()
                raise
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
            _concurrency.report_cost(self._call.params.cost_callback, self.cost())

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

    def partial(self) -> Iterator[Any]:
        """Read the stream to its end, yielding the reply's JSON value each time it grows (plain JSON values;
        ``append_response(stream.response, params)`` validates the whole reply)."""
        values = self._call.partial_values()
        for chunk in self:
            for value in values.feed(chunk):
                yield value

    def cost(self) -> CostInfo:
        """What this stream's completion cost, finished or closed early: from its usage, else looked up out
        of band where the wire can (OpenRouter ``/generation``, a bounded poll), else ``UNKNOWN``."""
        response = self._final or self._parser.accumulator.response(self._http_response.headers)
        return self._client._resolve_cost(self._call, response)

    def close(self) -> None:
        """Close the HTTP response (safe to call more than once); unread chunks are dropped."""
        if not self._closed:
            self._closed = True
            # Finish the body iterator too: left suspended, it would outlive its response.
            self._raw.close()  # type: ignore[attr-defined]
            self._http_response.close()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
