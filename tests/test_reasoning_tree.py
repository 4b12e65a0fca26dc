"""Reasoning on the tree: the assistant node's ``reasoning``, ``refusal`` and reasoning parts, saved and loaded
with threads (old files still load), shown folded or marked by the pretty printers, and assembled from streamed
pieces."""

from __future__ import annotations

import json

import pytest

from minillm import ChatNode, Message, ReasoningPart, ThreadFormatError, format_conversation
from minillm.core.errors import InvalidParameterError
from minillm.core.response import CompletionResponse
from minillm.core.stream import ReasoningPartDelta, StreamAccumulator, StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall

THINK = ReasoningPart("anthropic", {"type": "thinking", "thinking": "Add them.", "signature": "c2ln"})
REDACTED = ReasoningPart("anthropic", {"type": "redacted_thinking", "data": "ZW5j"}, after_tool_calls=1)
RESPONSE = CompletionResponse(
    id="r1",
    model="m",
    content="4",
    finish_reason="end_turn",
    tool_calls=[ToolCall("t1", "add", '{"a":2}')],
    reasoning="Add them.",
    reasoning_parts=[THINK, REDACTED],
)


def reply() -> ChatNode:
    return ChatNode.root("sys").add_user("2+2?").append_response(RESPONSE)


def test_the_assistant_node_keeps_reasoning_and_parts() -> None:
    node = reply()
    assert (node.text, node.reasoning, node.refusal) == ("4", "Add them.", None)
    assert node.message.reasoning_parts == (THINK, REDACTED)
    assert ChatNode.user("hi").reasoning is None


def test_threads_round_trip_reasoning_byte_for_byte() -> None:
    node = reply()
    text = json.dumps(node.to_thread_data())
    saved = json.loads(text)["prompts"][2]["message"]
    assert saved["reasoning_parts"] == [
        {"wire": "anthropic", "block": THINK.block},
        {"wire": "anthropic", "block": REDACTED.block, "after_tool_calls": 1},
    ]
    _, leaf = ChatNode.from_thread_json(text)
    assert leaf.message == node.message


def test_a_refusal_round_trips_and_old_files_still_load(tmp_path: object) -> None:
    node = ChatNode.user("bad").append_response(CompletionResponse("r", "m", "", refusal=""))
    _, leaf = ChatNode.from_thread_json(json.dumps(node.to_thread_data()))
    assert leaf.refusal == ""
    old = {
        "prompts": [{"message": {"role": "user", "content": "hi"}}, {"message": {"role": "assistant", "content": "yo"}}]
    }
    _, leaf = ChatNode.from_thread_data(old)
    assert (leaf.reasoning, leaf.refusal, leaf.message.reasoning_parts) == (None, None, ())
    assert "reasoning" not in json.dumps(leaf.to_thread_data())  # nothing new is written for plain messages


@pytest.mark.parametrize(
    "part",
    [
        {"wire": "anthropic"},
        {"wire": "anthropic", "block": {"thinking": "no type"}},
        {"wire": 3, "block": {"type": "x"}},
    ],
)
def test_a_malformed_reasoning_part_is_a_thread_format_error(part: object) -> None:
    data = {"prompts": [{"message": {"role": "assistant", "content": "x", "reasoning_parts": [part]}}]}
    with pytest.raises(ThreadFormatError, match="reasoning"):
        ChatNode.from_thread_data(data)


def test_a_reasoning_part_needs_a_typed_block() -> None:
    with pytest.raises(InvalidParameterError, match="'type'"):
        ReasoningPart("anthropic", {"thinking": "t"})
    with pytest.raises(InvalidParameterError, match="ReasoningPart"):
        Message("assistant", "x", reasoning_parts=[{"type": "thinking"}])  # type: ignore[list-item]


def test_pretty_print_marks_reasoning_and_refusals_apart_from_the_reply() -> None:
    node = reply()
    refused = node.add_user("bad").append_response(CompletionResponse("r", "m", "", refusal="No."))
    text = format_conversation(refused)
    assert "ASSISTANT: [reasoning: Add them.]\n4" in text
    assert text.endswith("ASSISTANT: [refused] No.")
    markdown = refused._repr_markdown_()
    assert "<details><summary>reasoning</summary>\n\nAdd them.\n\n</details>\n\n4" in markdown
    assert "*(refused)* No." in markdown
    only_redacted = ChatNode.user("q").add_child(ChatNode(Message("assistant", "ok", reasoning_parts=[REDACTED])))
    assert "[reasoning: redacted]\nok" in format_conversation(only_redacted)


def test_long_reasoning_is_shortened_in_plain_text() -> None:
    node = ChatNode.user("q").add_child(ChatNode(Message("assistant", "ok", reasoning="word " * 100)))
    line = format_conversation(node).splitlines()[-2]
    assert line.startswith("ASSISTANT: [reasoning: word word") and line.endswith("...]") and len(line) < 110


def test_the_accumulator_assembles_pieces_by_index_and_places_them_among_tool_calls() -> None:
    acc = StreamAccumulator("m", expect_usage=False)
    pieces = [
        StreamChunk(
            reasoning_delta="Add ",
            reasoning_parts=[ReasoningPartDelta("anthropic", 0, {"type": "thinking", "thinking": "Add "}, True)],
        ),
        StreamChunk(
            reasoning_delta="them.", reasoning_parts=[ReasoningPartDelta("anthropic", 0, {"thinking": "them."}, True)]
        ),
        StreamChunk(reasoning_parts=[ReasoningPartDelta("anthropic", 0, {"signature": "c2"}, True)]),
        StreamChunk(reasoning_parts=[ReasoningPartDelta("anthropic", 0, {"signature": "ln", "type": "ignored"}, True)]),
        StreamChunk(tool_calls=[ToolCallDelta(1, id="t1", name="add", arguments_fragment='{"a":2}')]),
        StreamChunk(
            reasoning_parts=[ReasoningPartDelta("anthropic", 2, {"type": "redacted_thinking", "data": "ZW5j"}, True)]
        ),
        StreamChunk(delta="4", finish_reason="end_turn"),
    ]
    for chunk in pieces:
        acc.ingest(chunk)
    response = acc.response()
    assert response.reasoning == "Add them."
    assert response.reasoning_parts == (THINK, REDACTED)


def test_pieces_without_an_index_are_separate_items_in_arrival_order() -> None:
    acc = StreamAccumulator("m", expect_usage=False)
    for data in ("a", "b"):
        acc.ingest(
            StreamChunk(
                reasoning_parts=[ReasoningPartDelta("openrouter", None, {"type": "reasoning.encrypted", "data": data})]
            )
        )
    acc.ingest(StreamChunk(finish_reason="stop"))
    assert [p.block["data"] for p in acc.response().reasoning_parts] == ["a", "b"]


def test_a_refused_chunk_without_text_still_marks_a_refusal() -> None:
    acc = StreamAccumulator("m", expect_usage=False)
    acc.ingest(StreamChunk(finish_reason="refusal", refused=True))
    assert acc.response().refusal == ""
    assert not StreamChunk(refused=True).is_empty()
