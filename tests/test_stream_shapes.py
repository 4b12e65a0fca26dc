"""Every stream shape the real APIs send, served over loopback from tests/fixtures/ in both worlds.

Several choices (index 0 is the reply), usage after the finish reason on generic servers and the
``stream_usage`` opt-in, tool calls of a type minillm does not know, refusals and unknown Anthropic blocks.
Where each shape comes from is in tests/fixtures/README.md and tests/fixtures/anthropic/README.md.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from minillm import (
    ChatNode,
    CostInfo,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
    TokenPrice,
    ToolCall,
    Usage,
)
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.test_transport import gens

FIXTURES = Path(__file__).parent / "fixtures"
USAGE = NodeCompletionParameters(track_cost=True)


def openai_stream(name: str) -> Reply:
    lines = json.loads((FIXTURES / "openai" / name).read_text(encoding="utf-8"))["sse"]
    return Reply.raw(200, "\n".join(lines) + "\n", content_type="text/event-stream")


def openai_body(name: str) -> Reply:
    body = json.loads((FIXTURES / "openai" / name).read_text(encoding="utf-8"))["body"]
    return Reply.raw(200, json.dumps(body), content_type="application/json")


def anthropic_file(name: str) -> Reply:
    kind = "text/event-stream" if name.endswith(".txt") else "application/json"
    return Reply.raw(200, (FIXTURES / "anthropic" / name).read_bytes(), content_type=kind)


def user() -> ChatNode:
    return ChatNode.root("Be brief.").add_user("Hi")


# --- several choices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["openai", "custom"])
def test_a_stream_of_two_choices_follows_index_0(api: API, llm_server: MockLLMServer, preset: str) -> None:
    gen = gens(llm_server)[preset]
    for _ in range(2):
        llm_server.enqueue(openai_stream("stream_two_choices.json"))
        chunks, response = api.stream(user(), gen, USAGE)
        assert response.content == "Roses are red, the sky is blue."
        assert "".join(c.delta for c in chunks) == response.content
        assert response.finish_reason == "stop"
        assert response.tool_calls == ()  # choice 1's call is not the reply's
        assert response.usage == Usage(uncached_input_tokens=19, completion_tokens=23, reasoning_tokens=0)
    assert llm_server.connection_count == 1


def test_a_response_of_two_choices_takes_index_0(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(openai_body("chat_completion_two_choices.json"))
    reply = api.complete(user(), gens(llm_server)["openai"])
    assert reply.text == "Roses are red, the sky is blue."
    assert reply.tool_calls in (None, ())


# --- usage after the finish reason, and the stream_usage opt-in --------------------------------------------


def test_generic_stream_reads_usage_sent_after_the_finish_reason(api: API, llm_server: MockLLMServer) -> None:
    costs: list[CostInfo] = []
    gen = gens(llm_server)["custom"].with_token_price(TokenPrice(1.0, 2.0))
    llm_server.enqueue(openai_stream("stream_usage_after_finish.json"))
    _, response = api.stream(user(), gen, NodeCompletionParameters(cost_callback=costs.append))
    assert response.content == "Hello from vLLM."
    assert response.usage == Usage(uncached_input_tokens=14, completion_tokens=6)
    assert len(costs) == 1
    assert costs[0].is_known
    assert costs[0].cost == pytest.approx((14 * 1.0 + 6 * 2.0) / 1e6)
    assert "stream_options" not in llm_server.last_request.json


@pytest.mark.parametrize("how", ["argument", "builder"])
def test_stream_usage_asks_for_usage_and_waits_for_it(api: API, llm_server: MockLLMServer, how: str) -> None:
    base = llm_server.openai_base_url
    if how == "argument":
        gen = GeneratorInfo.custom("local", base, "local-model", stream_usage=True)
    else:
        gen = GeneratorInfo.custom("local", base, "local-model").with_stream_usage(True)
    llm_server.enqueue(Reply.text("counted", usage=(7, 2)))
    _, response = api.stream(user(), gen)
    assert llm_server.last_request.json["stream_options"] == {"include_usage": True}
    assert response.usage is not None
    assert (response.usage.uncached_input_tokens, response.usage.completion_tokens) == (7, 2)
    # Plain requests are unchanged: usage comes with every plain response.
    llm_server.enqueue(Reply.text("plain", usage=(7, 2)))
    api.complete(user(), gen)
    assert "stream_options" not in llm_server.last_request.json


def test_stream_usage_is_off_by_default_and_only_for_custom(llm_server: MockLLMServer) -> None:
    gen = GeneratorInfo.custom("local", llm_server.openai_base_url, "m")
    assert gen.with_stream_usage(True).with_stream_usage(False) == gen
    with pytest.raises(InvalidParameterError, match="custom"):
        gens(llm_server)["openai"].with_stream_usage(True)


# --- tool calls of a type minillm does not know ----------------------------------------------------------


def _check_custom_call(unknown: tuple[str, ...]) -> None:
    entries: list[Any] = [json.loads(raw) for raw in unknown]
    assert entries[0]["id"] == "call_custom_1"
    assert entries[0]["custom"]["name"] == "code_exec"
    assert "".join(e["custom"]["input"] for e in entries) == 'print("hello world")'


def test_a_response_with_a_custom_tool_call_keeps_text_known_calls_and_the_raw_entry(
    api: API, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="minillm")
    llm_server.enqueue(openai_body("chat_completion_custom_tool_call.json"))
    reply, cost = api.complete_costed(user(), gens(llm_server)["openai"])
    assert reply.text == "Running both tools."
    assert reply.tool_calls == [ToolCall("call_fn_1", "get_weather", '{"city":"Paris"}')]
    assert cost.completion_tokens == 40
    assert "code_exec" in caplog.text


def test_parse_response_keeps_the_unknown_entry(llm_server: MockLLMServer) -> None:
    body = json.loads((FIXTURES / "openai" / "chat_completion_custom_tool_call.json").read_text())["body"]
    response = gens(llm_server)["openai"].provider.parse_response(body)
    assert response.content == "Running both tools."
    assert [c.name for c in response.tool_calls] == ["get_weather"]
    _check_custom_call(response.unknown_tool_calls)


@pytest.mark.parametrize("preset", ["openai", "custom"])
def test_a_stream_with_a_custom_tool_call_keeps_text_known_calls_and_the_raw_pieces(
    api: API, llm_server: MockLLMServer, preset: str
) -> None:
    llm_server.enqueue(openai_stream("stream_custom_tool_call.json"))
    _, response = api.stream(user(), gens(llm_server)[preset])
    assert response.content == "Running both tools."
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == (ToolCall("call_fn_1", "get_weather", '{"city":"Paris"}'),)
    _check_custom_call(response.unknown_tool_calls)


# --- refusals and unknown Anthropic blocks ---------------------------------------------------------------


def test_an_openai_refusal_stream_passes_through(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(openai_stream("stream_refusal_with_usage.json"))
    chunks, error = api.stream_collecting(user(), gens(llm_server)["openai"], USAGE)
    assert error is None
    assert chunks[-1].finish_reason == "stop" or any(c.finish_reason == "stop" for c in chunks)
    assert all(c.delta == "" for c in chunks)  # a refusal is not reply text


def test_an_openai_refusal_response_passes_through(llm_server: MockLLMServer) -> None:
    body = json.loads((FIXTURES / "openai" / "chat_completion_refusal_annotations.json").read_text())["body"]
    response = gens(llm_server)["openai"].provider.parse_response(body)
    assert response.content == ""
    assert response.finish_reason == "stop"


@pytest.mark.parametrize("name", ["stream_refusal_after_text.txt", "response_refusal_after_text.json"])
def test_an_anthropic_refusal_passes_through(api: API, llm_server: MockLLMServer, name: str) -> None:
    gen = gens(llm_server)["anthropic"]
    llm_server.enqueue(anthropic_file(name))
    if name.endswith(".txt"):
        _, response = api.stream(user(), gen)
        assert response.content == "Hello.."
        assert response.finish_reason == "refusal"
        assert response.usage is not None and response.usage.completion_tokens == 5
    else:
        assert api.complete(user(), gen).text == "Hello.."


@pytest.mark.parametrize("name", ["stream_unknown_blocks.txt", "response_unknown_blocks.json"])
def test_unknown_anthropic_blocks_pass_through_with_the_text_intact(
    api: API, llm_server: MockLLMServer, name: str
) -> None:
    gen = gens(llm_server)["anthropic"]
    llm_server.enqueue(anthropic_file(name))
    if name.endswith(".txt"):
        chunks, response = api.stream(user(), gen)
        assert response.content == "Hello, friend."
        assert "".join(c.delta for c in chunks) == "Hello, friend."
        assert response.finish_reason == "end_turn"
    else:
        assert api.complete(user(), gen).text == "Hello, friend."


def test_with_stream_usage_a_generic_stream_is_finished_only_by_its_usage() -> None:
    from minillm.core.providers.generic import GenericProvider
    from minillm.core.stream import StreamParser

    finish = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}\n\n'
    usage = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}\n\n'
    waiting = StreamParser(GenericProvider(stream_usage=True), "m", include_usage=False)
    waiting.feed(finish)
    assert not waiting.finished
    waiting.feed(usage)
    assert waiting.finished
    plain = StreamParser(GenericProvider(), "m", include_usage=True)
    plain.feed(finish)
    assert plain.finished
