"""A local HTTP server that speaks the OpenAI, OpenRouter and Anthropic wires with scripted replies.

``MockLLMServer`` listens on loopback (a free port by default) and answers each request with the next
scripted ``Reply`` (or a dynamic responder's, or an echo of the last user message), shaped for the request's
wire. It records every request for assertions. It runs an asyncio server on its own event loop in a daemon
thread, so blocking code, async code and notebooks can all use it, and a thousand concurrent connections cost
one thread.

The HTTP/1.1 side is deliberately small: request bodies by ``Content-Length`` or chunked, keep-alive,
responses with ``Content-Length`` or ``Transfer-Encoding: chunked`` (streams: one SSE event per chunk). Request
heads are bounded (64 KiB) so a runaway client cannot grow a buffer without limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from minillm.core.errors import ConfigurationError, InvalidParameterError
from minillm.testing.models import DEFAULT_MODELS
from minillm.testing.profiles import ServerEmulation, emulation_for
from minillm.testing.renderers import renderer_for, status_phrase
from minillm.testing.replies import Reply, ResponsePlan
from minillm.testing.request import RecordedRequest, Wire, echo_text, estimate_tokens, prompt_length

if TYPE_CHECKING:
    from minillm.core.generator import GeneratorInfo

__all__ = ["DUMMY_KEY", "MockLLMServer", "Responder"]

Responder = Callable[[RecordedRequest], Reply | None]
"""A function choosing the reply to a request (None: fall back to the default echo)."""

DUMMY_KEY = "test-key"
"""The credential of ``MockLLMServer.generator``'s generators (the server accepts any)."""

_HEAD_LIMIT = 64 * 1024
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


def _start_failure(cause: BaseException, host: str, port: int) -> ConfigurationError:
    """The error for a server that could not start, saying why and what to do."""
    if isinstance(cause, OSError):
        return ConfigurationError(
            f"the test server could not listen on {host}:{port}: {cause}; use port=0 for a free port"
        )
    return ConfigurationError(
        f"the test server could not start: {str(cause).rstrip('.')}. "
        "If sockets are blocked (pytest-socket), allow loopback: pytest --allow-hosts=127.0.0.1,::1 "
        "(or mark the test with enable_socket)"
    )


@attrs.frozen
class _Rejection:
    """A request the server cannot parse: answered with ``status`` and ``message``, then the connection closes."""

    status: int
    message: str


@attrs.define
class _Generation:
    answer: dict[str, Any] | Reply
    pending_polls: int = 0


class MockLLMServer:
    """A scripted OpenAI / OpenRouter / Anthropic server on ``host`` (loopback) and ``port`` (0: a free one).

    Use it as a context manager, or call ``start()`` and ``stop()``. Point a generator at ``openai_base_url``
    (OpenAI and generic servers), ``openrouter_base_url`` or ``anthropic_base_url``, script replies with
    ``enqueue``, and read what was sent in ``requests``. Every method is thread-safe.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, profile: str | None = None) -> None:
        self._emulation: ServerEmulation | None = None if profile is None else emulation_for(profile)
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._queue: collections.deque[Reply] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._responder: Responder | None = None
        self._generations: dict[str, _Generation] = {}
        self._models: list[dict[str, Any]] = list(DEFAULT_MODELS)
        self._token_count: int | Reply | None = None
        self._errors: list[str] = []
        self._sequence = 0
        self._connection_count = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None

    # ----- lifecycle ------------------------------------------------------------------------------

    def start(self) -> MockLLMServer:
        """Start listening (no-op if already running) and return the server."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(target=self._run, args=(ready, failure), name="minillm-mock-llm", daemon=True)
        thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise ConfigurationError(f"the test server did not start within {_START_TIMEOUT:.0f} s")
        if failure:
            thread.join()
            raise _start_failure(failure[0], self._host, self._requested_port) from failure[0]
        self._thread = thread
        return self

    def stop(self) -> None:
        """Close every open connection (silent ones included), stop listening and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(_STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            self._thread = None
            self._port = None

    def __enter__(self) -> MockLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._thread is not None

    # ----- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise ConfigurationError("the test server is not running: call start() or use it in a `with` block")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port``, with no trailing slash."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The base URL for OpenAI-wire generators (``url + "/v1"``; requests go to ``/v1/chat/completions``)."""
        return self.url + "/v1"

    @property
    def openrouter_base_url(self) -> str:
        """The base URL for OpenRouter generators (``url + "/api/v1"``, as on openrouter.ai)."""
        return self.url + "/api/v1"

    @property
    def anthropic_base_url(self) -> str:
        """The base URL for Anthropic generators (``url``; requests go to ``/v1/messages``)."""
        return self.url

    def generator(self, wire: str, model: str) -> GeneratorInfo:
        """A generator of the preset ``wire`` (``"openai"``, ``"openrouter"``, ``"anthropic"``,
        ``"claude_subscription"`` or ``"custom"``) for ``model``, pointed at this server with a dummy
        credential, so a test needs neither a key nor the network."""
        from minillm.core.generator import GeneratorInfo

        if wire == "openai":
            return GeneratorInfo.openai(model).with_api_key(DUMMY_KEY).with_base_url(self.openai_base_url)
        if wire == "openrouter":
            return GeneratorInfo.openrouter(model).with_api_key(DUMMY_KEY).with_base_url(self.openrouter_base_url)
        if wire == "anthropic":
            return GeneratorInfo.anthropic(model).with_api_key(DUMMY_KEY).with_base_url(self.anthropic_base_url)
        if wire == "claude_subscription":
            gen = GeneratorInfo.claude_subscription(model).with_bearer_token(DUMMY_KEY)
            return gen.with_base_url(self.anthropic_base_url)
        if wire == "custom":
            return GeneratorInfo.custom("local", self.openai_base_url, model)
        raise InvalidParameterError(
            f"unknown wire {wire!r}; use one of: openai, openrouter, anthropic, claude_subscription, custom"
        )

    # ----- scripting ------------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each completion request takes the next one, in order. ``GET .../generation``
        lookups do not take from the queue (see ``set_generation``)."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise InvalidParameterError(
                    f"enqueue() takes Reply objects (Reply.text(...), Reply.error(...) ...), got {reply!r}"
                )
        with self._lock:
            self._queue.extend(replies)

    def set_responder(self, responder: Responder | None) -> None:
        """Choose replies with ``responder(request)`` once the queue is empty (None removes it). It runs on
        the server's event loop, so it must not block; returning None falls back to the echo reply."""
        with self._lock:
            self._responder = responder

    def emulate(self, profile: str | None) -> None:
        """Answer chat completions as the server of a named compatibility profile would (``"ollama"``,
        ``"groq"``, ...): refuse what it refuses, with its status and error body; None stops emulating."""
        emulation = None if profile is None else emulation_for(profile)
        with self._lock:
            self._emulation = emulation

    @property
    def emulation(self) -> ServerEmulation | None:
        """The emulated server (``emulation.ignored_keys(body)`` names what it would ignore), or None."""
        return self._emulation

    def set_generation(self, generation_id: str, record: Mapping[str, Any] | Reply, *, pending_polls: int = 0) -> None:
        """Script OpenRouter's ``GET .../generation?id=<generation_id>``: the answer is ``{"data": record}``
        (or ``record`` if it is a ``Reply``), after ``pending_polls`` lookups answered 404 "not found yet".

        Without a scripted record, every completion answered on the OpenAI wire has one already, made from
        its usage and cost (``total_cost`` is the reply's cost, 0.0 when it has none).
        """
        if pending_polls < 0:
            raise InvalidParameterError(f"pending_polls must be >= 0, got {pending_polls}")
        answer: dict[str, Any] | Reply = record if isinstance(record, Reply) else {"id": generation_id, **record}
        with self._lock:
            self._generations[generation_id] = _Generation(answer, pending_polls)

    def set_models(self, models: list[dict[str, Any]] | Reply) -> None:
        """What ``GET .../models`` answers: ``{"data": models}`` (entries as ``minillm.testing.model_entry``
        makes them), or a scripted ``Reply`` (an error, a broken body). The default lists a few example models."""
        with self._lock:
            self._models = models if isinstance(models, Reply) else list(models)  # type: ignore[assignment]

    def set_token_count(self, tokens: int | Reply | None) -> None:
        """What ``POST .../messages/count_tokens`` answers: ``{"input_tokens": tokens}``, a scripted ``Reply``, or
        (None) about one token per four characters of the prompt's text. Keys the endpoint refuses get a 400."""
        with self._lock:
            self._token_count = tokens

    @property
    def queued(self) -> int:
        """How many enqueued replies have not been used yet."""
        with self._lock:
            return len(self._queue)

    # ----- inspection -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request."""
        with self._lock:
            if not self._requests:
                raise InvalidParameterError("the test server has not received any request yet")
            return self._requests[-1]

    @property
    def connection_count(self) -> int:
        """How many TCP connections the server has accepted since it started."""
        return self._connection_count

    @property
    def open_connections(self) -> int:
        """How many connections are open on the server's side right now (idle kept-alive ones included). A
        client that closed its end is counted until the server has noticed, a moment later."""
        return len(self._connections)

    @property
    def errors(self) -> list[str]:
        """Scripted replies that failed to render (each was answered with a 500 saying why)."""
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget recorded requests, queued replies, the responder, generation records, errors and the
        emulated server."""
        with self._lock:
            self._emulation = None
            self._requests.clear()
            self._queue.clear()
            self._responder = None
            self._generations.clear()
            self._errors.clear()
            self._models = list(DEFAULT_MODELS)
            self._token_count = None

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "stopped"
        return f"MockLLMServer({where}, {len(self._requests)} requests, {len(self._queue)} queued)"

    # ----- the event loop thread ------------------------------------------------------------------

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        # Any failure to start (a busy port, or sockets blocked by pytest-socket, which already refuses the
        # event loop's own socket pair) is handed to start() at once, not left for its timeout to find.
        try:
            loop = asyncio.new_event_loop()
        except Exception as e:
            failure.append(e)
            ready.set()
            return
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._listen())
            except Exception as e:
                failure.append(e)
                ready.set()
                return
            self._loop = loop
            ready.set()
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
            self._loop = None

    async def _listen(self) -> None:
        self._stopping = asyncio.Event()
        self._server = await asyncio.start_server(
            self._connection, self._host, self._requested_port, limit=_HEAD_LIMIT, backlog=4096
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        assert self._server is not None and self._stopping is not None
        self._stopping.set()
        self._server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    # ----- one connection -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._connection_count += 1
        number = self._connection_count
        try:
            keep_alive = True
            while keep_alive:
                parsed = await self._read_request(reader, writer, number)
                if parsed is None:
                    break
                if isinstance(parsed, _Rejection):
                    await self._write_simple(writer, parsed.status, parsed.message)
                    break
                request, keep_alive = parsed
                keep_alive = await self._answer(request, keep_alive, reader, writer) and keep_alive
            writer.close()  # flushes what is still buffered, then FIN
            await writer.wait_closed()
        except (ConnectionError, asyncio.IncompleteReadError):
            # The client went away: nothing is left to answer on this connection. Collect how the connection
            # ended, or asyncio reports the error of a future nobody read.
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        except asyncio.CancelledError:
            # stop() is closing every connection. This task is the connection's own (asyncio made it), so it
            # ends here; ending it cancelled would only make asyncio log the cancellation as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.transport.abort()  # no-op after a clean close; drops the socket on cancel (stop())

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: int
    ) -> tuple[RecordedRequest, bool] | _Rejection | None:
        """The next request and whether the client allows keep-alive; None at a clean end of the connection."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            return _Rejection(400, "the request head ended early") if e.partial.strip() else None
        except asyncio.LimitOverrunError:
            return _Rejection(431, f"request head larger than {_HEAD_LIMIT} bytes")
        lines = head.lstrip(b"\r\n").decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _Rejection(400, f"not an HTTP/1.x request line: {lines[0][:100]!r}")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                return _Rejection(400, f"malformed header line: {line[:100]!r}")
            headers[name.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._read_body(reader, headers)
        if isinstance(body, _Rejection):
            return body
        wants = headers.get("connection", "").lower()
        keep_alive = wants != "close" and (version == "HTTP/1.1" or wants == "keep-alive")
        split = urlsplit(target)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None  # not JSON: recorded as raw bytes only
        query = dict(parse_qsl(split.query))
        request = RecordedRequest(method, split.path, query, headers, body, parsed, connection)
        return request, keep_alive

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes | _Rejection:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            pieces: list[bytes] = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    return _Rejection(400, "malformed chunk size in the request body")
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailer fields, ignored
                    return b"".join(pieces)
                pieces.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = headers.get("content-length")
        if length is None:
            return b""
        if not length.isdigit():
            return _Rejection(400, f"malformed Content-Length: {length[:40]!r}")
        return await reader.readexactly(int(length))

    def _choose(self, request: RecordedRequest) -> tuple[Reply, int]:
        """Record the request and pick its reply: the queue, then the responder, then the echo."""
        with self._lock:
            self._requests.append(request)
            self._sequence += 1
            sequence = self._sequence
            if request.wire is Wire.GENERATION:
                return self._generation_answer(request), sequence
            if request.wire is Wire.MODELS:
                return self._models_answer(), sequence
            if request.wire is Wire.COUNT_TOKENS and request.method == "POST":
                return self._count_answer(request), sequence
            if request.method != "POST":
                return Reply.error(404, f"no {request.method} route for {request.path} on the test server"), sequence
            refused = renderer_for(request).rule_violation(request)
            if refused is not None:  # as the real API answers; the queued reply stays for the next request
                return Reply.error(400, refused), sequence
            if self._emulation is not None and request.wire is Wire.OPENAI:
                refusal = self._emulation.check(request)
                if refusal is not None:  # as the emulated server answers; the queued reply stays
                    return refusal, sequence
            if self._queue:
                return self._queue.popleft(), sequence
            responder = self._responder
        reply = responder(request) if responder is not None else None
        return (Reply.text(echo_text(request)) if reply is None else reply), sequence

    def _generation_answer(self, request: RecordedRequest) -> Reply:
        """The answer to ``GET .../generation?id=...`` (called with the lock held)."""
        generation_id = request.query.get("id", "")
        entry = self._generations.get(generation_id)
        if entry is not None and entry.pending_polls > 0:
            entry.pending_polls -= 1
            entry = None
        if entry is None:
            body = {"error": {"code": 404, "message": f"Generation {generation_id!r} not found"}}
            return Reply.error(404, body=body)
        if isinstance(entry.answer, Reply):
            return entry.answer
        return Reply.raw(200, json.dumps({"data": entry.answer}), content_type="application/json")

    def _models_answer(self) -> Reply:
        """The answer to ``GET .../models`` (called with the lock held)."""
        models: Any = self._models
        if isinstance(models, Reply):
            return models
        return Reply.raw(200, json.dumps({"data": models}), content_type="application/json")

    def _count_answer(self, request: RecordedRequest) -> Reply:
        """The answer to ``POST .../messages/count_tokens`` (called with the lock held)."""
        body = request.json if isinstance(request.json, dict) else {}
        refused = sorted(set(body) - {"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"})
        if refused or "messages" not in body or "model" not in body:
            what = f"{refused[0]}: Extra inputs are not permitted" if refused else "model and messages: Field required"
            error = {"type": "error", "error": {"type": "invalid_request_error", "message": what}}
            return Reply.error(400, body=error)
        tokens = self._token_count
        if isinstance(tokens, Reply):
            return tokens
        if tokens is None:
            tokens = estimate_tokens(prompt_length(body) + len(json.dumps(body.get("tools", []))))
        return Reply.raw(200, json.dumps({"input_tokens": tokens}), content_type="application/json")

    def _plan(self, request: RecordedRequest) -> ResponsePlan:
        try:
            reply, sequence = self._choose(request)
            plan = reply.render(request, sequence=sequence)
        except Exception as e:  # a scripting mistake: answer 500 saying so, and keep it for the test to see
            message = f"minillm.testing could not answer {request.method} {request.path}: {type(e).__name__}: {e}"
            with self._lock:
                self._errors.append(message)
            data = message.encode("utf-8")
            return ResponsePlan(
                status=500,
                headers=(("Content-Type", "text/plain; charset=utf-8"),),
                body=[data],
                content_length=len(data),
            )
        if plan.generation_record is not None:
            generation_id, record = plan.generation_record
            with self._lock:
                self._generations.setdefault(generation_id, _Generation(record))
        return plan

    async def _answer(
        self, request: RecordedRequest, keep_alive: bool, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Carry out the plan for ``request``; return whether the connection can serve another request."""
        plan = self._plan(request)
        if plan.action == "silent":
            await self._stay_silent(reader)
            return False
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.action == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        chunked = plan.content_length is None
        framing = {"content-length", "transfer-encoding", "connection"}
        lines = [f"HTTP/1.1 {plan.status} {status_phrase(plan.status)}", "Server: minillm-testing"]
        lines += [f"{name}: {value}" for name, value in plan.headers if name.lower() not in framing]
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {plan.content_length}")
        lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if plan.header_byte_delay:
            for i in range(len(head)):
                writer.write(head[i : i + 1])
                await writer.drain()
                await asyncio.sleep(plan.header_byte_delay)
        else:
            writer.write(head)
        budget = plan.drop_after_bytes if plan.drop_after_bytes is not None else plan.stall_after_bytes
        first = True
        for piece in plan.body:
            if not piece:
                continue
            if not first and plan.chunk_delay:
                await asyncio.sleep(plan.chunk_delay)
            first = False
            if budget is not None and len(piece) > budget:
                # Cut mid-body: announce the whole chunk, send part of it, then close (the client sees the body
                # end early) or, for a stall, send nothing more until the client gives up.
                writer.write((b"%x\r\n" % len(piece) if chunked else b"") + piece[:budget])
                await writer.drain()
                if plan.drop_after_bytes is None:
                    await self._stay_silent(reader)
                    return False
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
                return False
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            if budget is not None:
                budget -= len(piece)
        if chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _stay_silent(self, reader: asyncio.StreamReader) -> None:
        """Wait, answering nothing, until the server stops or the client hangs up."""
        assert self._stopping is not None
        waiters = {asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(reader.read())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _write_simple(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        data = message.encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {status_phrase(status)}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + data)
        await writer.drain()
