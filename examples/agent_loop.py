"""An agent loop on the conversation tree, with the model thinking before it acts: the model asks for tools, the
results go back as tool nodes, and the next completion carries the same tools, until the model answers in words.

Thinking is on (``ReasoningConfig(effort="medium")``): the reasoning is printed each round, and the assistant
node keeps the provider's thinking blocks and sends them back with the tool results, as Anthropic requires.

Run it with ``python examples/agent_loop.py``. Without a key it runs offline, on the Anthropic wire and on
OpenRouter's: ``minillm.testing``'s local server plays a model that thinks, asks for the weather in two cities at
once (two parallel tool calls) and then answers; it refuses, as the real Anthropic API does, a tool-result turn
that lost its thinking. With ``OPENROUTER_API_KEY`` set in the environment it asks a real model through OpenRouter
instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from minillm import (
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
    ReasoningConfig,
    ToolChoice,
    ToolDefinition,
    format_conversation,
)
from minillm.testing import MockLLMServer, RecordedRequest, Reply

LIVE_MODEL = "anthropic/claude-sonnet-4.5"

# ----- the tools: what the model sees, and the Python that runs them ------------------------------------------

TOOLS = [
    ToolDefinition(
        "get_weather",
        "The current weather in a city: temperature in °C and conditions.",
        {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name, e.g. Paris"}},
            "required": ["city"],
        },
    ),
]

_WEATHER = {"paris": (18, "sunny"), "zürich": (9, "rain"), "zurich": (9, "rain"), "tokyo": (24, "cloudy")}


def get_weather(city: str) -> dict[str, Any]:
    temperature, conditions = _WEATHER.get(city.strip().lower(), (15, "unknown"))
    return {"city": city, "temperature_c": temperature, "conditions": conditions}


IMPLEMENTATIONS: dict[str, Callable[..., dict[str, Any]]] = {"get_weather": get_weather}


# ----- the loop --------------------------------------------------------------------------------------------


def run_agent(question: str, gen: GeneratorInfo, *, max_rounds: int = 5) -> ChatNode:
    """Ask ``question`` and run tool calls until the model answers; return the final assistant node."""
    params = NodeCompletionParameters(
        params=CompletionParameters(max_tokens=4096)
        .with_tools(TOOLS)
        .with_tool_choice(ToolChoice.auto())
        .with_reasoning(ReasoningConfig(effort="medium")),
    )
    node = ChatNode.root("You are a weather assistant. Use the tools; answer in one sentence.").add_user(question)
    for round_number in range(1, max_rounds + 1):
        reply = node.complete(gen, params)
        if reply.reasoning:
            print(f"round {round_number}: the model thought: {reply.reasoning}")
        calls = reply.tool_calls
        if not calls:
            return reply
        print(f"round {round_number}: the model asks for {len(calls)} tool call(s)")
        node = reply
        for call in calls:  # parallel calls: one tool node per call, chained
            try:
                result = IMPLEMENTATIONS[call.name](**call.arguments_json_repaired())
            except (KeyError, TypeError, InvalidParameterError) as e:
                result = {"error": f"{type(e).__name__}: {e}"}  # the model sees the error and can recover
            print(f"  {call.name}({call.arguments}) -> {json.dumps(result, ensure_ascii=False)}")
            node = node.add_tool_result(call.id, json.dumps(result, ensure_ascii=False))
    raise RuntimeError(f"the model was still calling tools after {max_rounds} rounds")


# ----- an offline stand-in for the model -------------------------------------------------------------------


def _tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool results in a request, on either wire: OpenAI-style tool messages or Anthropic tool_result blocks."""
    results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    for m in messages:
        if m["role"] == "user" and isinstance(m["content"], list):
            results += [json.loads(b["content"]) for b in m["content"] if b.get("type") == "tool_result"]
    return results


def scripted_model(request: RecordedRequest) -> Reply:
    """Plays the model on the local server: first thinks and asks for the weather in both cities at once, then
    answers from the tool results it was sent."""
    results = _tool_results(request.json["messages"])
    if not results:
        return Reply.text(
            "Let me check both cities.",
            reasoning="Two cities to compare: I will ask for both at once.",
            tool_calls=[
                ("call_paris", "get_weather", {"city": "Paris"}),
                ("call_zurich", "get_weather", {"city": "Zürich"}),
            ],
        )
    warmest = max(results, key=lambda r: r["temperature_c"])
    summary = ", ".join(f"{r['city']} {r['temperature_c']}°C and {r['conditions']}" for r in results)
    return Reply.text(f"{warmest['city']} is warmer ({summary}).", reasoning="Compare the two temperatures.")


def main() -> None:
    question = "Is it warmer in Paris or in Zürich right now?"
    if os.environ.get("OPENROUTER_API_KEY"):
        print(f"== asking {LIVE_MODEL} through OpenRouter ==")
        answer = run_agent(question, GeneratorInfo.openrouter(LIVE_MODEL))
    else:
        print("== no OPENROUTER_API_KEY: running offline against minillm.testing's local server ==")
        with MockLLMServer() as server:
            server.set_responder(scripted_model)
            gens = {
                "Anthropic": GeneratorInfo.anthropic("claude-sonnet-4-5").with_base_url(server.anthropic_base_url),
                "OpenRouter": GeneratorInfo.openrouter(LIVE_MODEL).with_base_url(server.openrouter_base_url),
            }
            for wire, gen in gens.items():
                print(f"-- on the {wire} wire --")
                answer = run_agent(question, gen.with_api_key("offline"))
    print(f"\nfinal answer: {answer.text}")
    print("\n== the conversation on the tree ==")
    print(format_conversation(answer))


if __name__ == "__main__":
    main()
