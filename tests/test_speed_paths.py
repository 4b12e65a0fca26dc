"""The fast paths added for speed behave exactly like the slow ones they stand in for.

Covered here: the JSON readers (one call into the C scanner for the usual text, ``json.loads`` for the
rest), the first attempt made outside tenacity (retries still count and wait as before), the connection pool
of the ``AsyncClient`` minillm makes (bounded, first come first served, nothing leaked by cancellation or
pool timeouts), an injected ``httpx2`` client (its errors and timeouts mapped like httpx's, httpx2 never
imported otherwise), and the lazy imports. Nothing here measures time: ``bench/`` does.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minillm import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    ChatNode,
    GeneratorInfo,
    MalformedResponseError,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    ServerError,
    SyncClient,
)
from minillm.core.http import decode_json_body, loads_json_text
from minillm.core.sse import ServerSentEvent, SSEDecoder
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API

NO_WAIT = NodeCompletionParameters(back_off_time=0.0)


def _gen(server: MockLLMServer) -> GeneratorInfo:
    return GeneratorInfo.openai("test-model").with_api_key("sk-test").with_base_url(server.openai_base_url)


# ----- JSON readers -----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
padding = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


def _outcome(read: Any, text: Any) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except (ValueError, RecursionError) as e:
        return "error", type(e)


@given(json_values, padding, padding)
def test_loads_json_text_reads_what_json_loads_reads(value: Any, before: str, after: str) -> None:
    text = before + json.dumps(value) + after
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@given(st.text(max_size=40))
def test_loads_json_text_refuses_what_json_loads_refuses(text: str) -> None:
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@pytest.mark.parametrize(
    "text", ['{"a": 1} {"b": 2}', '{"a": 1} x', "\ufeff{}", "NaN", "[1, 2", "", " ", '"\\ud800"', "1e400"]
)
def test_loads_json_text_edge_cases(text: str) -> None:
    assert _outcome(loads_json_text, text) == _outcome(json.loads, text)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1}',
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark
        '{"a": "\u00e9"}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-16-le"),  # no byte-order mark: json.loads detects it from the zero bytes
        '{"a": 1}'.encode("utf-32"),
        b" [1, 2] ",
    ],
)
def test_decode_json_body_reads_every_encoding_json_loads_reads(body: bytes) -> None:
    assert decode_json_body(body) == json.loads(body)


@pytest.mark.parametrize("body", [b"", b"nope", b'{"a": 1} x', b"\xff\xfe", b"\xc3\x28", b"[" * 100_000])
def test_decode_json_body_refuses_what_json_loads_refuses(body: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        decode_json_body(body)


# ----- the SSE decoder's fast path --------------------------------------------------------------------

sse_lines = st.lists(
    st.one_of(
        st.builds(lambda v: f"data: {v}", st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=8)),
        st.builds(lambda v: f"data:{v}", st.text(alphabet="ab :", max_size=4)),
        st.sampled_from(["event: delta", "id: 7", "retry: 50", ": comment", "data", ""]),
    ),
    max_size=12,
)


def _events_of(pieces: list[bytes]) -> list[tuple[str, str, str | None, int | None]]:
    decoder = SSEDecoder()
    out = [e for piece in pieces for e in decoder.feed(piece)] + decoder.finish()
    return [(e.event, e.data, e.id, e.retry) for e in out]


@given(sse_lines, st.sampled_from(["\n", "\r\n"]))
def test_whole_events_decode_as_byte_by_byte(lines: list[str], newline: str) -> None:
    # Whole events in one piece each take the fast path when they are a lone "data: " line; one byte at a
    # time never does. Both must give the same events.
    blocks = newline.join(lines).split(newline + newline) if lines else []
    pieces = [(block + newline + newline).encode() for block in blocks]
    body = b"".join(pieces)
    assert _events_of(pieces) == _events_of([body[i : i + 1] for i in range(len(body))])


def test_the_fast_path_keeps_the_event_type_id_and_retry_set_before_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n\n") == [ServerSentEvent("message", "first")]  # the first piece: BOM check
    assert decoder.feed(b"event: delta\nid: 9\nretry: 5\n") == []
    (event,) = decoder.feed(b"data: x\n\n")
    assert (event.event, event.data, event.id, event.retry) == ("delta", "x", "9", 5)
    (event,) = decoder.feed(b"data: y\n\n")
    assert (event.event, event.data, event.id, event.retry) == ("message", "y", "9", None)


# ----- a response's headers ---------------------------------------------------------------------------


def test_attaching_headers_keeps_every_other_field() -> None:
    # _with_headers writes attrs.evolve out by hand; this fails if a field is ever added and not copied.
    import attrs

    from minillm import CompletionResponse, ImageData, ToolCall, Usage

    response = CompletionResponse(
        id="r1",
        model="m",
        content="hi",
        finish_reason="tool_calls",
        usage=Usage(uncached_input_tokens=3, completion_tokens=2),
        tool_calls=(ToolCall("c1", "f", "{}"),),
        media=(ImageData.from_url("https://example.com/a.png"),),
        unknown_tool_calls=('{"type":"custom"}',),
    )
    headers = {"X-Request-Id": "abc"}
    attached = response._with_headers(headers)
    assert attached == attrs.evolve(response, headers=headers)
    assert dict(attached.headers) == {"x-request-id": "abc"}
    assert [f.name for f in attrs.fields(CompletionResponse)] == [
        "id",
        "model",
        "content",
        "finish_reason",
        "usage",
        "tool_calls",
        "headers",
        "media",
        "unknown_tool_calls",
    ]


# ----- the first attempt outside tenacity ------------------------------------------------------------


def test_a_retryable_failure_without_retries_left_gives_up_at_once(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("never sent"))
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), _gen(llm_server), NO_WAIT.with_retry(0))
    assert isinstance(info.value.last_error, ServerError) and info.value.attempts == 1
    assert len(llm_server.requests) == 1


def test_retries_after_a_first_failure_count_every_attempt(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.error(502, "still down"), Reply.text("back"))
    assert api.complete(ChatNode.user("hi"), _gen(llm_server), NO_WAIT.with_retry(2)).text == "back"
    assert len(llm_server.requests) == 3


def test_the_first_failure_waits_as_the_policy_says(
    api: API, llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    waits: list[float] = []
    if api.mode == "sync":
        monkeypatch.setattr(time, "sleep", waits.append)
    else:

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    llm_server.enqueue(Reply.error(500, "a"), Reply.error(500, "b"), Reply.text("ok"))
    params = NodeCompletionParameters(back_off_time=1.0, exp_back_off=True, max_back_off=10.0).with_retry(3)
    assert api.complete(ChatNode.user("hi"), _gen(llm_server), params).text == "ok"
    # exponential backoff counts on across the hand-over to tenacity: 1 s after the first try, 2 s after the next
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.0 * 1.1 and 2.0 <= waits[1] <= 2.0 * 1.1


def test_exhausted_retries_name_every_attempt(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(*[Reply.error(503, "down")] * 4)
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), _gen(llm_server), NO_WAIT.with_retry(3))
    assert info.value.attempts == 4 and len(llm_server.requests) == 4


def test_a_stream_start_is_retried_too(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("streamed", chunk_size=3))
    chunks, error = api.stream_collecting(ChatNode.user("hi"), _gen(llm_server), NO_WAIT.with_retry(1))
    assert error is None and "".join(c.delta for c in chunks) == "streamed"
    assert len(llm_server.requests) == 2


# ----- the AsyncClient's own pool --------------------------------------------------------------------


def _pool(client: AsyncClient) -> Any:
    return client._http._transport  # the pool minillm made (private, test-only)


def test_the_pool_never_opens_more_connections_than_allowed(llm_server: MockLLMServer) -> None:
    async def go() -> list[str | None]:
        async with AsyncClient(max_connections=3) as client:
            tasks = [ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client) for i in range(60)]
            texts = [node.text for node in await asyncio.gather(*tasks)]
            pool = _pool(client)
            assert len(pool._pools) <= 3 and len(pool._free) == len(pool._pools)  # every connection given back
            return texts

    assert asyncio.run(go()) == [f"Echo: q{i}" for i in range(60)]
    assert llm_server.connection_count <= 3


def test_a_second_burst_reuses_the_kept_alive_connections(llm_server: MockLLMServer) -> None:
    async def go() -> None:
        async with AsyncClient(max_connections=4) as client:
            for _ in range(2):
                tasks = [ChatNode.user("q").acomplete(_gen(llm_server), client=client) for _ in range(20)]
                await asyncio.gather(*tasks)

    asyncio.run(go())
    assert llm_server.connection_count <= 4


def test_sequential_requests_reuse_one_connection(llm_server: MockLLMServer) -> None:
    async def go() -> None:
        async with AsyncClient() as client:
            for i in range(5):
                await ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client)

    asyncio.run(go())
    assert {r.connection for r in llm_server.requests} == {1}


def test_waiters_are_served_first_come_first_served(llm_server: MockLLMServer) -> None:
    order: list[int] = []

    async def one(client: AsyncClient, i: int) -> None:
        await ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client)
        order.append(i)

    async def go() -> None:
        async with AsyncClient(max_connections=1) as client:
            tasks = []
            for i in range(6):
                tasks.append(asyncio.ensure_future(one(client, i)))
                await asyncio.sleep(0)  # each request starts (and queues) in turn
            await asyncio.gather(*tasks)

    asyncio.run(go())
    assert order == list(range(6))


def test_a_cancelled_waiter_leaks_nothing(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.stall(Reply.text("slow answer"), after_bytes=0))

    async def go() -> None:
        async with AsyncClient(max_connections=1) as client:
            gen = _gen(llm_server)
            stuck = asyncio.ensure_future(ChatNode.user("stuck").acomplete(gen, client=client))
            await asyncio.sleep(0.2)  # holds the only connection
            waiting = asyncio.ensure_future(ChatNode.user("waiting").acomplete(gen, client=client))
            await asyncio.sleep(0.05)
            waiting.cancel()
            stuck.cancel()
            for task in (waiting, stuck):
                with pytest.raises(asyncio.CancelledError):
                    await task
            pool = _pool(client)
            assert not [w for w in pool._waiters if not w.done()]
            assert len(pool._free) == len(pool._pools) == 1
            llm_server.enqueue(Reply.text("fine"))
            assert (await ChatNode.user("after").acomplete(gen, client=client)).text == "fine"

    asyncio.run(go())


def test_the_pool_timeout_bounds_the_wait_for_a_connection(llm_server: MockLLMServer) -> None:
    import httpx

    from minillm.transport._pool import ConnectionPerPoolTransport

    llm_server.enqueue(Reply.stall(Reply.text("slow answer"), after_bytes=0))

    async def go() -> None:
        pool = ConnectionPerPoolTransport(1)
        async with httpx.AsyncClient(transport=pool) as http:
            url = llm_server.openai_base_url + "/chat/completions"
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            stuck = asyncio.ensure_future(http.post(url, json=body, timeout=httpx.Timeout(30.0)))
            await asyncio.sleep(0.2)
            with pytest.raises(httpx.PoolTimeout):
                await http.post(url, json=body, timeout=httpx.Timeout(30.0, pool=0.1))
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert len(pool._free) == 1 and not [w for w in pool._waiters if not w.done()]

    asyncio.run(go())


def test_max_connections_must_be_positive() -> None:
    from minillm import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="max_connections"):
        AsyncClient(max_connections=0)


# ----- an injected httpx2 client ---------------------------------------------------------------------

httpx2 = pytest.importorskip("httpx2")


def test_an_injected_httpx2_client_carries_requests_and_streams(api_mode: str, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("plain"), Reply.text("streamed", chunk_size=2))
    gen = _gen(llm_server)
    params = NodeCompletionParameters(timeout_secs=5.0)  # a per-request timeout, built as httpx2's own kind
    if api_mode == "sync":
        with httpx2.Client() as http, SyncClient(http_client=http, timeout=10.0) as client:
            assert ChatNode.user("a").complete(gen, params, client=client).text == "plain"
            with ChatNode.user("b").complete_streaming(gen, params, client=client) as stream:
                assert "".join(c.delta for c in stream) == "streamed"
    else:

        async def go() -> None:
            async with httpx2.AsyncClient() as http, AsyncClient(http_client=http, timeout=10.0) as client:
                assert (await ChatNode.user("a").acomplete(gen, params, client=client)).text == "plain"
                async with await ChatNode.user("b").acomplete_streaming(gen, params, client=client) as stream:
                    assert "".join([c.delta async for c in stream]) == "streamed"

        asyncio.run(go())
    assert len(llm_server.requests) == 2


@pytest.fixture(params=["sync", "async"])
def api_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _refused_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def test_httpx2_connection_errors_are_mapped(api_mode: str) -> None:
    gen = GeneratorInfo.openai("m").with_api_key("sk-test").with_base_url(_refused_url())
    params = NodeCompletionParameters(retry=0)
    with pytest.raises(MaxRetriesExceededError) as info:
        if api_mode == "sync":
            with httpx2.Client() as http:
                ChatNode.user("hi").complete(gen, params, client=SyncClient(http_client=http))
        else:

            async def go() -> None:
                async with httpx2.AsyncClient() as http:
                    await ChatNode.user("hi").acomplete(gen, params, client=AsyncClient(http_client=http))

            asyncio.run(go())
    error = info.value.last_error
    assert isinstance(error, APIConnectionError) and isinstance(error.__cause__, httpx2.HTTPError)


def test_httpx2_timeouts_are_mapped(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.silent())
    params = NodeCompletionParameters(retry=0)
    with httpx2.Client(timeout=httpx2.Timeout(0.3)) as http, pytest.raises(MaxRetriesExceededError) as info:
        ChatNode.user("hi").complete(_gen(llm_server), params, client=SyncClient(http_client=http))
    assert isinstance(info.value.last_error, APITimeoutError)


def _fresh(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; it prints a JSON list."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_httpx2_is_never_imported_for_an_httpx_client() -> None:
    code = (
        "import json, sys, minillm; minillm.SyncClient(); minillm.AsyncClient(); "
        "print(json.dumps([m for m in ('httpx2',) if m in sys.modules]))"
    )
    assert _fresh(code) == []


# ----- lazy imports ----------------------------------------------------------------------------------


def test_what_only_some_paths_need_is_not_loaded_with_minillm() -> None:
    code = (
        "import json, sys, minillm; minillm.SyncClient(); "
        "print(json.dumps([m for m in ('json_repair', 'tenacity', 'cattrs', 'dotenv', 'minillm.testing') "
        "if m in sys.modules]))"
    )
    assert _fresh(code) == []


# The lazily loaded public names themselves: tests/test_import_cost.py.
