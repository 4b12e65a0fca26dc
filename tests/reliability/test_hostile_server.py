"""A hostile server's streams: an event that never ends, and malformed events in the middle of a stream.

Each runs in both worlds on a client with a single connection, ``max_event_bytes`` set small
(``CAP``), kept for the whole module (``assert_released`` proves the connection came back after each fault).
An endless stream is really endless: the server writes until the client hangs up, so the test only ends
because the client stops reading at the bound. ``docs/reliability.md`` lists these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from minillm import (
    AsyncClient,
    ChatNode,
    GeneratorInfo,
    MalformedResponseError,
    NodeCompletionParameters,
    StreamError,
    SyncClient,
)
from minillm.core.sse import EventTooLargeError
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.reliability.conftest import TIMEOUT, anthropic_gen, assert_released, openai_gen

CAP = 64 * 1024
"""The clients' ``max_event_bytes`` in this module."""

RETRYING = NodeCompletionParameters(retry=2, back_off_time=0.0)
"""Retries allowed: a stream handed over must still never be sent again."""


@pytest.fixture(scope="module", params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[API]:
    """The reliability suite's runner (one connection, the suite's deadline), its client bounded by ``CAP``."""
    runner = API(request.param, timeout=TIMEOUT, max_connections=1)
    if runner.mode == "sync":
        runner.sync_client.close()
        runner.sync_client = SyncClient(timeout=TIMEOUT, max_connections=1, max_event_bytes=CAP)
    else:
        runner.run(runner.async_client.aclose())
        runner.async_client = AsyncClient(timeout=TIMEOUT, max_connections=1, max_event_bytes=CAP)
    yield runner
    runner.close()


def stream(api: API, gen: GeneratorInfo) -> tuple[str, BaseException | None]:
    """Stream one reply to its end; the text handed over, and the error."""
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gen, RETRYING)
    return "".join(c.delta for c in chunks), error


def openai_text(text: str) -> str:
    return "data: " + json.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}) + "\n\n"


OPENAI_END = 'data: {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'


def anthropic_event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


def anthropic_text(text: str) -> str:
    return anthropic_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


ANTHROPIC_START = anthropic_event(
    "message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
) + anthropic_event(
    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
)
ANTHROPIC_END = anthropic_event(
    "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}
) + anthropic_event("message_stop", {"type": "message_stop"})


def generator(server: MockLLMServer, wire: str) -> GeneratorInfo:
    return openai_gen(server) if wire == "openai" else anthropic_gen(server)


def first_text(wire: str) -> str:
    """The start of a stream on ``wire`` that hands over "Hello "."""
    return openai_text("Hello ") if wire == "openai" else ANTHROPIC_START + anthropic_text("Hello ")


# ----- item 1: an event that never ends ---------------------------------------------------------------------


ENDLESS = {
    "one endless line": ("data: ", "x" * 4096),
    "data lines without a blank line": ("", 'data: {"id": "c1", "choices": []}\n' * 100),
    "an endless line of comments": ("", ": still processing " * 200),
}


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
@pytest.mark.parametrize("shape", sorted(ENDLESS))
def test_an_event_that_never_ends_stops_at_max_event_bytes(
    api: API, llm_server: MockLLMServer, wire: str, shape: str
) -> None:
    start, endless = ENDLESS[shape]
    llm_server.enqueue(Reply.sse(first_text(wire), start, endless=endless), Reply.text("never sent"))
    text, error = stream(api, generator(llm_server, wire))
    assert isinstance(error, StreamError), repr(error)
    assert error.partial_text == text == "Hello "
    assert isinstance(error.__cause__, EventTooLargeError) and error.__cause__.limit == CAP
    assert f"larger than {CAP} bytes" in str(error) and "max_event_bytes" in str(error)
    assert len(llm_server.requests) == 1  # never sent again
    assert_released(api, llm_server)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_an_event_just_under_max_event_bytes_passes(api: API, llm_server: MockLLMServer, wire: str) -> None:
    big = "y" * (CAP - 200)  # the delta's JSON around it stays under the bound
    llm_server.enqueue(Reply.text([big, "!"]))
    assert stream(api, generator(llm_server, wire)) == (big + "!", None)
    assert_released(api, llm_server)


# ----- item 9: a malformed event in the middle of a stream -------------------------------------------------

CUT_OPENAI = 'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "th\n\n'
CUT_ANTHROPIC = 'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"te\n\n'
MALFORMED = {
    ("openai", "a raw tab in a JSON string"): openai_text("Hello ")
    + 'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "a\tb"}}]}\n\n'
    + openai_text("world")
    + OPENAI_END,
    ("openai", "an event cut short, then more"): openai_text("Hello ") + CUT_OPENAI + openai_text("world") + OPENAI_END,
    ("anthropic", "a raw control character in a JSON string"): ANTHROPIC_START
    + anthropic_text("Hello ")
    + anthropic_text("a\x01b").replace("\\u0001", "\x01")
    + anthropic_text("world")
    + ANTHROPIC_END,
    ("anthropic", "an event cut short, then more"): ANTHROPIC_START
    + anthropic_text("Hello ")
    + CUT_ANTHROPIC
    + anthropic_text("world")
    + ANTHROPIC_END,
}


@pytest.mark.parametrize(("wire", "fault"), sorted(MALFORMED))
def test_a_malformed_event_mid_stream_is_a_stream_error_never_a_silent_gap(
    api: API, llm_server: MockLLMServer, wire: str, fault: str
) -> None:
    body = MALFORMED[wire, fault]
    # Each event its own chunk, and the whole body in one: the outcome is the same.
    for pieces in ([body], [p + "\n\n" for p in body.split("\n\n") if p]):
        llm_server.reset()
        llm_server.enqueue(Reply.sse(*pieces), Reply.text("never sent"))
        text, error = stream(api, generator(llm_server, wire))
        assert isinstance(error, StreamError), f"the stream reported success with {text!r}"
        assert error.partial_text == text == "Hello "
        assert isinstance(error.__cause__, MalformedResponseError) and "not JSON" in str(error)
        assert len(llm_server.requests) == 1
    assert_released(api, llm_server)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_a_malformed_event_is_raised_at_once_even_if_the_server_then_stalls(
    api: API, llm_server: MockLLMServer, wire: str
) -> None:
    # "Hello " and the malformed event arrive in one piece, then the server goes silent with the connection
    # open. The chunk is handed over, then the error: without waiting out the idle timeout (five minutes
    # here, so a client that waited would hang this test).
    bad = CUT_OPENAI if wire == "openai" else CUT_ANTHROPIC
    piece = first_text(wire) + bad
    reply = Reply.stall(Reply.sse(piece, "data: more\n\n"), after_bytes=len(piece.encode()))
    llm_server.enqueue(reply)
    chunks, error = api.stream_collecting(
        ChatNode.user("hi"), generator(llm_server, wire), NodeCompletionParameters(timeout_secs=300.0)
    )
    assert isinstance(error, StreamError) and isinstance(error.__cause__, MalformedResponseError)
    assert error.partial_text == "".join(c.delta for c in chunks) == "Hello "
    assert_released(api, llm_server)


IGNORABLE = {
    "openai": ": OPENROUTER PROCESSING\n\n"
    + openai_text("Hello ")
    + ": OPENROUTER PROCESSING\n\n"
    + "data:\n\n"
    + openai_text("world")
    + OPENAI_END,
    "anthropic": ANTHROPIC_START
    + "event: ping\ndata: {}\n\n"
    + "event: ping\ndata: not json\n\n"
    + anthropic_text("Hello ")
    + 'event: some_future_event\ndata: {"cut\n\n'
    + ": a comment\n\n"
    + anthropic_text("world")
    + ANTHROPIC_END,
}


@pytest.mark.parametrize("wire", sorted(IGNORABLE))
def test_events_the_wire_lets_clients_ignore_stay_ignored(api: API, llm_server: MockLLMServer, wire: str) -> None:
    # Comments, empty events, Anthropic pings and event types this code does not know (which Anthropic tells
    # clients to tolerate), whatever their data.
    llm_server.enqueue(Reply.sse(*(p + "\n\n" for p in IGNORABLE[wire].split("\n\n") if p)))
    assert stream(api, generator(llm_server, wire)) == ("Hello world", None)
    assert_released(api, llm_server)
