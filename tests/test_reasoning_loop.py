"""Reasoning end to end through the local server: a two-round tool loop with thinking on (Anthropic and
OpenRouter wires, blocking and async, streamed and not) whose thinking blocks go back unchanged, refusals on
every wire, reasoning streamed as it arrives, and the server's own check that a tool-result turn without its
thinking blocks is refused as the real Anthropic API refuses it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minillm import (
    BadRequestError,
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    Message,
    NodeCompletionParameters,
    ReasoningConfig,
)
from minillm.core.providers.generic import GenericProvider
from minillm.core.tools import ToolChoice, ToolDefinition
from minillm.testing import MockLLMServer, RecordedRequest, Reply, Thought
from minillm.testing.reasoning import make_signature
from tests.conftest import API

WEATHER = ToolDefinition(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
THINKING = NodeCompletionParameters(
    params=CompletionParameters(max_tokens=4096)
    .with_tool(WEATHER)
    .with_tool_choice(ToolChoice.auto())
    .with_reasoning(ReasoningConfig(max_tokens=2048)),
    retry=0,
)
CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_weather", '{"city": "Oslo"}')]
THOUGHTS = [Thought("The user wants two cities; I will call the tool twice."), Thought(redacted=True)]
WEATHER_NOW = {"Paris": "18°C, sunny", "Oslo": "4°C, snow"}


def gen_for(server: MockLLMServer, wire: str) -> GeneratorInfo:
    if wire == "openrouter":
        base = server.openrouter_base_url
        return GeneratorInfo.openrouter("anthropic/claude-test").with_api_key("sk-test").with_base_url(base)
    if wire == "openai":
        return GeneratorInfo.openai("o-test").with_api_key("sk-test").with_base_url(server.openai_base_url)
    return GeneratorInfo.anthropic("claude-test").with_api_key("sk-test").with_base_url(server.anthropic_base_url)


def complete(api: API, node: ChatNode, gen: GeneratorInfo, stream: bool, params: NodeCompletionParameters) -> ChatNode:
    if not stream:
        return api.complete(node, gen, params)
    chunks, response = api.stream(node, gen, params)
    assert "".join(c.reasoning_delta for c in chunks) == (response.reasoning or "")
    return node.append_response(response)


def answer_tools(reply: ChatNode) -> ChatNode:
    node = reply
    for call in reply.tool_calls or ():
        node = node.add_tool_result(call.id, WEATHER_NOW[call.arguments_json()["city"]])
    return node


def sent_messages(request: RecordedRequest) -> list[dict[str, Any]]:
    assert isinstance(request.json, dict)
    messages = request.json["messages"]
    assert isinstance(messages, list)
    return messages


# ----- the two-round loop with thinking on --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("wire", ["anthropic", "openrouter"])
def test_two_round_tool_loop_with_thinking(api: API, llm_server: MockLLMServer, wire: str, stream: bool) -> None:
    llm_server.enqueue(
        Reply.text("Checking.", tool_calls=CALLS, reasoning=THOUGHTS, chunk_size=7),
        Reply.text("Paris is warmer.", reasoning="18 beats 4.", chunk_size=5),
    )
    gen = gen_for(llm_server, wire)
    user = ChatNode.root("Be brief.").add_user("Paris or Oslo, which is warmer?")

    first = complete(api, user, gen, stream, THINKING)
    assert first.text == "Checking."
    assert first.reasoning == THOUGHTS[0].text
    assert first.refusal is None
    assert [c.id for c in first.tool_calls or ()] == ["call_1", "call_2"]
    final = complete(api, answer_tools(first), gen, stream, THINKING)
    assert final.text == "Paris is warmer."
    assert final.reasoning == "18 beats 4."

    one, two = llm_server.requests
    if wire == "anthropic":
        assert one.json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert "temperature" not in one.json  # left out with thinking: Anthropic takes only 1
        assert sent_messages(two)[1] == {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": THOUGHTS[0].text, "signature": make_signature(THOUGHTS[0].text)},
                {"type": "redacted_thinking", "data": THOUGHTS[1].data},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        }
    else:
        assert one.json["reasoning"] == {"max_tokens": 2048}
        assistant = sent_messages(two)[2]
        assert assistant["reasoning_details"] == [
            {
                "type": "reasoning.text",
                "text": THOUGHTS[0].text,
                "signature": make_signature(THOUGHTS[0].text),
                "format": "anthropic-claude-v1",
                "index": 0,
            },
            {"type": "reasoning.encrypted", "data": THOUGHTS[1].data, "format": "anthropic-claude-v1", "index": 1},
        ]
        assert THOUGHTS[0].text not in str(assistant["content"])  # reasoning is never sent back as text


def test_the_server_refuses_a_tool_result_turn_that_lost_its_thinking(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Checking.", tool_calls=CALLS[:1], reasoning=THOUGHTS[:1]), Reply.text("Done."))
    gen = gen_for(llm_server, "anthropic")
    first = api.complete(ChatNode.user("Paris?"), gen, THINKING)
    # The same turn rebuilt without its thinking (as an SDK that drops it would send it).
    stripped = ChatNode.user("Paris?").add_child(
        ChatNode(Message("assistant", "Checking.", tool_calls=first.tool_calls))
    )
    with pytest.raises(BadRequestError, match="thinking"):
        api.complete(answer_tools(stripped), gen, THINKING)
    # The tree's own node keeps its thinking, so the loop goes on.
    assert api.complete(answer_tools(first), gen, THINKING).text == "Done."


def test_the_server_refuses_a_thinking_block_that_came_back_changed(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=CALLS[:1], reasoning=THOUGHTS[:1]))
    gen = gen_for(llm_server, "anthropic")
    first = api.complete(ChatNode.user("Paris?"), gen, THINKING)
    (part,) = first.message.reasoning_parts
    changed = Message(
        "assistant",
        "",
        tool_calls=first.tool_calls,
        reasoning_parts=[type(part)(part.wire, {**part.block, "thinking": "edited"})],
    )
    node = ChatNode.user("Paris?").add_child(ChatNode(changed))
    with pytest.raises(BadRequestError, match="signature"):
        api.complete(answer_tools(node), gen, THINKING)


def test_switching_wires_mid_conversation_drops_foreign_reasoning(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=CALLS[:1], reasoning=THOUGHTS), Reply.text("18°C."), Reply.text("ok"))
    anthropic, openrouter = gen_for(llm_server, "anthropic"), gen_for(llm_server, "openrouter")
    first = api.complete(ChatNode.user("Paris?"), anthropic, THINKING)
    reply = api.complete(answer_tools(first), openrouter, THINKING)
    assistant = sent_messages(llm_server.requests[1])[1]
    assert "reasoning_details" not in assistant and THOUGHTS[0].text not in str(assistant)
    api.complete(reply.add_user("thanks"), gen_for(llm_server, "openai"), NodeCompletionParameters(retry=0))
    assert all(
        set(m) <= {"role", "content", "tool_calls", "tool_call_id"} for m in sent_messages(llm_server.requests[2])
    )


def test_a_thread_with_thinking_saved_and_loaded_goes_back_unchanged(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Checking.", tool_calls=CALLS[:1], reasoning=THOUGHTS), Reply.text("Done."))
    gen = gen_for(llm_server, "anthropic")
    first = api.complete(ChatNode.user("Paris?"), gen, THINKING)
    _, leaf = ChatNode.from_thread_json(json.dumps(answer_tools(first).to_thread_data()))
    assert leaf.parent is not None and leaf.parent.message.reasoning_parts == first.message.reasoning_parts
    assert api.complete(leaf, gen, THINKING).text == "Done."


# ----- refusals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("wire", "said"),
    [
        ("openai", "I can't help with that."),
        ("openrouter", "I can't help with that."),
        ("anthropic", "I can't help with that."),
        ("anthropic", ""),  # Anthropic may refuse with no text at all; OpenAI always says why
    ],
)
def test_a_refusal_is_recorded_not_retried(
    api: API, llm_server: MockLLMServer, wire: str, stream: bool, said: str
) -> None:
    llm_server.enqueue(Reply.text(refusal=said, chunk_size=4))
    params = NodeCompletionParameters(crash_on_empty_response=True, retry=3)
    user = ChatNode.user("Something bad.")
    if stream:
        chunks, response = api.stream(user, gen_for(llm_server, wire), params)
        assert "".join(c.refusal_delta for c in chunks) == said
        node = user.append_response(response)
    else:
        node = api.complete(user, gen_for(llm_server, wire), params)
    assert node.refusal == said
    assert node.text == ""
    assert len(llm_server.requests) == 1  # an empty refusal is an answer, not an empty response to retry
    if wire == "anthropic":
        assert node.metadata["finish_reason"] == "refusal"


def test_reasoning_content_from_a_custom_server_is_surfaced(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("42", reasoning="six times seven"))
    gen = gen_for(llm_server, "openai")
    params = NodeCompletionParameters(params=CompletionParameters().with_reasoning(ReasoningConfig(effort="low")))
    node = api.complete(ChatNode.user("?"), gen, params)
    assert (node.text, node.reasoning) == ("42", "six times seven")
    assert llm_server.last_request.json["reasoning_effort"] == "low"
    assert "reasoning" not in llm_server.last_request.json


def test_a_custom_server_can_take_openrouters_reasoning_object(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("ok", reasoning="fine"), Reply.text("ok"))
    custom = GeneratorInfo.custom("vllm", llm_server.openai_base_url, "qwen3")
    params = NodeCompletionParameters(params=CompletionParameters().with_reasoning(ReasoningConfig(max_tokens=512)))
    with pytest.raises(InvalidParameterError, match="effort"):
        api.complete(ChatNode.user("?"), custom, params)  # OpenAI's shape by default: a budget has no key there
    node = api.complete(ChatNode.user("?"), custom.with_provider(GenericProvider(reasoning="openrouter")), params)
    assert llm_server.last_request.json["reasoning"] == {"max_tokens": 512}
    assert node.reasoning == "fine"
