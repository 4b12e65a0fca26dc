"""How a stream ends on the wire: a finished stream reads its body to the end, so its connection is reused.

Every preset, both worlds, with and without usage asked for; a server that keeps sending after the end gets
its connection dropped instead of being read for ever; a stream left early still closes at once.
"""

from __future__ import annotations

import pytest

from minillm import ChatNode, NodeCompletionParameters, StreamError
from minillm.core.stream import TRAILER_LIMIT
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.test_transport import gens

USAGE = NodeCompletionParameters(track_cost=True)
PRESETS = ["openai", "openrouter", "anthropic", "claude_subscription", "custom"]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("params", [None, USAGE], ids=["no-usage", "usage"])
def test_sequential_streams_share_one_connection(
    api: API, llm_server: MockLLMServer, preset: str, params: NodeCompletionParameters | None
) -> None:
    gen = gens(llm_server)[preset]
    user = ChatNode.root("Be brief.").add_user("Hi")
    for i in range(5):
        llm_server.enqueue(Reply.text(f"Reply number {i}, in a few chunks.", usage=(10, 4), chunk_size=5))
        chunks, response = api.stream(user, gen, params)
        assert response.content == f"Reply number {i}, in a few chunks."
        assert "".join(c.delta for c in chunks) == response.content
    assert llm_server.connection_count == 1
    # A plain request after them still rides the same connection.
    llm_server.enqueue(Reply.text("plain"))
    assert api.complete(user, gen).text == "plain"
    assert llm_server.connection_count == 1


@pytest.mark.parametrize("preset", ["openai", "anthropic", "custom"])
def test_streams_without_done_marker_share_one_connection(api: API, llm_server: MockLLMServer, preset: str) -> None:
    gen = gens(llm_server)[preset]
    user = ChatNode.root("Be brief.").add_user("Hi")
    for _ in range(3):
        llm_server.enqueue(Reply.text("no end marker", done_marker=False))
        assert api.stream(user, gen)[1].content == "no end marker"
    assert llm_server.connection_count == 1


@pytest.mark.parametrize("preset", ["openai", "anthropic", "custom"])
def test_a_server_that_keeps_sending_after_the_end_is_dropped(api: API, llm_server: MockLLMServer, preset: str) -> None:
    gen = gens(llm_server)[preset]
    user = ChatNode.root("Be brief.").add_user("Hi")
    trailer = b'data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}\n\n'
    llm_server.enqueue(Reply.keep_sending(Reply.text("Hello there", usage=(3, 2)), trailer))
    _chunks, response = api.stream(user, gen, USAGE)
    assert response.content == "Hello there"
    assert response.finish_reason in ("stop", "end_turn")
    # The endless body was not read to its end (the test would hang): the connection was dropped instead.
    llm_server.enqueue(Reply.text("next"))
    assert api.stream(user, gen)[1].content == "next"
    assert llm_server.connection_count == 2


def test_an_error_event_after_the_end_does_not_fail_the_stream(api: API, llm_server: MockLLMServer) -> None:
    gen = gens(llm_server)["custom"]
    body = (
        'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "fine"}, "finish_reason": null}]}\n\n'
        'data: {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
        'data: {"error": {"code": 500, "message": "late failure"}}\n\n'
        "data: not json at all\n\n"
        "data: [DONE]\n\n"
    )
    llm_server.enqueue(Reply.raw(200, body, content_type="text/event-stream"))
    _chunks, response = api.stream(ChatNode.root("Be brief.").add_user("Hi"), gen)
    assert response.content == "fine"
    assert response.finish_reason == "stop"


def test_a_stream_left_early_still_closes_at_once(api: API, llm_server: MockLLMServer) -> None:
    gen = gens(llm_server)["openai"]
    user = ChatNode.root("Be brief.").add_user("Hi")
    llm_server.enqueue(Reply.keep_sending(Reply.text("x" * 200, chunk_size=2)))
    if api.mode == "sync":
        with user.complete_streaming(gen, client=api.sync_client) as stream:
            next(stream)
    else:

        async def go() -> None:
            async with await user.acomplete_streaming(gen, client=api.async_client) as stream:
                await stream.__anext__()

        api.run(go())
    llm_server.enqueue(Reply.text("after"))
    assert api.stream(user, gen)[1].content == "after"
    assert llm_server.connection_count == 2


def test_a_truncated_stream_is_still_an_error(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("cut short", terminal=False))
    _chunks, error = api.stream_collecting(ChatNode.root("Be brief.").add_user("Hi"), gens(llm_server)["openai"])
    assert isinstance(error, StreamError)


def test_the_trailer_limit_is_small() -> None:
    assert 4096 <= TRAILER_LIMIT <= 1 << 20


@pytest.mark.parametrize("preset", ["openai", "anthropic"])
def test_a_server_that_goes_silent_after_the_end_is_dropped_after_the_idle_timeout(
    api: API, llm_server: MockLLMServer, preset: str
) -> None:
    gen = gens(llm_server)[preset]
    user = ChatNode.root("Be brief.").add_user("Hi")
    # The whole stream, then some comments, then silence with the body never ended and the connection open.
    endless = Reply.keep_sending(Reply.text("Hello there"), b": padding\n\n")
    llm_server.enqueue(Reply.stall(endless, after_bytes=8000))
    params = NodeCompletionParameters(timeout_secs=0.5)
    _chunks, response = api.stream(user, gen, params)
    assert response.content == "Hello there"
    llm_server.enqueue(Reply.text("next"))
    assert api.stream(user, gen)[1].content == "next"
    assert llm_server.connection_count == 2
