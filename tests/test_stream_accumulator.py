"""Tests for the stream accumulator and parser (minillm.core.stream).

The real wires are tested on their own; here a toy OpenAI-like wire, written below, turns each event into a
chunk, so these tests pin what the parser and accumulator do with chunks: text, id, finish reason, usage,
tool calls, truncation, in-band errors and events after the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from minillm.core.errors import APIConnectionError, APIError, StreamError
from minillm.core.providers.base import StreamEnd, WireRequest
from minillm.core.response import CompletionResponse
from minillm.core.sse import ServerSentEvent
from minillm.core.stream import TRAILER_LIMIT, StreamAccumulator, StreamChunk, StreamParser, ToolCallDelta
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage

MODEL = "generator-model"


class ToyWire:
    """Just enough of an OpenAI-like wire to drive ``StreamParser``: one JSON chunk per event."""

    name = "toy"

    def completions_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/chat/completions"

    def headers(self, credential: Any, attribution: tuple[str, str] | None) -> Sequence[tuple[str, str]]:
        return ()

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_response(self, data: Any) -> CompletionResponse:
        raise NotImplementedError

    def parse_stream_event(self, event: ServerSentEvent) -> StreamChunk | StreamEnd | None:
        if event.data == "[DONE]":
            return StreamEnd()
        data = json.loads(event.data)
        if "error" in data:
            raise APIError(data["error"]["message"], status_code=data["error"].get("code", 500))
        u = data.get("usage")
        usage = Usage(uncached_input_tokens=u["prompt_tokens"], completion_tokens=u["completion_tokens"]) if u else None
        choice = (data.get("choices") or [{}])[0]
        delta = choice.get("delta") or {}
        tools = [
            ToolCallDelta(t["index"], t.get("id"), t["function"].get("name"), t["function"].get("arguments"))
            for t in delta.get("tool_calls") or []
        ]
        return StreamChunk(delta.get("content") or "", data.get("id"), choice.get("finish_reason"), usage, tools)

    def expects_stream_usage(self, include_usage: bool) -> bool:
        return include_usage


# --- helpers ---------------------------------------------------------------------------------------------


def sse(*events: object) -> bytes:
    """An SSE body: each event is a JSON object, or a raw string (``"[DONE]"``) sent as is."""
    out = []
    for e in events:
        out.append(b"data: " + (e if isinstance(e, str) else json.dumps(e)).encode() + b"\n\n")
    return b"".join(out)


def text(content: str, id: str | None = "chatcmpl-1") -> dict[str, Any]:
    return {"id": id, "model": "server-model", "choices": [{"index": 0, "delta": {"content": content}}]}


def finish(reason: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def usage(prompt: int = 10, completion: int = 5, choices: list[Any] | None = None) -> dict[str, Any]:
    counts = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {"id": "chatcmpl-1", "choices": choices or [], "usage": counts}


def tool(index: int, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    call: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        call["id"] = id
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}


def parser(include_usage: bool = False) -> StreamParser:
    return StreamParser(ToyWire(), MODEL, include_usage)


def run(
    body: bytes, include_usage: bool = False, pieces: int | None = None
) -> tuple[list[StreamChunk], CompletionResponse]:
    """Feed ``body`` (whole, or in pieces of ``pieces`` bytes) and finish; the chunks delivered and the response."""
    p = parser(include_usage)
    chunks: list[StreamChunk] = []
    step = pieces or max(len(body), 1)
    for i in range(0, len(body), step):
        chunks += p.feed(body[i : i + step])
    return chunks, p.finish()


# --- text, id, model -------------------------------------------------------------------------------------


def test_text_accumulates_and_chunks_are_delivered_in_order() -> None:
    chunks, response = run(sse(text("Hel"), text("lo"), text(", world"), finish(), "[DONE]"))
    assert [c.delta for c in chunks] == ["Hel", "lo", ", world", ""]
    assert chunks[-1].is_final()
    assert response.content == "Hello, world"
    assert response.finish_reason == "stop"
    assert response.is_complete()


def test_model_is_the_generators_not_the_servers() -> None:
    _, response = run(sse(text("x"), finish()))
    assert response.model == MODEL


def test_id_is_adopted_from_the_first_non_empty_id() -> None:
    body = sse(text("a", id=None), text("b", id=""), text("c", id="first"), text("d", id="second"), finish())
    _, response = run(body)
    assert response.id == "first"
    assert response.content == "abcd"


def test_empty_chunks_are_ingested_but_not_delivered() -> None:
    role_only = {"id": "chatcmpl-9", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    chunks, response = run(sse(role_only, text("hi"), finish()))
    assert [c.delta for c in chunks] == ["hi", ""]
    assert response.id == "chatcmpl-9"


def test_comments_before_the_first_event_are_ignored() -> None:
    body = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + sse(text("ok"), finish(), "[DONE]")
    chunks, response = run(body)
    assert response.content == "ok"
    assert len(chunks) == 2


def test_headers_are_passed_to_the_response() -> None:
    p = parser()
    p.feed(sse(text("x"), finish()))
    response = p.finish(headers={"X-Request-Id": "req-1"})
    assert response.headers == {"x-request-id": "req-1"}


def test_partial_text_and_finished_properties() -> None:
    p = parser()
    p.feed(sse(text("Hel"), text("lo")))
    assert p.partial_text == "Hello"
    assert not p.finished
    p.feed(sse(finish()))
    assert p.finished


# --- finish reason ---------------------------------------------------------------------------------------


def test_a_later_chunk_finish_reason_overwrites_an_earlier_one() -> None:
    acc = StreamAccumulator(MODEL, expect_usage=True)
    acc.ingest(StreamChunk("a", finish_reason="stop"))
    acc.ingest(StreamChunk("", finish_reason="length"))
    assert acc.finish_reason == "length"


@pytest.mark.parametrize("reason", ["length", "end_turn", "tool_calls"])
def test_stream_end_never_overwrites_a_finish_reason(reason: str) -> None:
    acc = StreamAccumulator(MODEL, expect_usage=True)
    acc.ingest(StreamChunk("a", finish_reason=reason))
    assert not acc.finished  # still waiting for usage
    acc.ingest(StreamEnd())
    assert acc.finished
    assert acc.finish_reason == reason


def test_stream_end_supplies_the_finish_reason_when_none_came() -> None:
    acc = StreamAccumulator(MODEL, expect_usage=False)
    acc.ingest(StreamChunk("a"))
    acc.ingest(StreamEnd("end_turn"))
    assert acc.finished
    assert acc.finish_reason == "end_turn"
    assert acc.ended


def test_done_after_length_keeps_length_and_usage_stays_none_when_it_never_came() -> None:
    _, response = run(sse(text("abc"), finish("length"), "[DONE]"), include_usage=True)
    assert response.finish_reason == "length"
    assert response.is_truncated()
    assert response.usage is None


def test_done_without_finish_reason_is_a_complete_stop() -> None:
    _, response = run(sse(text("abc"), "[DONE]"))
    assert response.finish_reason == "stop"
    assert response.content == "abc"


# --- usage -----------------------------------------------------------------------------------------------


def test_with_usage_expected_the_stream_waits_for_the_usage_chunk() -> None:
    p = parser(include_usage=True)
    p.feed(sse(text("hi"), finish()))
    assert not p.finished
    delivered = p.feed(sse(usage(12, 3)))
    assert p.finished
    assert [c.usage for c in delivered] == [Usage(uncached_input_tokens=12, completion_tokens=3)]
    response = p.finish()
    assert response.usage == Usage(uncached_input_tokens=12, completion_tokens=3)
    assert response.finish_reason == "stop"


def test_litellm_usage_chunk_with_an_empty_delta_choice() -> None:
    _, response = run(sse(text("hi"), finish(), usage(4, 2, choices=[{"index": 0, "delta": {}}]), "[DONE]"), True)
    assert response.usage == Usage(uncached_input_tokens=4, completion_tokens=2)
    assert response.finish_reason == "stop"


def test_usage_on_the_finish_chunk_itself() -> None:
    both = finish() | {"usage": {"prompt_tokens": 7, "completion_tokens": 1}}
    p = parser(include_usage=True)
    p.feed(sse(text("x"), both))
    assert p.finished
    assert p.finish().usage == Usage(uncached_input_tokens=7, completion_tokens=1)


def test_without_usage_expected_the_finish_chunk_ends_it_and_later_usage_is_still_read() -> None:
    p = parser(include_usage=False)
    p.feed(sse(text("hi"), finish()))
    assert p.finished
    assert p.feed(sse(usage(12, 3), "[DONE]")) == []  # nothing more for the caller
    assert p.finish().usage == Usage(uncached_input_tokens=12, completion_tokens=3)


def test_drain_keeps_trailing_usage_and_ignores_errors_and_garbage() -> None:
    p = parser(include_usage=False)
    assert p.feed(sse(text("hi"), finish()))
    assert p.drain(sse({"error": {"code": 500, "message": "late"}}))
    assert p.drain(b"data: {not json\n\n")
    assert p.drain(sse(usage(5, 2))[:7])  # an event split across pieces
    assert p.drain(sse(usage(5, 2))[7:] + b"data: [DONE]\n\n")
    response = p.finish()
    assert response.content == "hi"
    assert response.usage == Usage(uncached_input_tokens=5, completion_tokens=2)


def test_drain_says_stop_past_the_trailer_limit() -> None:
    p = parser(include_usage=False)
    p.feed(sse(text("hi"), finish()))
    piece = b": padding" + b"." * 1000 + b"\n"
    fed = 0
    while p.drain(piece):
        fed += len(piece)
        assert fed <= TRAILER_LIMIT
    assert fed > TRAILER_LIMIT - 2 * len(piece)
    assert p.finish().content == "hi"


def test_usage_merge_anthropic_example() -> None:
    # message_start (input 15, output 1), "Hel", "lo", message_delta (end_turn, output 9): the
    # split Anthropic usage merges to input 15, output 9.
    acc = StreamAccumulator(MODEL, expect_usage=True)
    acc.ingest(StreamChunk(id="msg_1", usage=Usage(uncached_input_tokens=15, completion_tokens=1)))
    acc.ingest(StreamChunk("Hel"))
    acc.ingest(StreamChunk("lo"))
    assert not acc.finished
    acc.ingest(StreamChunk(finish_reason="end_turn", usage=Usage(completion_tokens=9)))
    assert acc.finished
    response = acc.response()
    assert response.content == "Hello"
    assert response.finish_reason == "end_turn"
    assert response.id == "msg_1"
    assert response.usage is not None
    assert response.usage.uncached_input_tokens == 15
    assert response.usage.completion_tokens == 9
    assert response.usage.total_tokens == 24


def test_usage_merge_keeps_present_costs_and_takes_new_ones() -> None:
    acc = StreamAccumulator(MODEL, expect_usage=True)
    acc.ingest(StreamChunk(usage=Usage(cache_read_tokens=100, cost=0.5, reasoning_tokens=3)))
    acc.ingest(StreamChunk(usage=Usage(completion_tokens=8, upstream_inference_cost=0.25)))
    assert acc.usage == Usage(
        cache_read_tokens=100, completion_tokens=8, cost=0.5, upstream_inference_cost=0.25, reasoning_tokens=3
    )
    acc.ingest(StreamChunk(usage=Usage(cost=0.0, reasoning_tokens=0)))
    assert acc.usage is not None
    assert acc.usage.cost == 0.0  # present, so it overwrites
    assert acc.usage.reasoning_tokens == 0
    assert acc.usage.cache_read_tokens == 100  # zero counts never overwrite


# --- tool calls ------------------------------------------------------------------------------------------


def test_tool_call_fragments_are_joined() -> None:
    _, response = run(sse(tool(0, "c0", "search", '{"q":'), tool(0, args='"rust"}'), finish("tool_calls"), "[DONE]"))
    assert response.tool_calls == (ToolCall("c0", "search", '{"q":"rust"}'),)
    assert response.tool_calls[0].arguments_json() == {"q": "rust"}
    assert response.finish_reason == "tool_calls"


def test_tool_calls_come_out_in_index_order_not_arrival_order() -> None:
    body = sse(tool(3, "c3", "b", "{}"), tool(1, "c1", "a", '{"x":'), tool(1, args="1}"), finish("tool_calls"))
    _, response = run(body)
    assert [c.id for c in response.tool_calls] == ["c1", "c3"]
    assert response.tool_calls[0].arguments == '{"x":1}'


def test_sparse_and_huge_indices() -> None:
    _, response = run(sse(tool(10**12, "big", "f", "{}"), tool(1, "one", "g", "{}"), finish("tool_calls")))
    assert [c.id for c in response.tool_calls] == ["one", "big"]


def test_slots_without_both_id_and_name_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    body = sse(tool(0, "c0", "ok", "{}"), tool(1, name="no_id", args="{}"), tool(2, id="no_name"), finish("tool_calls"))
    with caplog.at_level(logging.WARNING, logger="minillm"):
        _, response = run(body)
    assert [c.id for c in response.tool_calls] == ["c0"]
    dropped = [r for r in caplog.records if r.name == "minillm" and r.levelno == logging.WARNING]
    assert len(dropped) == 2
    assert "index 1" in dropped[0].getMessage()
    assert "index 2" in dropped[1].getMessage()


def test_no_tool_delta_means_no_tool_calls() -> None:
    _, response = run(sse(text("plain"), finish()))
    assert response.tool_calls == ()
    assert not response.has_tool_calls()


def test_tool_call_chunks_are_delivered() -> None:
    chunks, _ = run(sse(tool(0, "c0", "f", "{"), tool(0, args="}"), finish("tool_calls")))
    assert chunks[0].tool_calls == (ToolCallDelta(0, "c0", "f", "{"),)
    assert chunks[1].tool_calls == (ToolCallDelta(0, None, None, "}"),)


# --- truncation, errors, the end -------------------------------------------------------------------------


def test_a_stream_cut_before_its_finish_raises_with_the_partial_text() -> None:
    p = parser()
    p.feed(sse(text("Hel"), text("lo")) + b'data: {"choices": [')  # cut inside an event as well
    with pytest.raises(StreamError) as info:
        p.finish()
    assert info.value.partial_text == "Hello"
    assert "ended before the provider finished it" in str(info.value)
    assert "5 characters" in str(info.value)


def test_an_empty_body_is_truncated() -> None:
    with pytest.raises(StreamError) as info:
        parser().finish()
    assert info.value.partial_text == ""


def test_a_body_ending_after_the_finish_chunk_without_done_is_complete() -> None:
    chunks, response = run(sse(text("Hi"), finish()))
    assert response.content == "Hi"
    assert response.finish_reason == "stop"
    assert len(chunks) == 2


def test_an_in_band_error_becomes_a_stream_error_with_its_cause() -> None:
    p = parser()
    delivered = p.feed(sse(text("Hel")))
    assert [c.delta for c in delivered] == ["Hel"]
    with pytest.raises(StreamError) as info:
        p.feed(sse({"error": {"message": "Overloaded", "code": 529}}, text("never")))
    error = info.value
    assert error.partial_text == "Hel"
    assert isinstance(error.__cause__, APIError)
    assert error.__cause__.status_code == 529
    assert "529" in str(error)
    assert "Overloaded" in str(error)
    # The parser stays failed: the body cannot be finished into a response.
    with pytest.raises(StreamError):
        p.finish()


def test_events_after_the_end_are_ignored() -> None:
    body = sse(text("a"), finish(), "[DONE]", text("ghost"), {"error": {"message": "late", "code": 500}})
    chunks, response = run(body)
    assert [c.delta for c in chunks] == ["a", ""]
    assert response.content == "a"


def test_events_after_an_explicit_end_are_ignored_even_without_a_finish_chunk() -> None:
    p = parser()
    p.feed(sse(text("a"), "[DONE]"))
    assert p.finished
    assert p.feed(sse(text("b"), finish("length"))) == []
    response = p.finish()
    assert response.content == "a"
    assert response.finish_reason == "stop"


def test_fail_wraps_a_broken_connection() -> None:
    p = parser()
    p.feed(sse(text("partial ")))
    broken = APIConnectionError("connection reset by peer")
    error = p.fail(broken)
    assert isinstance(error, StreamError)
    assert error.partial_text == "partial "
    assert error.__cause__ is broken
    assert "connection reset by peer" in str(error)
    with pytest.raises(StreamError):
        p.feed(sse(text("more")))


def test_fail_returns_a_stream_error_as_is() -> None:
    p = parser()
    original = StreamError("already a stream error", partial_text="x")
    assert p.fail(original) is original


# --- pieces and scale ------------------------------------------------------------------------------------


def test_feeding_byte_by_byte_gives_the_same_chunks_as_one_shot() -> None:
    body = (
        b"\xef\xbb\xbf: OPENROUTER PROCESSING\r\n\r\n"
        + sse(text("h\u00e9llo "), text("w\u00f6rld \U0001f600"), tool(0, "c0", "f", '{"a":'), tool(0, args="1}"))
        + sse(finish("tool_calls"), usage(3, 4)).replace(b"\n", b"\r\n")
        + b"data: [DONE]\r\n\r\n"
    )
    whole_chunks, whole = run(body, include_usage=True)
    for size in (1, 2, 3, 7):
        chunks, response = run(body, include_usage=True, pieces=size)
        assert chunks == whole_chunks
        assert response == whole
    assert whole.content == "h\u00e9llo w\u00f6rld \U0001f600"
    assert whole.tool_calls == (ToolCall("c0", "f", '{"a":1}'),)
    assert whole.usage == Usage(uncached_input_tokens=3, completion_tokens=4)


def test_a_hundred_thousand_chunks_stay_linear() -> None:
    n = 100_000
    event = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
    body = event * n + sse(finish(), "[DONE]")
    p = parser()
    delivered = 0
    for piece, i in enumerate(range(0, len(body), 4096)):
        delivered += len(p.feed(body[i : i + 4096]))
        if piece % 100 == 0 and not p.finished:  # reading the partial text now and then stays cheap
            assert p.partial_text == "x" * delivered
    response = p.finish()
    assert delivered == n + 1
    assert len(response.content) == n
    assert response.content == "x" * n


def test_fail_names_an_error_without_a_message_by_its_type() -> None:
    p = parser()
    error = p.fail(TimeoutError())
    assert "TimeoutError" in str(error)
    assert "0 characters" in str(error)
