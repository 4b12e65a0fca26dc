"""A hostile server against the transports: an endless body, keep-alive comments for ever, requests cut at
random points, and a redirect to another origin. Each holds with bounded memory and time, a typed
``MiniLLMError``, no stuck connection, and no credential sent anywhere but the API host.

Every test runs in both worlds (the module-scoped ``api`` of ``conftest.py``, or clients made for one test
by ``make_api`` with the options it needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minillm import (
    APIError,
    AsyncClient,
    ChatNode,
    GeneratorInfo,
    InvalidParameterError,
    MalformedResponseError,
    MiniLLMError,
    NodeCompletionParameters,
    StreamError,
    SyncClient,
)
from minillm.core.errors import APITimeoutError
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API, MakeAPI
from tests.reliability.conftest import NO_RETRY, anthropic_gen, assert_released, busy_connections, openai_gen

streaming = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])


def _outcome(runner: API, gen: GeneratorInfo, params: NodeCompletionParameters, *, stream: bool) -> Any:
    """The reply's text, or the error the call raised."""
    node = ChatNode.user("hello")
    try:
        if stream:
            chunks, error = runner.stream_collecting(node, gen, params)
            return error if error is not None else "".join(chunk.delta for chunk in chunks)
        return runner.complete(node, gen, params).text
    except MiniLLMError as error:
        return error


# ----- an endless body ------------------------------------------------------------------------------------

ONE_TB = 10**12
CAP = 256 * 1024


def _completion_body(text: str) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    return json.dumps(body).encode()


def test_an_endless_body_stops_at_max_response_bytes(api: API, make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    """A 200 whose body never ends (a terabyte announced) is read up to the cap, then refused: a
    ``MalformedResponseError`` that gives the cap and how to raise it, not retried, memory bounded."""
    runner = make_api(timeout=30.0, max_response_bytes=CAP)
    llm_server.enqueue(Reply.large(ONE_TB))
    tracemalloc.start()
    try:
        error = _outcome(runner, openai_gen(llm_server), NO_RETRY.with_retry(2), stream=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, MalformedResponseError), error
    assert peak < 8 * CAP, f"peak {peak / 2**20:.1f} MiB"  # measured about 3x: the pieces, then their join
    assert f"{CAP:,} bytes" in str(error) and "max_response_bytes=" in str(error)
    assert len(llm_server.requests) == 1  # a malformed answer is not retried


def test_a_compressed_body_is_capped_once_decoded(api: API, make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    """A gzip bomb (8 MiB of spaces in 8 KiB) counts by its decoded size."""
    runner = make_api(max_response_bytes=CAP)
    bomb = gzip.compress(b" " * (8 * 2**20))
    assert len(bomb) < CAP
    llm_server.enqueue(Reply.raw(200, bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}))
    error = _outcome(runner, openai_gen(llm_server), NO_RETRY, stream=False)
    assert isinstance(error, MalformedResponseError) and "max_response_bytes" in str(error), error


def test_a_body_of_exactly_the_cap_is_read(api: API, make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    """The cap is inclusive: a body of exactly ``max_response_bytes`` is a reply; one byte less refuses it."""
    body = _completion_body("x" * 10_000)
    exact = make_api(max_response_bytes=len(body))
    short = make_api(max_response_bytes=len(body) - 1)
    llm_server.enqueue(Reply.raw(200, body, content_type="application/json"))
    assert _outcome(exact, openai_gen(llm_server), NO_RETRY, stream=False) == "x" * 10_000
    llm_server.enqueue(Reply.raw(200, body, content_type="application/json"))
    assert isinstance(_outcome(short, openai_gen(llm_server), NO_RETRY, stream=False), MalformedResponseError)


@pytest.mark.parametrize(
    ("status", "content_type"), [(502, "text/html"), (200, "application/json")], ids=["error-page", "json-200"]
)
def test_an_endless_body_at_a_stream_start_is_capped(
    api: API, make_api: MakeAPI, llm_server: MockLLMServer, status: int, content_type: str
) -> None:
    """A stream that does not start (an error status, or a document instead of events) has its body read
    to say why: that read is capped too."""
    runner = make_api(max_response_bytes=CAP)
    llm_server.enqueue(Reply.raw(status, b"x" * (4 * CAP), content_type=content_type))
    error = _outcome(runner, openai_gen(llm_server), NO_RETRY, stream=True)
    assert isinstance(error, MalformedResponseError) and "max_response_bytes" in str(error), error


@pytest.mark.parametrize("bad", [0, -1, 1.5, "64", True, None])
def test_max_response_bytes_is_checked(api: API, bad: Any) -> None:
    client_type: Any = SyncClient if api.mode == "sync" else AsyncClient
    with pytest.raises(InvalidParameterError, match="max_response_bytes"):
        client_type(max_response_bytes=bad)


def test_the_default_cap_leaves_a_real_client_usable(api: API, llm_server: MockLLMServer) -> None:
    """The module's client (default cap) reads ordinary and 1 MiB replies, and is fine afterwards."""
    llm_server.enqueue(Reply.large(2**20))
    assert len(api.complete(ChatNode.user("big"), openai_gen(llm_server), NO_RETRY).text) == 2**20
    assert_released(api, llm_server)


# ----- keep-alive comments for ever ---------------------------------------------------------------------


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_keepalive_comments_alone_hit_the_client_timeout(
    api: API, make_api: MakeAPI, llm_server: MockLLMServer, wire: str
) -> None:
    """Without ``timeout_secs``, the client's own timeout is the stream's idle bound: a server that only
    sends keep-alive comments (OpenRouter's ``: OPENROUTER PROCESSING``, Anthropic's ``ping``), each well
    inside the read timeout, gets ``StreamError`` caused by ``APITimeoutError`` instead of holding the
    stream for ever (here: for 200 comments, 10 s)."""
    runner = make_api(timeout=0.5)
    llm_server.enqueue(Reply.text("never reached", keepalive_comments=200, chunk_delay=0.05))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    error = _outcome(runner, gen, NO_RETRY, stream=True)
    assert isinstance(error, StreamError), error
    assert isinstance(error.__cause__, APITimeoutError) and "keep-alive" in str(error.__cause__)
    assert error.partial_text == ""
    assert len(llm_server.requests) == 1


# ----- requests cut at random points --------------------------------------------------------------------


def _is_after(request: Any) -> bool:
    """Whether ``request`` is one of the ordinary requests sent after the cut ones."""
    return b'"after the cuts"' in request.body


def _slow_replies(server: MockLLMServer, seed: int) -> None:
    """Every cut request answered slowly, at random: a wait before the head, then a body in trickling
    pieces; the ordinary requests after them at once (a cut request the server reads late still gets a
    slow answer, so it cannot take theirs)."""
    rng = random.Random(seed)

    def respond(request: Any) -> Reply:
        if _is_after(request):
            return Reply.text("ok")
        return Reply.large(20_000, chunk_size=1000, chunk_delay=rng.uniform(0, 0.002), delay=rng.uniform(0, 0.01))

    server.set_responder(respond)


def _all_reach_the_server(api: API, server: MockLLMServer, n: int) -> None:
    """``n`` ordinary requests, one after another, each reaching the server and answered."""
    for _ in range(n):
        reply = api.complete(ChatNode.user("after the cuts"), openai_gen(server), NO_RETRY.with_timeout(5.0))
        assert reply.text == "ok"
    assert sum(map(_is_after, server.requests)) == n
    assert busy_connections(api) == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_requests_cut_by_tiny_deadlines_leave_no_stuck_slot(api: API, llm_server: MockLLMServer, seed: int) -> None:
    """200 requests cut by ``timeout_secs`` of 1 to 15 ms at whatever point they reached (connecting,
    waiting for the head, reading the body), on a one-connection client: each fails with a typed error, and
    then the next requests all reach the server (a slot left taken would make them wait out the pool)."""
    _slow_replies(llm_server, seed)
    rng = random.Random(seed)
    for _ in range(200):
        params = NO_RETRY.with_timeout(rng.uniform(0.001, 0.015))
        with contextlib.suppress(MiniLLMError):
            api.complete(ChatNode.user("cut"), openai_gen(llm_server), params)
    _all_reach_the_server(api, llm_server, 5)


@pytest.mark.parametrize("concurrent", [False, True], ids=["one-by-one", "concurrent"])
def test_cancelled_requests_leave_no_stuck_slot(api: API, llm_server: MockLLMServer, concurrent: bool) -> None:
    """Async only: requests cancelled from outside (``asyncio.wait_for``) at random points, mixed with tiny
    deadlines, one by one or 50 at a time over one connection (so some wait for it when others are cut),
    free their slot: the next requests all reach the server."""
    if api.mode == "sync":
        pytest.skip("nothing cancels a blocking request from outside")
    _slow_replies(llm_server, 7)
    rng = random.Random(7)
    gen = openai_gen(llm_server)

    async def one(i: int) -> None:
        limit = rng.uniform(0.001, 0.015)
        node = ChatNode.user("cut")
        try:
            if i % 2:
                await asyncio.wait_for(node.acomplete(gen, NO_RETRY, client=api.async_client), limit)
            else:
                await node.acomplete(gen, NO_RETRY.with_timeout(limit), client=api.async_client)
        except (MiniLLMError, asyncio.TimeoutError):
            pass  # cut: what matters is the requests after

    async def go() -> None:
        if concurrent:
            for start in range(0, 200, 50):
                await asyncio.gather(*(one(i) for i in range(start, start + 50)))
        else:
            for i in range(200):
                await one(i)

    api.run(go())
    _all_reach_the_server(api, llm_server, 5)


# ----- a redirect to another origin ---------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[MockLLMServer]:
    """A second server on another port: another origin, which must never see a credential."""
    with MockLLMServer() as server:
        yield server


def _redirecting(api_host: MockLLMServer, target: MockLLMServer, status: int, wire: str) -> GeneratorInfo:
    location = f"{target.url}/stolen"
    api_host.enqueue(Reply.raw(status, "", headers={"Location": location}))
    target.set_responder(lambda request: Reply.text("followed"))
    key = "sk-secret-key-123"
    return openai_gen(api_host, key) if wire == "openai" else anthropic_gen(api_host, key)


def _assert_refused(error: Any, status: int, target: MockLLMServer) -> None:
    assert isinstance(error, APIError) and error.status_code == status, error
    assert f"{target.url}/stolen" in str(error) and "redirect" in str(error)
    assert "sk-secret-key-123" not in str(error)
    assert target.requests == []  # nothing, so no credential, reached the other origin


@streaming
@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_a_redirect_is_never_followed_by_an_injected_client(
    api: API,
    make_api: MakeAPI,
    llm_server: MockLLMServer,
    elsewhere: MockLLMServer,
    status: int,
    wire: str,
    stream: bool,
) -> None:
    """An injected client with ``follow_redirects=True``: minillm's requests still do not follow a 3xx to
    another origin (httpx would carry Anthropic's ``x-api-key`` there); the 3xx is an ``APIError`` naming
    the ``Location``, not retried."""
    http: Any = httpx.Client(follow_redirects=True) if api.mode == "sync" else httpx.AsyncClient(follow_redirects=True)
    runner = make_api(http_client=http)
    try:
        gen = _redirecting(llm_server, elsewhere, status, wire)
        _assert_refused(_outcome(runner, gen, NO_RETRY.with_retry(2), stream=stream), status, elsewhere)
        assert len(llm_server.requests) == 1
    finally:
        if api.mode == "sync":
            http.close()
        else:
            runner.run(http.aclose())


@streaming
def test_a_redirect_with_the_default_client_names_its_location(
    api: API, llm_server: MockLLMServer, elsewhere: MockLLMServer, stream: bool
) -> None:
    gen = _redirecting(llm_server, elsewhere, 307, "anthropic")
    _assert_refused(_outcome(api, gen, NO_RETRY, stream=stream), 307, elsewhere)
    assert_released(api, llm_server)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_error_says_where_and_what_to_do(status: int) -> None:
    """Unit: the core's error for a 3xx, with and without a ``Location``."""
    from minillm.core.http import api_error

    named = api_error(status, {"Location": "https://elsewhere.example/v1"}, b"")
    assert type(named) is APIError and named.status_code == status
    assert "'https://elsewhere.example/v1'" in str(named) and "base URL" in str(named)
    assert "no Location header" in str(api_error(status, {}, b"<html>moved</html>"))
