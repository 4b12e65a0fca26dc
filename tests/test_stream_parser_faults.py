"""``StreamParser`` with the real wires, against bodies that break mid-way: an event that is not JSON, an
event larger than ``max_event_bytes``. Nothing may be skipped silently, and the error's partial text is
always exactly the text handed over, however the body is split into pieces.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from minillm.core.errors import APITimeoutError, MalformedResponseError, StreamError
from minillm.core.providers import AnthropicProvider, OpenAIProvider, OpenRouterProvider
from minillm.core.providers.base import Provider
from minillm.core.sse import EventTooLargeError
from minillm.core.stream import StreamParser

OPENAI = OpenAIProvider()
ANTHROPIC = AnthropicProvider()


def openai_event(text: str) -> bytes:
    return (
        b"data: " + json.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}).encode() + b"\n\n"
    )


OPENAI_END = b'data: {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'


def anthropic_event(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_text(text: str) -> bytes:
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    return anthropic_event("content_block_delta", delta)


ANTHROPIC_START = anthropic_event(
    "message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}}
) + anthropic_event(
    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
)
ANTHROPIC_END = anthropic_event(
    "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}
) + anthropic_event("message_stop", {"type": "message_stop"})

# Malformed events, each followed by more events in the bodies below.
RAW_TAB = b'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "a\tb"}}]}\n\n'
CUT_SHORT = b'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "th\n\n'
ANTHROPIC_CUT = b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"te\n\n'
ANTHROPIC_CONTROL = (
    b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, '
    b'"delta": {"type": "text_delta", "text": "a\x01b"}}\n\n'
)

BROKEN = {
    "openai raw tab": (OPENAI, openai_event("Hello ") + RAW_TAB + openai_event("world") + OPENAI_END),
    "openai cut short": (OPENAI, openai_event("Hello ") + CUT_SHORT + openai_event("world") + OPENAI_END),
    "openrouter cut short": (
        OpenRouterProvider(),
        b": OPENROUTER PROCESSING\n\n" + openai_event("Hello ") + CUT_SHORT + openai_event("world") + OPENAI_END,
    ),
    "anthropic cut short": (
        ANTHROPIC,
        ANTHROPIC_START + anthropic_text("Hello ") + ANTHROPIC_CUT + anthropic_text("world") + ANTHROPIC_END,
    ),
    "anthropic control character": (
        ANTHROPIC,
        ANTHROPIC_START + anthropic_text("Hello ") + ANTHROPIC_CONTROL + anthropic_text("world") + ANTHROPIC_END,
    ),
}


def run(provider: Provider, pieces: list[bytes], *, cap: int | None = None) -> tuple[str, BaseException | None]:
    """Feed ``pieces`` and finish; return the text handed over and the error, if any."""
    parser = StreamParser(provider, "m", False, **({} if cap is None else {"max_event_bytes": cap}))
    delivered: list[str] = []
    try:
        for piece in pieces:
            delivered += [c.delta for c in parser.feed(piece)]
        response = parser.finish({})
    except StreamError as e:
        assert e.partial_text == "".join(delivered)  # exactly what was handed over
        return "".join(delivered), e
    assert response.content == "".join(delivered)
    return response.content, None


def splits(body: bytes) -> list[list[bytes]]:
    """The body whole, byte by byte, and cut in two at every offset."""
    return [[body], [body[i : i + 1] for i in range(len(body))]] + [[body[:i], body[i:]] for i in range(len(body))]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_malformed_event_mid_stream_stops_it_with_the_text_before(case: str) -> None:
    provider, body = BROKEN[case]
    for pieces in splits(body):
        text, error = run(provider, pieces)
        assert isinstance(error, StreamError), f"{case}: the stream reported success with {text!r}"
        assert text == error.partial_text == "Hello "
        assert isinstance(error.__cause__, MalformedResponseError)
        assert "malformed event" in str(error) and "not JSON" in str(error)


def test_the_chunks_before_the_error_in_the_same_piece_are_handed_over_first() -> None:
    parser = StreamParser(OPENAI, "m", False)
    body = openai_event("Hello ") + CUT_SHORT + openai_event("world")
    assert [c.delta for c in parser.feed(body)] == ["Hello "]
    with pytest.raises(StreamError) as info:
        parser.feed(OPENAI_END)
    assert info.value.partial_text == "Hello "
    # A timeout or a drop afterwards does not hide the first thing that went wrong.
    assert parser.fail(APITimeoutError("idle")) is info.value
    with pytest.raises(StreamError) as again:
        parser.finish({})
    assert again.value is info.value


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        (
            OpenRouterProvider(),
            b": OPENROUTER PROCESSING\n\n"
            + openai_event("Hi")
            + b": OPENROUTER PROCESSING\n\n"
            + b"data:\n\n"
            + openai_event("!")
            + OPENAI_END,
        ),
        (OPENAI, openai_event("Hi") + b"data: [DONE]\n\n"),  # [DONE] is not JSON, and is the end
        (
            ANTHROPIC,
            ANTHROPIC_START
            + b"event: ping\ndata: not json\n\n"
            + anthropic_text("Hi")
            + b'event: some_future_event\ndata: {"cut\n\n'
            + b": comment\n\n"
            + anthropic_text("!")
            + ANTHROPIC_END,
        ),
    ],
    ids=["openrouter comments and an empty event", "openai done", "anthropic ping and unknown types"],
)
def test_events_the_wire_lets_clients_ignore_stay_ignored(provider: Provider, body: bytes) -> None:
    for pieces in splits(body):
        text, error = run(provider, pieces)
        assert error is None and text in ("Hi", "Hi!")


def test_an_event_larger_than_the_bound_stops_the_stream_with_the_text_before() -> None:
    body = openai_event("Hello ") + openai_event("x" * 5000) + openai_event("world") + OPENAI_END
    for pieces in [*splits(body)[:3], [body[i : i + 512] for i in range(0, len(body), 512)]]:
        text, error = run(OPENAI, pieces, cap=1000)
        assert isinstance(error, StreamError) and text == error.partial_text == "Hello "
        assert isinstance(error.__cause__, EventTooLargeError)
        assert "max_event_bytes" in str(error)


def test_an_oversized_event_after_the_end_is_not_an_error() -> None:
    body = openai_event("Hello") + OPENAI_END + b"data: " + b"x" * 5000 + b"\n\n"
    for pieces in splits(body)[:2]:
        assert run(OPENAI, pieces, cap=1000) == ("Hello", None)
