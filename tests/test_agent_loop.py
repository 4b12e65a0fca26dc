"""The agent loop on the conversation tree: the model asks for tools, the results go back as
tool nodes, and the next completion carries the same tools. Run on each wire, blocking and async, streamed and
not, through the local server; plus ``examples/agent_loop.py`` and ``ArgumentStream`` fed from a live stream.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    Message,
    NodeCompletionParameters,
    Role,
    ToolCall,
)
from minillm.core.argstream import ArgumentStream
from minillm.core.tools import ToolChoice, ToolDefinition
from minillm.testing import MockLLMServer, RecordedRequest, Reply
from tests.conftest import API

ROOT = Path(__file__).resolve().parent.parent

WEATHER = ToolDefinition(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
PARAMS = NodeCompletionParameters(
    params=CompletionParameters(max_tokens=200).with_tool(WEATHER).with_tool_choice(ToolChoice.auto()),
    retry=0,
)
WEATHER_NOW = {"Paris": "18°C, sunny", "Zürich": "9°C, rain"}
CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_weather", '{"city": "Zürich"}')]
WIRES = ("openai", "openrouter", "anthropic")


def gen_for(server: MockLLMServer, wire: str) -> GeneratorInfo:
    if wire == "openai":
        return GeneratorInfo.openai("gpt-test").with_api_key("sk-test").with_base_url(server.openai_base_url)
    if wire == "openrouter":
        return (
            GeneratorInfo.openrouter("openai/gpt-test")
            .with_api_key("sk-test")
            .with_base_url(server.openrouter_base_url)
        )
    return GeneratorInfo.anthropic("claude-test").with_api_key("sk-test").with_base_url(server.anthropic_base_url)


def complete(api: API, node: ChatNode, gen: GeneratorInfo, stream: bool) -> ChatNode:
    """One round: a plain completion, or a stream read to the end and appended to the tree."""
    if not stream:
        return api.complete(node, gen, PARAMS)
    _, response = api.stream(node, gen, PARAMS)
    return node.append_response(response)


def run_tools(reply: ChatNode) -> ChatNode:
    """Answer every tool call of ``reply``, one tool node each; return the last one."""
    node = reply
    for call in reply.tool_calls or ():
        assert call.name == "get_weather"
        node = node.add_tool_result(call.id, WEATHER_NOW[call.arguments_json()["city"]])
    return node


def messages(request: RecordedRequest) -> list[dict[str, Any]]:
    body = request.json
    assert isinstance(body, dict)
    result = body["messages"]
    assert isinstance(result, list)
    return result


# ----- the two-round loop ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("wire", WIRES)
def test_two_round_loop_with_parallel_calls(api: API, llm_server: MockLLMServer, wire: str, stream: bool) -> None:
    llm_server.enqueue(
        Reply.text("Checking both.", tool_calls=CALLS, chunk_size=4),
        Reply.text("Paris is warmer: 18°C against 9°C."),
    )
    gen = gen_for(llm_server, wire)
    user = ChatNode.root("Be brief.").add_user("Weather in Paris and Zürich?")

    first = complete(api, user, gen, stream)
    assert first.text == "Checking both."
    assert first.tool_calls is not None and [c.id for c in first.tool_calls] == ["call_1", "call_2"]
    last_result = run_tools(first)
    final = complete(api, last_result, gen, stream)

    assert final.text == "Paris is warmer: 18°C against 9°C."
    assert final.tool_calls is None
    thread = final.thread()
    assert [m.role for m in thread] == [Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL, Role.TOOL, Role.ASSISTANT]
    assert [m.tool_call_id for m in thread[3:5]] == ["call_1", "call_2"]
    assert thread[2].tool_calls == tuple(first.tool_calls)

    one, two = llm_server.requests
    assert one.json["tools"] == two.json["tools"]  # the same tools on every round
    assert one.json["stream"] is two.json["stream"] is stream
    sent = messages(two)
    if wire == "anthropic":
        assert two.json["system"] == "Be brief."
        assert sent == [
            {"role": "user", "content": "Weather in Paris and Zürich?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking both."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Zürich"}},
                ],
            },
            {
                # parallel tool results are merged into one user turn
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C, sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "9°C, rain"},
                ],
            },
        ]
    else:
        assert sent == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Zürich?"},
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
                    },
                ],
            },
            # tool messages stay separate on the OpenAI wire (they carry tool_call_id)
            {"role": "tool", "content": "18°C, sunny", "tool_call_id": "call_1"},
            {"role": "tool", "content": "9°C, rain", "tool_call_id": "call_2"},
        ]


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_tool_call_only_reply_round_trips(api: API, llm_server: MockLLMServer, wire: str) -> None:
    llm_server.enqueue(Reply.text("", tool_calls=CALLS[:1]), Reply.text("18°C."))
    gen = gen_for(llm_server, wire)
    first = api.complete(ChatNode.user("Paris?"), gen, PARAMS)
    final = api.complete(run_tools(first), gen, PARAMS)
    assert final.text == "18°C."
    assistant = messages(llm_server.requests[1])[1]
    if wire == "anthropic":
        assert assistant == {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
        }
    else:
        assert assistant["content"] == "" and len(assistant["tool_calls"]) == 1


def test_anthropic_merges_tool_results_and_following_user_text(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=CALLS), Reply.text("Paris."))
    gen = gen_for(llm_server, "anthropic")
    first = api.complete(ChatNode.user("Weather in Paris and Zürich?"), gen, PARAMS)
    api.complete(run_tools(first).add_user("Which is warmer?"), gen, PARAMS)
    assert messages(llm_server.requests[1])[-1] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C, sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "9°C, rain"},
            {"type": "text", "text": "Which is warmer?"},
        ],
    }


def test_loop_until_the_model_stops_calling_tools(api: API, llm_server: MockLLMServer) -> None:
    # A responder plays the model: it calls the tool until it has seen a result, then answers.
    def model(request: RecordedRequest) -> Reply:
        last = messages(request)[-1]
        if last["role"] == "tool":
            return Reply.text(f"It is {last['content']}.")
        return Reply.text(tool_calls=[(f"call_{len(messages(request))}", "get_weather", {"city": "Paris"})])

    llm_server.set_responder(model)
    gen = gen_for(llm_server, "openai")
    node = ChatNode.user("Weather in Paris?")
    for _ in range(5):
        node = api.complete(node, gen, PARAMS)
        if not node.tool_calls:
            break
        node = run_tools(node)
    assert node.text == "It is 18°C, sunny."
    assert len(llm_server.requests) == 2


# ----- add_tool_result -----------------------------------------------------------------------------------


def _asking(*call_ids: str) -> ChatNode:
    calls = [ToolCall(i, "get_weather", '{"city": "Paris"}') for i in call_ids]
    return ChatNode.user("Weather?").add_child(ChatNode(Message(Role.ASSISTANT, "", tool_calls=calls)))


def test_tool_result_for_an_unknown_call_is_refused() -> None:
    asking = _asking("call_1", "call_2")
    with pytest.raises(InvalidParameterError, match=r"no tool call with id 'call_9'.*'call_1', 'call_2'"):
        asking.add_tool_result("call_9", "x")
    with pytest.raises(InvalidParameterError):
        asking.add_tool_result("", "x")


def test_tool_result_answered_twice_is_refused() -> None:
    asking = _asking("call_1", "call_2")
    first = asking.add_tool_result("call_1", "18°C")
    with pytest.raises(InvalidParameterError, match=r"already has a result.*still unanswered: 'call_2'"):
        first.add_tool_result("call_1", "again")
    second = first.add_tool_result("call_2", "9°C")
    with pytest.raises(InvalidParameterError, match="every call is answered"):
        second.add_tool_result("call_2", "again")
    # Sibling branches are separate conversations: each may answer the call.
    assert asking.add_tool_result("call_1", "other branch").message.tool_call_id == "call_1"


def test_tool_result_takes_the_call_itself() -> None:
    asking = _asking("call_1")
    calls = asking.tool_calls
    assert calls is not None
    result = asking.add_tool_result(calls[0], "18°C")
    assert result.role is Role.TOOL and result.message.tool_call_id == "call_1" and result.text == "18°C"


def test_tool_results_may_hang_anywhere_in_a_hand_built_tree() -> None:
    # Without an assistant message that asked for calls above it, the tree does not second-guess the id.
    root = ChatNode.root("s")
    assert root.add_tool_result("call_x", "42").message.tool_call_id == "call_x"


# ----- ArgumentStream on a live stream ---------------------------------------------------------------------


def _write_file_live(api: API, node: ChatNode, gen: GeneratorInfo) -> tuple[list[str], ArgumentStream]:
    """Stream a reply and feed the first tool call's argument fragments as they come; return the pieces of
    ``content`` read after each chunk."""
    arguments = ArgumentStream.lenient()
    content = arguments.field("content")
    pieces: list[str] = []

    def on_chunk(tool_calls: Any) -> None:
        for delta in tool_calls or ():
            if delta.index == index[0] and delta.arguments_fragment:
                arguments.feed(delta.arguments_fragment)
            elif delta.id is not None and index[0] < 0:
                index[0] = delta.index
        piece = content.take()
        if piece:
            pieces.append(piece)

    index = [-1]
    if api.mode == "sync":
        with node.complete_streaming(gen, PARAMS, client=api.sync_client) as stream:
            for chunk in stream:
                on_chunk(chunk.tool_calls)
    else:

        async def go() -> None:
            async with await node.acomplete_streaming(gen, PARAMS, client=api.async_client) as stream:
                async for chunk in stream:
                    on_chunk(chunk.tool_calls)

        api.run(go())
    arguments.finish()
    pieces.append(content.take())
    return [p for p in pieces if p], arguments


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_argument_stream_reads_a_field_while_the_call_streams(api: API, llm_server: MockLLMServer, wire: str) -> None:
    body = 'print("hello")\nprint("wörld")\n'
    arguments = json.dumps({"path": "hello.py", "content": body}, ensure_ascii=False)
    llm_server.enqueue(Reply.text("Writing it.", tool_calls=[("call_1", "write_file", arguments)], chunk_size=6))
    pieces, stream = _write_file_live(api, ChatNode.user("Write hello.py"), gen_for(llm_server, wire))
    assert "".join(pieces) == body
    assert len(pieces) > 3  # the content arrived in many pieces, before the call was complete
    assert stream.fields() == {"path": "hello.py"}


# ----- the runnable example ------------------------------------------------------------------------------


def test_example_agent_loop_runs_offline(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    runpy.run_path(str(ROOT / "examples" / "agent_loop.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "get_weather" in out
    assert "Paris" in out and "Zürich" in out
    assert "final answer:" in out.lower()
