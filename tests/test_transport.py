"""The transports over real HTTP on loopback: every preset's wire, replies, streams, retries, faults, costs.

Each behavioural test runs twice through the ``api`` fixture: once blocking, once async.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from minillm import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatNode,
    CompletionParameters,
    CostInfo,
    CostResolution,
    GeneratorInfo,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    RateLimitError,
    ServerError,
    StreamError,
    TokenPrice,
    Usage,
)
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API

FAST = NodeCompletionParameters(back_off_time=0.0)


def gens(server: MockLLMServer) -> dict[str, GeneratorInfo]:
    return {
        "openai": GeneratorInfo.openai("gpt-test").with_api_key("sk-openai-test").with_base_url(server.openai_base_url),
        "openrouter": GeneratorInfo.openrouter("anthropic/claude-test")
        .with_api_key("sk-or-test")
        .with_base_url(server.openrouter_base_url),
        "anthropic": GeneratorInfo.anthropic("claude-test")
        .with_api_key("sk-ant-test")
        .with_base_url(server.anthropic_base_url),
        "claude_subscription": GeneratorInfo.claude_subscription("claude-test")
        .with_bearer_token("sk-ant-oat01-test")
        .with_base_url(server.anthropic_base_url),
        "custom": GeneratorInfo.custom("local", server.openai_base_url, "local-model"),
    }


EXPECTED = {
    "openai": (
        "/v1/chat/completions",
        {"authorization": "Bearer sk-openai-test"},
        {
            "model": "gpt-test",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "stream": False,
            "max_completion_tokens": 4096,
            "temperature": 0.7,
        },
    ),
    "openrouter": (
        "/api/v1/chat/completions",
        {
            "authorization": "Bearer sk-or-test",
            "http-referer": "https://github.com/minillm-sdk/minillm",
            "x-title": "minillm",
        },
        {
            "model": "anthropic/claude-test",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "stream": False,
            "max_completion_tokens": 4096,
            "temperature": 0.7,
        },
    ),
    "anthropic": (
        "/v1/messages",
        {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        {
            "model": "claude-test",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": False,
            "max_tokens": 4096,
            "system": "Be brief.",
            "temperature": 0.7,
        },
    ),
    "claude_subscription": (
        "/v1/messages",
        {
            "authorization": "Bearer sk-ant-oat01-test",
            "anthropic-beta": "oauth-2025-04-20",
            "anthropic-version": "2023-06-01",
        },
        {
            "model": "claude-test",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": False,
            "max_tokens": 4096,
            "system": "Be brief.",
            "temperature": 0.7,
        },
    ),
    "custom": (
        "/v1/chat/completions",
        {},
        {
            "model": "local-model",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "stream": False,
            "max_completion_tokens": 4096,
            "temperature": 0.7,
        },
    ),
}


@pytest.mark.parametrize("preset", list(EXPECTED))
def test_each_preset_sends_its_wire(api: API, llm_server: MockLLMServer, preset: str) -> None:
    llm_server.enqueue(Reply.text("Hello!", usage=(12, 3), id="resp-1"))
    user = ChatNode.root("Be brief.").add_user("Hi")
    reply = api.complete(user, gens(llm_server)[preset])
    path, headers, body = EXPECTED[preset]
    sent = llm_server.requests[0]
    assert (sent.method, sent.path) == ("POST", path)
    assert sent.json == body
    for name, value in headers.items():
        assert sent.headers[name] == value
    assert sent.headers["content-type"] == "application/json"
    if preset == "custom":
        assert "authorization" not in sent.headers and "x-api-key" not in sent.headers
    if preset in ("anthropic", "claude_subscription"):
        assert "authorization" not in sent.headers if preset == "anthropic" else "x-api-key" not in sent.headers
    # the reply becomes an assistant node with its metadata
    assert reply.text == "Hello!" and reply.parent is user and user.children == [reply]
    assert reply.metadata["response_id"] == "resp-1"
    assert reply.metadata["usage"]["completion_tokens"] == 3
    assert reply.metadata["finish_reason"] in ("stop", "end_turn")


def test_chat_adds_the_user_turn_and_keeps_context(api: API, llm_server: MockLLMServer) -> None:
    gen = gens(llm_server)["openai"]
    root = ChatNode.root("sys")
    first = api.chat(root, "My name is Alice.", gen)
    assert first.text == "Echo: My name is Alice."
    second = api.chat(first, "What is my name?", gen)
    messages = llm_server.requests[1].json["messages"]
    assert [m["content"] for m in messages] == [
        "sys",
        "My name is Alice.",
        "Echo: My name is Alice.",
        "What is my name?",
    ]
    assert second.depth() == 4


@pytest.mark.parametrize("preset", ["openai", "anthropic"])
def test_streaming_delivers_deltas_and_the_final_response(api: API, llm_server: MockLLMServer, preset: str) -> None:
    llm_server.enqueue(Reply.text(["Hel", "lo", ", world"], usage=(15, 9), id="s-1"))
    gen = gens(llm_server)[preset]
    user = ChatNode.root("s").add_user("greet")
    chunks, response = api.stream(user, gen, NodeCompletionParameters(track_cost=True))
    assert "".join(c.delta for c in chunks) == "Hello, world"
    assert [c.delta for c in chunks if c.delta] == ["Hel", "lo", ", world"]
    assert response.content == "Hello, world" and response.id == "s-1"
    assert response.finish_reason in ("stop", "end_turn")
    assert response.usage is not None and response.usage.prompt_tokens == 15 and response.usage.completion_tokens == 9
    assert llm_server.requests[0].json["stream"] is True
    node = user.append_response(response)
    assert node.text == "Hello, world" and user.children == [node]


def test_stream_response_before_the_end_is_refused(llm_server: MockLLMServer) -> None:
    from minillm import InvalidParameterError, SyncClient

    llm_server.enqueue(Reply.text("abcdefgh", chunk_size=2))
    with SyncClient() as client:
        stream = ChatNode.user("x").complete_streaming(gens(llm_server)["openai"], client=client)
        with stream:
            first = next(iter(stream))
            assert first.delta == "ab" and stream.text == "ab"
            with pytest.raises(InvalidParameterError, match="not finished"):
                _ = stream.response


def test_rate_limit_is_retried_after_the_advertised_wait(
    api: API, llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minillm.transport import _concurrency  # both clients wait through its twin helpers

    waits: list[float] = []

    async def fake_asleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(_concurrency, "sleep", waits.append)
    monkeypatch.setattr(_concurrency, "asleep", fake_asleep)
    llm_server.enqueue(Reply.error(429, "slow down", headers={"Retry-After": "3"}), Reply.text("ok"))
    reply = api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], NodeCompletionParameters(back_off_time=0.5))
    assert reply.text == "ok" and len(llm_server.requests) == 2
    assert len(waits) == 1 and 3.0 <= waits[0] <= 3.0 + 0.1 * 0.5


@pytest.mark.parametrize(("status", "error"), [(400, BadRequestError), (401, AuthenticationError)])
def test_client_errors_are_not_retried(
    api: API, llm_server: MockLLMServer, status: int, error: type[Exception]
) -> None:
    llm_server.enqueue(Reply.error(status, "no"), Reply.text("never reached"))
    with pytest.raises(error):
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST)
    assert len(llm_server.requests) == 1


def test_server_errors_exhaust_into_max_retries(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(*[Reply.error(503, "down")] * 3)
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(2))
    assert isinstance(info.value.last_error, ServerError) and info.value.__cause__ is info.value.last_error
    assert len(llm_server.requests) == 3


def test_retry_after_above_the_cap_raises_at_once(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(429, "come back tomorrow", headers={"Retry-After": "3600"}), Reply.text("x"))
    with pytest.raises(RateLimitError) as info:
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST)
    assert info.value.retry_after == 3600.0 and len(llm_server.requests) == 1


def test_content_rejections_are_retried(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("   "), Reply.text("I refuse. {}"), Reply.text('{"score": 8}'))
    params = FAST.with_crash_on_empty().expecting_json().with_crash_on_refusal()
    reply = api.complete(ChatNode.user("rate"), gens(llm_server)["openai"], params)
    assert reply.text == '{"score": 8}' and len(llm_server.requests) == 3


# ----- the first attempt outside tenacity -----------------------------------------------------------------


def test_a_retryable_failure_without_retries_left_gives_up_at_once(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("never sent"))
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(0))
    assert isinstance(info.value.last_error, ServerError) and info.value.attempts == 1
    assert len(llm_server.requests) == 1


def test_retries_after_a_first_failure_count_every_attempt(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.error(502, "still down"), Reply.text("back"))
    assert api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(2)).text == "back"
    assert len(llm_server.requests) == 3


def test_the_first_failure_waits_as_the_policy_says(
    api: API, llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    if api.mode == "sync":
        monkeypatch.setattr(time, "sleep", waits.append)
    else:

        async def fake_sleep(seconds: float) -> None:
            waits.append(seconds)

        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    llm_server.enqueue(Reply.error(500, "a"), Reply.error(500, "b"), Reply.text("ok"))
    params = NodeCompletionParameters(back_off_time=1.0, exp_back_off=True, max_back_off=10.0).with_retry(3)
    assert api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], params).text == "ok"
    # exponential backoff counts on across the hand-over to tenacity: 1 s after the first try, 2 s after the next
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 1.0 * 1.1 and 2.0 <= waits[1] <= 2.0 * 1.1


def test_exhausted_retries_name_every_attempt(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(*[Reply.error(503, "down")] * 4)
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(3))
    assert info.value.attempts == 4 and len(llm_server.requests) == 4


def test_a_stream_start_is_retried_too(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("streamed", chunk_size=3))
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(1))
    assert error is None and "".join(c.delta for c in chunks) == "streamed"
    assert len(llm_server.requests) == 2


def test_a_drop_mid_stream_raises_with_the_partial_text_and_releases_the_connection(
    llm_server: MockLLMServer, request: pytest.FixtureRequest
) -> None:
    for mode in ("sync", "async"):
        api = API(mode, max_connections=1, timeout=5.0)
        request.addfinalizer(api.close)
        llm_server.clear()
        llm_server.enqueue(Reply.text("abcdefghijklmnopqrstuvwxyz" * 20, chunk_size=10, drop_after_bytes=700))
        chunks, error = api.stream_collecting(ChatNode.user("hi"), gens(llm_server)["openai"])
        assert isinstance(error, StreamError), error
        assert chunks and error.partial_text == "".join(c.delta for c in chunks)
        assert error.partial_text.startswith("abcdefghij")
        # one connection in the pool: had the broken one been kept, this would block until the timeout
        assert api.complete(ChatNode.user("again"), gens(llm_server)["openai"]).text == "Echo: again"
        assert len(llm_server.requests) == 2  # the broken stream was never re-sent


def test_a_stream_without_its_end_is_an_error_not_a_truncation(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("partial answer", chunk_size=4, terminal=False))
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gens(llm_server)["openai"])
    assert isinstance(error, StreamError) and error.partial_text == "partial answer"
    assert "".join(c.delta for c in chunks) == "partial answer"


def test_in_band_stream_error_after_chunks(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.in_band_error("overloaded", code=529, after_chunks=2, content="abcdefgh", chunk_size=2))
    _chunks, error = api.stream_collecting(ChatNode.user("hi"), gens(llm_server)["anthropic"])
    assert isinstance(error, StreamError) and error.partial_text == "abcd"
    assert isinstance(error.__cause__, ServerError)


def test_a_silent_server_times_out(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.silent())
    started = time.monotonic()
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(0).with_timeout(0.5))
    assert isinstance(info.value.last_error, APITimeoutError)
    assert time.monotonic() - started < 10  # bounded by the timeout, not hung


def test_a_silent_stream_times_out_at_the_start(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.silent())
    _, error = api.stream_collecting(
        ChatNode.user("hi"), gens(llm_server)["openai"], FAST.with_retry(0).with_timeout(0.5)
    )
    assert isinstance(error, MaxRetriesExceededError) and isinstance(error.last_error, APITimeoutError)


def test_keepalive_comments_do_not_reset_the_idle_timeout(api: API, llm_server: MockLLMServer) -> None:
    # comments every 0.2 s for ~2 s, no event: the 0.6 s idle bound must fire even though bytes arrive
    llm_server.enqueue(Reply.text("late", keepalive_comments=10, chunk_delay=0.2))
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gens(llm_server)["openrouter"], FAST.with_timeout(0.6))
    assert isinstance(error, StreamError) and isinstance(error.__cause__, APITimeoutError), error
    assert chunks == [] and error.partial_text == ""


def test_cost_callback_fires_once_per_accepted_completion(api: API, llm_server: MockLLMServer) -> None:
    seen: list[CostInfo] = []
    gen = gens(llm_server)["openai"].with_token_price(TokenPrice(1, 5))
    llm_server.enqueue(Reply.text("   "), Reply.text("fine", usage=(1_000_000, 1_000_000)))
    params = FAST.with_crash_on_empty().with_cost_callback(seen.append)
    api.complete(ChatNode.user("hi"), gen, params)
    assert len(seen) == 1
    assert seen[0].cost == pytest.approx(6.0) and seen[0].resolution is CostResolution.RESOLVED


def test_async_cost_callbacks_are_awaited(llm_server: MockLLMServer) -> None:
    seen: list[CostInfo] = []

    async def record(info: CostInfo) -> None:
        await asyncio.sleep(0)
        seen.append(info)

    async def go() -> None:
        from minillm import AsyncClient

        async with AsyncClient() as client:
            await ChatNode.user("hi").acomplete(
                gens(llm_server)["anthropic"], NodeCompletionParameters(cost_callback=record), client=client
            )

    asyncio.run(go())
    assert len(seen) == 1 and seen[0].resolution is CostResolution.UNPRICED and seen[0].total_tokens > 0


def test_complete_costed_reads_native_cost(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("x", usage=(10, 5), cost=0.0123))
    node, info = api.complete_costed(ChatNode.user("hi"), gens(llm_server)["openrouter"])
    assert node.text == "x" and info.cost == pytest.approx(0.0123) and info.resolution is CostResolution.RESOLVED
    assert llm_server.requests[0].json["usage"] == {"include": True}


def test_complete_costed_looks_up_a_missing_usage_out_of_band(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("x", id="gen-42", send_usage=False))
    llm_server.set_generation(
        "gen-42", {"tokens_prompt": 30, "tokens_completion": 1800, "total_cost": 0.000723}, pending_polls=1
    )
    _node, info = api.complete_costed(ChatNode.user("hi"), gens(llm_server)["openrouter"])
    assert info.cost == pytest.approx(0.000723) and info.resolution is CostResolution.RESOLVED
    assert info.completion_tokens == 1800
    assert len(llm_server.requests) == 3  # the completion, a "not found yet", then the record
    lookup = llm_server.requests[-1]
    assert lookup.method == "GET" and lookup.path == "/api/v1/generation" and lookup.query["id"] == "gen-42"
    assert lookup.headers["authorization"] == "Bearer sk-or-test"


def test_complete_costed_without_a_price_is_unpriced_not_free(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("x", usage=(10, 5)))
    _, info = api.complete_costed(ChatNode.user("hi"), gens(llm_server)["openai"])
    assert info.resolution is CostResolution.UNPRICED and info.total_tokens == 15


def test_ensure_cached_sends_one_marked_request_and_returns_its_cost(api: API, llm_server: MockLLMServer) -> None:
    usage = Usage(uncached_input_tokens=10, cache_write_tokens=2000, completion_tokens=0)
    llm_server.enqueue(Reply.text("", usage=usage))
    gen = gens(llm_server)["anthropic"].with_token_price(TokenPrice(3, 15).with_cache_rates(0.3, 3.75))
    root = ChatNode.root("a long, stable system prompt")
    info = api.ensure_cached(root.add_user("question"), gen)
    assert len(llm_server.requests) == 1
    body: dict[str, Any] = llm_server.requests[0].json
    assert body["max_tokens"] == 0
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert info.cache_write_tokens == 2000 and info.completion_tokens == 0
    assert info.cost == pytest.approx((10 * 3 + 2000 * 3.75) / 1e6)
    assert root.node_count() == 2  # no reply node


def test_request_parameters_reach_the_wire(api: API, llm_server: MockLLMServer) -> None:
    params = NodeCompletionParameters(
        params=CompletionParameters(max_tokens=50, temperature=0.2, seed=7, stop=["END"]),
        system_prompt="override",
        force_prepend="Answer:",
    )
    llm_server.enqueue(Reply.text(" 42"))
    reply = api.complete(ChatNode.root("original").add_user("q"), gens(llm_server)["openai"], params)
    assert reply.text == "Answer: 42"
    body = llm_server.requests[0].json
    assert (body["max_completion_tokens"], body["temperature"], body["seed"], body["stop"]) == (50, 0.2, 7, ["END"])
    assert body["messages"][0] == {"role": "system", "content": "override"}
    assert body["messages"][-1] == {"role": "assistant", "content": "Answer:"}


def test_a_cancelled_async_stream_closes_its_response(llm_server: MockLLMServer) -> None:
    from minillm import AsyncClient

    llm_server.enqueue(Reply.text("x" * 400, chunk_size=1, chunk_delay=0.01))

    async def go() -> tuple[bool, str]:
        async with AsyncClient() as client:
            stream = await ChatNode.user("hi").acomplete_streaming(gens(llm_server)["openai"], client=client)

            async def consume() -> None:
                async with stream:
                    async for _ in stream:
                        pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return stream._http_response.is_closed, stream.text

    closed, text = asyncio.run(go())
    assert closed and 0 < len(text) < 400


def test_blocking_complete_works_inside_a_running_event_loop(llm_server: MockLLMServer) -> None:
    async def notebook_cell() -> str | None:
        # what a Jupyter cell does: a blocking call while the kernel's loop runs
        return ChatNode.user("from a notebook").complete(gens(llm_server)["openai"]).text

    assert asyncio.run(notebook_cell()) == "Echo: from a notebook"


def test_default_async_client_survives_consecutive_event_loops(llm_server: MockLLMServer) -> None:
    gen = gens(llm_server)["anthropic"]
    assert asyncio.run(ChatNode.user("one").acomplete(gen)).text == "Echo: one"
    assert asyncio.run(ChatNode.user("two").acomplete(gen)).text == "Echo: two"


def test_many_concurrent_async_completions(llm_server: MockLLMServer) -> None:
    from minillm import AsyncClient

    gen = gens(llm_server)["openai"]

    async def go() -> list[str | None]:
        async with AsyncClient(max_connections=20) as client:
            tasks = [ChatNode.user(f"q{i}").acomplete(gen, client=client) for i in range(200)]
            return [node.text for node in await asyncio.gather(*tasks)]

    assert asyncio.run(go()) == [f"Echo: q{i}" for i in range(200)]


def test_injected_httpx_client_carries_every_request(llm_server: MockLLMServer) -> None:
    import httpx

    from minillm import SyncClient

    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}, headers={"X-Corp": "1"})
    with SyncClient(http_client=http) as client:
        ChatNode.user("hi").complete(gens(llm_server)["openai"], client=client)
    assert seen == [llm_server.openai_base_url + "/chat/completions"]
    assert llm_server.requests[0].headers["x-corp"] == "1"
    assert not http.is_closed  # the caller's client stays open
    http.close()


def test_a_stream_without_usage_on_openrouter_is_costed_out_of_band(api: API, llm_server: MockLLMServer) -> None:
    seen: list[CostInfo] = []
    llm_server.enqueue(Reply.text("streamed", id="gen-7", send_usage=False))
    llm_server.set_generation("gen-7", {"tokens_prompt": 10, "tokens_completion": 3, "total_cost": 0.0042})
    _, response = api.stream(
        ChatNode.user("hi"), gens(llm_server)["openrouter"], NodeCompletionParameters(cost_callback=seen.append)
    )
    assert response.usage is None and response.content == "streamed"
    assert len(seen) == 1 and seen[0].cost == pytest.approx(0.0042) and seen[0].resolution is CostResolution.RESOLVED
    assert [r.method for r in llm_server.requests] == ["POST", "GET"]


def test_a_stream_closed_early_can_still_be_costed(llm_server: MockLLMServer) -> None:
    from minillm import SyncClient

    llm_server.enqueue(Reply.text("x" * 200, id="gen-8", chunk_size=5, send_usage=False))
    llm_server.set_generation("gen-8", {"tokens_prompt": 10, "tokens_completion": 1, "total_cost": 0.0001})
    with SyncClient() as client:
        with ChatNode.user("hi").complete_streaming(gens(llm_server)["openrouter"], client=client) as stream:
            next(iter(stream))
        info = stream.cost()
    assert info.cost == pytest.approx(0.0001) and info.response_id == "gen-8"


def test_a_stream_on_a_wire_without_lookup_reports_unknown_not_free(api: API, llm_server: MockLLMServer) -> None:
    seen: list[CostInfo] = []
    llm_server.enqueue(Reply.text("local"))
    api.stream(ChatNode.user("hi"), gens(llm_server)["custom"], NodeCompletionParameters(cost_callback=seen.append))
    assert len(seen) == 1 and seen[0].resolution is CostResolution.UNKNOWN


def test_a_pool_the_deadline_cannot_reach_is_warned_about() -> None:
    """An httpx that keeps its pools elsewhere would drop whole-request deadlines: that must not go unsaid."""
    import warnings

    import httpx

    from minillm import SyncClient
    from minillm.transport._network import bound_sync_client

    unreachable = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
    try:
        with pytest.warns(RuntimeWarning, match="whole-request deadline.*per-read timeouts only"):
            assert not bound_sync_client(unreachable)
    finally:
        unreachable.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the client minillm makes is bound without a word
        SyncClient().close()


def test_the_async_client_refuses_a_second_event_loop(llm_server: MockLLMServer) -> None:
    from minillm import AsyncClient, ConfigurationError

    gen = gens(llm_server)["openai"]
    llm_server.enqueue(Reply.text("one"))
    client = AsyncClient()
    assert asyncio.run(ChatNode.user("hi").acomplete(gen, FAST, client=client)).text == "one"
    with pytest.raises(ConfigurationError, match="another event loop"):
        asyncio.run(ChatNode.user("hi").acomplete(gen, FAST, client=client))
