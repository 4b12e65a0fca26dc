"""Hooks and log lines: the core's events, delivered by both clients over real HTTP to the local server."""

from __future__ import annotations

import logging

import pytest

from minillm import (
    BadRequestError,
    ChatNode,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
    StreamError,
    SyncClient,
    TokenPrice,
)
from minillm.core.errors import ServerError
from minillm.core.events import (
    AttemptSent,
    CostKnown,
    Event,
    FirstChunk,
    RequestBuilt,
    RequestFailed,
    ResponseReceived,
    RetryScheduled,
    StreamFinished,
    public_url,
)
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API, MakeAPI

FAST = NodeCompletionParameters(back_off_time=0.0)


def gen(server: MockLLMServer) -> GeneratorInfo:
    return (
        GeneratorInfo.openai("gpt-test")
        .with_api_key("sk-test")
        .with_base_url(server.openai_base_url)
        .with_token_price(TokenPrice(1.0, 2.0))
    )


def kinds(events: list[Event]) -> list[type]:
    return [type(e) for e in events]


def test_a_plain_reply_emits_built_sent_cost_and_received(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text("Hello!", usage=(12, 3), model="gpt-test-0613"))
    api.complete(ChatNode.user("hi"), gen(llm_server))
    assert kinds(events) == [RequestBuilt, AttemptSent, CostKnown, ResponseReceived]
    assert len({e.call_id for e in events}) == 1
    built, sent, cost, received = events
    assert isinstance(built, RequestBuilt) and (built.model, built.generator, built.stream) == (
        "gpt-test",
        "OpenAI",
        False,
    )
    assert built.request.json["messages"] == [{"role": "user", "content": "hi"}]
    assert isinstance(sent, AttemptSent) and sent.attempt == 1
    assert isinstance(cost, CostKnown) and cost.cost.prompt_tokens == 12 and cost.cost.is_known
    assert isinstance(received, ResponseReceived) and received.response.model == "gpt-test-0613"


def test_each_call_has_its_own_id(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text("a"), Reply.text("b"))
    api.complete(ChatNode.user("hi"), gen(llm_server))
    api.complete(ChatNode.user("hi"), gen(llm_server))
    assert len({e.call_id for e in events}) == 2


def test_retries_are_announced_with_their_wait_and_reason(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.error(503, "down"), Reply.error(500, "still down"), Reply.text("up"))
    api.complete(ChatNode.user("hi"), gen(llm_server), FAST.with_retry(2))
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert [r.attempt for r in retries] == [1, 2]  # the second comes from inside tenacity's loop
    assert all(isinstance(r.error, ServerError) and r.wait >= 0 for r in retries)
    assert "still down" in retries[1].reason
    assert [e.attempt for e in events if isinstance(e, AttemptSent)] == [1, 2, 3]
    assert isinstance(events[-1], ResponseReceived) and events[-1].attempts == 3


def test_a_failed_call_ends_with_request_failed(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.error(400, "bad"))
    with pytest.raises(BadRequestError):
        api.complete(ChatNode.user("hi"), gen(llm_server), FAST)
    assert kinds(events) == [RequestBuilt, AttemptSent, RequestFailed]
    failed = events[-1]
    assert isinstance(failed, RequestFailed) and isinstance(failed.error, BadRequestError) and failed.attempts == 1


def test_a_stream_emits_its_first_chunk_and_its_end(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text(["Hel", "lo"], usage=(5, 2)))
    api.stream(ChatNode.user("hi"), gen(llm_server), NodeCompletionParameters().with_cost_tracking())
    assert kinds(events) == [RequestBuilt, AttemptSent, FirstChunk, CostKnown, StreamFinished]
    end = events[-1]
    assert isinstance(end, StreamFinished) and end.completed and end.response.content == "Hello"


def test_a_stream_closed_early_says_so(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text("abcdefgh", chunk_size=2))
    node = ChatNode.user("hi")
    if api.mode == "sync":
        with node.complete_streaming(gen(llm_server), client=api.sync_client) as stream:
            next(iter(stream))
    else:

        async def go() -> None:
            async with await node.acomplete_streaming(gen(llm_server), client=api.async_client) as stream:
                await stream.__anext__()

        api.run(go())
    end = events[-1]
    assert isinstance(end, StreamFinished) and not end.completed
    assert end.response.content.startswith("ab")


def test_a_stream_cut_short_ends_with_request_failed(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text(["par", "tial"], terminal=False))
    _, error = api.stream_collecting(ChatNode.user("hi"), gen(llm_server))
    assert isinstance(error, StreamError)
    assert kinds(events)[-1] is RequestFailed and not any(isinstance(e, StreamFinished) for e in events)
    failed = events[-1]
    assert isinstance(failed, RequestFailed) and failed.error is error


def test_ensure_cached_and_costed_calls_emit_their_cost(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    llm_server.enqueue(Reply.text("", usage=(100, 0)), Reply.text("ok", usage=(10, 2)))
    api.ensure_cached(ChatNode.user("hi"), gen(llm_server))
    _, info = api.complete_costed(ChatNode.user("hi"), gen(llm_server))
    costs = [e.cost for e in events if isinstance(e, CostKnown)]
    assert [c.prompt_tokens for c in costs] == [100, 10] and costs[-1] == info


def test_an_async_hook_is_awaited_on_the_async_client(llm_server: MockLLMServer) -> None:
    seen: list[str] = []

    async def hook(event: Event) -> None:
        seen.append(type(event).__name__)

    api = API("async")
    try:
        api.async_client.add_hook(hook)
        llm_server.enqueue(Reply.text("ok"))
        api.complete(ChatNode.user("hi"), gen(llm_server))
    finally:
        api.close()
    assert seen[:2] == ["RequestBuilt", "AttemptSent"] and seen[-1] == "ResponseReceived"


def test_an_async_hook_is_refused_by_the_sync_client() -> None:
    async def hook(event: Event) -> None:
        pass

    with pytest.raises(InvalidParameterError, match="async"):
        SyncClient(hooks=[hook])
    with SyncClient() as client, pytest.raises(InvalidParameterError, match="AsyncClient"):
        client.add_hook(hook)
    with pytest.raises(InvalidParameterError, match="callable"):
        SyncClient(hooks=["not a hook"])  # type: ignore[list-item]


def test_a_failing_hook_is_logged_and_the_request_goes_on(
    make_api: MakeAPI, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    events: list[Event] = []
    api = make_api(hooks=[broken, events.append])
    llm_server.enqueue(Reply.text("fine"))
    with caplog.at_level(logging.WARNING, logger="minillm.hooks"):
        reply = api.complete(ChatNode.user("hi"), gen(llm_server))
    assert reply.text == "fine"
    assert kinds(events)[-1] is ResponseReceived  # the next hook still saw every event
    warnings = [r for r in caplog.records if r.name == "minillm.hooks"]
    assert len(warnings) == len(events) and "hook bug" in caplog.text


def test_a_sync_hook_returning_an_awaitable_is_reported(
    llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def later(event: Event) -> None:
        pass

    with SyncClient(hooks=[lambda event: later(event)]) as client, caplog.at_level(logging.WARNING, "minillm.hooks"):
        llm_server.enqueue(Reply.text("ok"))
        assert ChatNode.user("hi").complete(gen(llm_server), client=client).text == "ok"
    assert "cannot await" in caplog.text


def test_remove_hook_stops_the_events(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    events: list[Event] = []
    api = make_api(hooks=[events.append])
    client = api.sync_client if api.mode == "sync" else api.async_client
    client.remove_hook(events.append)
    llm_server.enqueue(Reply.text("ok"))
    api.complete(ChatNode.user("hi"), gen(llm_server))
    assert events == []


# ----- logging ---------------------------------------------------------------------------------------------


def test_nothing_is_logged_by_default(
    make_api: MakeAPI, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api()
    llm_server.enqueue(Reply.text("ok"))
    api.complete(ChatNode.user("hi"), gen(llm_server))
    assert not [r for r in caplog.records if r.name.startswith("minillm")]


def test_debug_lines_name_each_event_without_bodies(
    make_api: MakeAPI, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api()
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("the reply text", usage=(3, 4)))
    with caplog.at_level(logging.DEBUG, logger="minillm"):
        api.complete(ChatNode.user("the prompt text"), gen(llm_server), FAST)
    lines = [r.getMessage() for r in caplog.records if r.name == "minillm"]
    assert len(lines) == 6
    for words in ("request built: POST", "attempt 1 sent", "retrying in", "attempt 2 sent", "cost resolved"):
        assert any(words in line for line in lines), words
    assert "response received after 2 attempt(s)" in lines[-1]
    assert "the prompt text" not in caplog.text and "the reply text" not in caplog.text


def test_bodies_are_logged_only_when_their_logger_is_turned_down_to_level_5(
    make_api: MakeAPI, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api()
    llm_server.enqueue(Reply.text("the reply text"))
    with caplog.at_level(5, logger="minillm.bodies"):
        api.complete(ChatNode.user("the prompt text"), gen(llm_server))
    bodies = [r.getMessage() for r in caplog.records if r.name == "minillm.bodies"]
    assert len(bodies) == 2
    assert "the prompt text" in bodies[0] and "the reply text" in bodies[1]


def test_urls_in_log_lines_lose_their_query_and_user_info() -> None:
    assert public_url("https://user:pw@host.example/v1/x?key=abc#f") == "https://host.example/v1/x"
    assert public_url("http://127.0.0.1:8080/v1/chat/completions") == "http://127.0.0.1:8080/v1/chat/completions"
