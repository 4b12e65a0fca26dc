"""Reasoning and refusals on each wire, without a server: how a ``ReasoningConfig`` is sent (Anthropic
``thinking`` and its rules, OpenAI ``reasoning_effort``, OpenRouter ``reasoning``, custom servers), how thinking
goes back with its turn, and how responses and streams surface reasoning and refusals, against the fixtures in
tests/fixtures (see its README). Every stream fixture is also fed split at every byte offset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minillm.core.errors import InvalidParameterError
from minillm.core.messages import Message, ReasoningPart, Role
from minillm.core.params import CompletionParameters, ReasoningConfig
from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.anthropic_thinking import thinking_budget
from minillm.core.providers.base import Provider, WireRequest
from minillm.core.providers.generic import GenericProvider
from minillm.core.providers.openai import OpenAIProvider
from minillm.core.providers.openrouter import OpenRouterProvider
from minillm.core.response import CompletionResponse
from minillm.core.sse import ServerSentEvent
from minillm.core.stream import StreamChunk, StreamParser
from minillm.core.tools import ToolCall, ToolChoice, ToolDefinition

FIXTURES = Path(__file__).parent / "fixtures"
ANTHROPIC, OPENAI, OPENROUTER, GENERIC = AnthropicProvider(), OpenAIProvider(), OpenRouterProvider(), GenericProvider()
TOOL = ToolDefinition("get_weather", "weather", {"type": "object", "properties": {"city": {"type": "string"}}})
SIG = "EuYBCkQYAiJAgCs1le6/Pol5Z4/JMomVOouGrWdhYNsH3ukzUECbB6iWrSQtsQuRHJID6lWV6HVp8XfOfg8+cbhq5dMgq2EgSBCIL8aq7vWBKa5eXUyn+xoMcSZ4q0wSV1A4GXzUIjAi5z88ByyhpWA05VyGY6Wd3WOAc9eRcCNYQwIm/eMN4gKtg+XyRvdgCpq7tzddJVEqDqiM4vXSLRKVmhIY9Ntr5S4tAo0XMEAYGBQ=="  # noqa: E501
RED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj"


def thinking(effort: str | None = None, budget: int | None = None, **params: Any) -> CompletionParameters:
    return CompletionParameters(**params).with_reasoning(ReasoningConfig(effort=effort, max_tokens=budget))


def body(provider: Provider, params: CompletionParameters, *messages: Message) -> dict[str, Any]:
    return provider.build_body(WireRequest("m", messages or (Message.user("hi"),), params))


# ----- requests: Anthropic ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effort", "max_tokens", "budget"),
    [
        ("minimal", 4096, 1024),  # 409 raised to Anthropic's floor
        ("low", 8000, 1600),
        ("medium", 4096, 2048),
        ("high", 4096, 3276),
        ("xhigh", 10000, 9000),
        ("high", 64000, 32000),  # capped
    ],
)
def test_an_effort_is_a_share_of_max_tokens(effort: str, max_tokens: int, budget: int) -> None:
    assert thinking_budget(ReasoningConfig(effort=effort), max_tokens) == budget
    sent = body(ANTHROPIC, thinking(effort, max_tokens=max_tokens))
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}


def test_an_explicit_budget_wins_over_an_effort_and_none_turns_thinking_off() -> None:
    assert body(ANTHROPIC, thinking("low", 3000))["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    sent = body(ANTHROPIC, thinking("none"))
    assert "thinking" not in sent and sent["temperature"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (thinking(budget=1000), "at least 1024"),
        (thinking(budget=4096), r"below max_tokens \(4096\)"),
        (thinking("high", max_tokens=1024), "below max_tokens"),
        (thinking("extreme"), "unknown reasoning effort 'extreme'"),
        (thinking(budget=2048, top_k=5), "top_k"),
        (thinking(budget=2048, top_p=0.5), "top_p"),
        (thinking(budget=2048).with_tool(TOOL).with_tool_choice(ToolChoice.required()), "forcing a tool"),
    ],
)
def test_anthropic_rules_are_checked_before_sending(params: CompletionParameters, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        body(ANTHROPIC, params)


def test_temperature_is_left_out_with_thinking_unless_it_is_one() -> None:
    assert "temperature" not in body(ANTHROPIC, thinking(budget=2048, temperature=0.2))
    assert body(ANTHROPIC, thinking(budget=2048, temperature=1.0))["temperature"] == 1.0
    assert body(ANTHROPIC, thinking(budget=2048, top_p=0.95))["top_p"] == 0.95


def _part(block: dict[str, Any], after: int = 0, wire: str = "anthropic") -> ReasoningPart:
    return ReasoningPart(wire, block, after)


THINK_A = {"type": "thinking", "thinking": "first", "signature": SIG}
THINK_B = {"type": "thinking", "thinking": "between calls", "signature": "sig-b"}
REDACTED = {"type": "redacted_thinking", "data": RED}
CALLS = (ToolCall("t1", "get_weather", '{"city":"Paris"}'), ToolCall("t2", "get_weather", '{"city":"Oslo"}'))


def test_thinking_goes_back_unchanged_and_in_order_with_the_tool_calls() -> None:
    parts = [
        _part(THINK_A),
        _part(REDACTED),
        _part(THINK_B, after=1),
        _part({"type": "reasoning.text"}, 0, "openrouter"),
    ]
    assistant = Message(Role.ASSISTANT, "Checking.", tool_calls=CALLS, reasoning="first", reasoning_parts=parts)
    sent = body(ANTHROPIC, thinking(budget=2048), Message.user("q"), assistant, Message.tool("t1", "18"))
    assert sent["messages"][1]["content"] == [
        THINK_A,
        REDACTED,
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        THINK_B,
        {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Oslo"}},
    ]


def test_a_cache_mark_never_lands_on_a_thinking_block() -> None:
    assistant = Message(Role.ASSISTANT, "", tool_calls=CALLS[:1], reasoning_parts=[_part(THINK_A, after=1)])
    marked = Message(
        assistant.role, "", tool_calls=CALLS[:1], reasoning_parts=assistant.reasoning_parts, cache_breakpoint=True
    )
    content = body(ANTHROPIC, CompletionParameters(), Message.user("q"), marked)["messages"][1]["content"]
    assert content[0]["cache_control"] == {"type": "ephemeral"} and content[1] == THINK_A


# ----- requests: chat-completions wires -----------------------------------------------------------------------


def test_openai_sends_reasoning_effort_and_refuses_a_bare_budget() -> None:
    assert body(OPENAI, thinking("high"))["reasoning_effort"] == "high"
    assert "reasoning" not in body(OPENAI, thinking("high"))
    with pytest.raises(InvalidParameterError, match="reasoning_effort: none, minimal, low, medium, high or xhigh"):
        body(OPENAI, thinking(budget=2048))


def test_openrouter_sends_its_reasoning_object() -> None:
    params = CompletionParameters().with_reasoning(ReasoningConfig(max_tokens=2000, exclude=True))
    assert body(OPENROUTER, params)["reasoning"] == {"max_tokens": 2000, "exclude": True}
    assert "reasoning_effort" not in body(OPENROUTER, params)


def test_custom_servers_take_openais_shape_unless_told_otherwise() -> None:
    assert body(GENERIC, thinking("low"))["reasoning_effort"] == "low"
    assert body(GenericProvider(reasoning="openrouter"), thinking(budget=900))["reasoning"] == {"max_tokens": 900}


def test_reasoning_details_go_back_only_on_openrouter() -> None:
    details = [
        {"type": "reasoning.text", "text": "t", "signature": "s", "index": 0},
        {"type": "reasoning.encrypted", "data": "d"},
    ]
    parts = [_part(d, wire="openrouter") for d in details] + [_part(THINK_A)]
    assistant = Message(Role.ASSISTANT, "ok", reasoning="t", reasoning_parts=parts)
    sent = body(OPENROUTER, CompletionParameters(), Message.user("q"), assistant)["messages"][1]
    assert sent == {"role": "assistant", "content": "ok", "reasoning_details": details}
    for provider in (OPENAI, GENERIC):
        assert body(provider, CompletionParameters(), Message.user("q"), assistant)["messages"][1] == {
            "role": "assistant",
            "content": "ok",
        }
    assert body(ANTHROPIC, CompletionParameters(), Message.user("q"), assistant)["messages"][1]["content"] == [
        THINK_A,
        {"type": "text", "text": "ok"},
    ]


# ----- responses ----------------------------------------------------------------------------------------------


def load(path: str) -> Any:
    data = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
    return data["body"] if path.startswith("openai/") else data


def test_anthropic_thinking_redacted_thinking_and_tool_use() -> None:
    raw = load("anthropic/response_thinking_redacted_tool.json")
    r = ANTHROPIC.parse_response(raw)
    assert r.reasoning == "The user wants the weather in Paris. I should call get_weather."
    assert [p.block for p in r.reasoning_parts] == raw["content"][:2]  # byte for byte
    assert [p.after_tool_calls for p in r.reasoning_parts] == [0, 0]
    assert r.reasoning_parts[1].redacted and r.reasoning_parts[1].text == ""
    assert (r.content, r.refusal, len(r.tool_calls)) == ("Let me check.", None, 1)


def test_anthropic_refusal_with_stop_details() -> None:
    r = ANTHROPIC.parse_response(load("anthropic/response_refusal.json"))
    assert (r.content, r.finish_reason, r.refusal) == ("", "refusal", "This request asks for working malware.")
    no_details = {**load("anthropic/response_refusal.json"), "stop_details": None}
    assert ANTHROPIC.parse_response(no_details).refusal == ""


def test_openai_refusal() -> None:
    r = OPENAI.parse_response(load("openai/chat_completion_refusal.json"))
    assert (r.content, r.refusal, r.reasoning) == ("", "I'm sorry, I cannot assist with that request.", None)
    assert OPENAI.parse_response(load("openai/chat_completion.json")).refusal is None


@pytest.mark.parametrize("provider", [OPENAI, GENERIC, OPENROUTER], ids=["openai", "generic", "openrouter"])
def test_reasoning_content_is_read_on_every_chat_completions_wire(provider: Provider) -> None:
    r = provider.parse_response(load("openai/deepseek_reasoning_content.json"))
    assert (r.content, r.reasoning) == (
        "9.8 is greater than 9.11.",
        "Compare 9.11 and 9.8: 9.8 = 9.80, and 9.80 > 9.11.",
    )
    assert r.reasoning_parts == ()


def test_openrouter_reasoning_and_details() -> None:
    raw = load("openai/openrouter_chat_completion_reasoning.json")
    r = OPENROUTER.parse_response(raw)
    assert r.reasoning == "The user asks for Paris weather; call the tool."
    assert [p.block for p in r.reasoning_parts] == raw["choices"][0]["message"]["reasoning_details"]
    assert {p.wire for p in r.reasoning_parts} == {"openrouter"}
    # Other chat-completions wires read the text but keep no details: they could not send them back.
    assert OPENAI.parse_response(raw).reasoning_parts == ()


def test_an_empty_refusal_field_on_chat_completions_is_no_refusal() -> None:
    body = {
        "id": "c",
        "model": "m",
        "choices": [{"message": {"content": "Hi", "refusal": ""}, "finish_reason": "stop"}],
    }
    assert OPENAI.parse_response(body).refusal is None
    event = ServerSentEvent(data='{"choices": [{"delta": {"role": "assistant", "content": "", "refusal": ""}}]}')
    assert OPENAI.parse_stream_event(event) is None


# ----- streams, split at every byte offset ----------------------------------------------------------------------


def stream_bytes(path: str) -> bytes:
    if path.startswith("anthropic/"):
        return (FIXTURES / path).read_bytes()
    lines = json.loads((FIXTURES / path).read_text(encoding="utf-8"))["sse"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read(provider: Provider, data: bytes, *cuts: int) -> tuple[list[StreamChunk], CompletionResponse]:
    parser = StreamParser(provider, "m", include_usage=False)
    chunks: list[StreamChunk] = []
    start = 0
    for cut in (*cuts, len(data)):
        chunks += parser.feed(data[start:cut])
        start = cut
    return chunks, parser.finish()


STREAMS = [
    ("anthropic/stream_redacted_thinking_tool.txt", ANTHROPIC),
    ("anthropic/stream_thinking_tool.txt", ANTHROPIC),
    ("anthropic/stream_refusal.txt", ANTHROPIC),
    ("openai/stream_refusal.json", OPENAI),
    ("openai/deepseek_stream_reasoning_content.json", GENERIC),
    ("openai/openrouter_stream_reasoning.json", OPENROUTER),
]


@pytest.mark.parametrize(("path", "provider"), STREAMS, ids=[p for p, _ in STREAMS])
def test_streams_give_the_same_answer_split_at_every_byte(path: str, provider: Provider) -> None:
    data = stream_bytes(path)
    whole_chunks, whole = read(provider, data)
    assert "".join(c.reasoning_delta for c in whole_chunks) == (whole.reasoning or "")
    for cut in range(1, len(data)):
        chunks, response = read(provider, data, cut)
        assert response == whole, cut
        assert "".join(c.reasoning_delta for c in chunks) == (whole.reasoning or ""), cut


def test_anthropic_stream_with_redacted_and_signed_thinking() -> None:
    chunks, r = read(ANTHROPIC, stream_bytes("anthropic/stream_redacted_thinking_tool.txt"))
    assert r.reasoning == "Two cities, so two calls — één per stad."
    assert [c.reasoning_delta for c in chunks if c.reasoning_delta] == ["Two cities, ", "so two calls — één per stad."]
    assert [p.block for p in r.reasoning_parts] == [
        {"type": "redacted_thinking", "data": RED},
        {"type": "thinking", "thinking": "Two cities, so two calls — één per stad.", "signature": SIG},
    ]
    assert (r.content, [c.id for c in r.tool_calls], r.finish_reason) == ("Checking both.", ["toolu_01A"], "tool_use")


def test_anthropic_stream_refusal_keeps_the_partial_text() -> None:
    _, r = read(ANTHROPIC, stream_bytes("anthropic/stream_refusal.txt"))
    assert (r.content, r.finish_reason, r.refusal) == (
        "Here is how",
        "refusal",
        "This request asks for working malware.",
    )


def test_openai_stream_refusal() -> None:
    chunks, r = read(OPENAI, stream_bytes("openai/stream_refusal.json"))
    assert [c.refusal_delta for c in chunks if c.refusal_delta] == ["I'm sorry, ", "I cannot assist with that request."]
    assert (r.content, r.refusal) == ("", "I'm sorry, I cannot assist with that request.")


def test_deepseek_stream_reasoning_content() -> None:
    _, r = read(GENERIC, stream_bytes("openai/deepseek_stream_reasoning_content.json"))
    assert (r.content, r.reasoning, r.reasoning_parts) == ("9.8 is greater.", "Compare 9.11 and 9.8.", ())


def test_openrouter_stream_assembles_reasoning_details_by_index() -> None:
    _, r = read(OPENROUTER, stream_bytes("openai/openrouter_stream_reasoning.json"))
    assert r.reasoning == "Paris weather: call the tool — ok."
    assert [p.block for p in r.reasoning_parts] == [
        {
            "type": "reasoning.text",
            "text": "Paris weather: call the tool — ok.",
            "format": "anthropic-claude-v1",
            "index": 0,
            "signature": SIG,
        },
        {"type": "reasoning.encrypted", "data": RED, "format": "anthropic-claude-v1", "index": 1},
    ]
    assert r.content == "Let me check." and r.tool_calls[0].id == "toolu_01Pq"
