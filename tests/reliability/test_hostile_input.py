"""Hostile input: JSON shaped to make repair quadratic, and lone surrogates in replies and thread files.

JSON repair: each pathological text here takes json-repair many seconds unbounded (``'[' + '"a' * n`` is
quadratic: 8 s at 16 KB, over a minute at 128 KB); through minillm each is repaired or refused with
``JSONRepairError``. The tests assert the outcome only; ``bench/bench_repair.py`` measures the time.

Lone surrogates: a reply or a thread file can hold ``"\\ud83d"`` (half of an emoji's escaped surrogate
pair). Such a conversation must still be sent, saved and printed: each lone surrogate becomes U+FFFD in
the bytes minillm makes, and a pair split across two stream events is joined again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minillm import (
    ChatNode,
    InvalidParameterError,
    JSONRepairError,
    MaxRetriesExceededError,
    extract_json,
    loads,
    repair_json,
)
from minillm.core.pretty import pretty_messages
from minillm.core.tools import ToolCall
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.reliability.conftest import NO_RETRY, assert_released, openai_gen

# ----- JSON repair: bounded ----------------------------------------------------------------------------

_RECORD = '{"id": 7, "name": "item", "tags": ["a", "b"], "text": "lorem ipsum", "ok": true}'

REFUSED = {
    # Below the size bound: json-repair starts, and its read budget stops it.
    "unclosed strings in an array, 24 KB": "[" + '"a' * 12_000,
    "single-quoted unclosed strings, 24 KB": "[" + "'a" * 12_000,
    "strings with stray quotes in an array, 30 KB": "[" + '"lorem "ipsum" dolor", ' * 1_300,
    "nested objects with stray quotes, 24 KB": '[",{1]' * 4_000,
    # Above it: never handed to json-repair.
    "unclosed strings in an array, 1 MB": "[" + '"a' * 500_000,
    "stray quotes in an object, 200 KB": "{" + '"' * 200_000,
    "keys without colons, 200 KB": "{" + '"a" ' * 50_000,
}

REPAIRED = {
    "valid JSON, 1 MB": ("[" + ", ".join([_RECORD] * 12_000) + "]", 12_000),
    "valid JSON in prose and a code fence, 500 KB": (
        "Here you are:\n```json\n[" + ", ".join([_RECORD] * 6_000) + "]\n```\nAnything else?",
        6_000,
    ),
    "a document cut off inside a string, 400 KB": (("[" + ", ".join([_RECORD] * 5_000))[:-20], 5_000),
    "a document cut off after a comma, 400 KB": ("[" + ", ".join([_RECORD] * 5_000) + ", ", 5_000),
    "a document cut off inside a key, 400 KB": ("[" + ", ".join([_RECORD] * 4_999) + ', {"id": 7, "na', 5_000),
}


def _length(value: object) -> int:
    assert isinstance(value, list)
    return len(value)


@pytest.mark.parametrize("text", list(REFUSED.values()), ids=list(REFUSED))
def test_pathological_json_is_refused_by_every_helper(text: str) -> None:
    for helper in (loads, repair_json, extract_json):
        with pytest.raises(JSONRepairError, match="repair"):
            helper(text)


@pytest.mark.parametrize(("text", "items"), list(REPAIRED.values()), ids=list(REPAIRED))
def test_long_json_that_holds_a_value_is_repaired(text: str, items: int) -> None:
    assert _length(loads(text)) == items
    assert _length(json.loads(repair_json(text))) == items
    assert _length(json.loads(extract_json(text))) == items


def test_a_cut_off_document_keeps_every_complete_record() -> None:
    records = [{"id": i, "text": f'record {i} says "hi", then more'} for i in range(8_000)]
    whole = json.dumps({"records": records, "done": True})
    cut = whole[: whole.index('"done"') - 40]  # inside the last record's text
    value = loads(cut)
    assert isinstance(value, dict)
    assert value["records"][:-1] == records[:-1]
    assert value["records"][-1]["id"] == records[-1]["id"]


@pytest.mark.parametrize(
    "text", [REFUSED["unclosed strings in an array, 24 KB"], REFUSED["keys without colons, 200 KB"]]
)
def test_tool_arguments_that_are_pathological_are_refused(text: str) -> None:
    call = ToolCall("call_1", "write_file", text)
    with pytest.raises(InvalidParameterError, match="unrepairable JSON arguments") as info:
        call.arguments_json_repaired()
    assert isinstance(info.value.__cause__, JSONRepairError)


def test_tool_arguments_cut_off_are_repaired() -> None:
    text, items = REPAIRED["a document cut off after a comma, 400 KB"]
    call = ToolCall("call_1", "write_rows", '{"rows": ' + text)
    assert len(call.arguments_json_repaired()["rows"]) == items


def test_a_pathological_reply_with_parse_json_is_rejected(api: API, llm_server: MockLLMServer) -> None:
    """``parse_json`` on a reply shaped to make repair quadratic: the reply is rejected (a retry-worthy
    ``JSONRepairError``; with no retry left, ``MaxRetriesExceededError`` carrying it), not a hang."""
    llm_server.enqueue(Reply.text("[" + '"a' * 12_000))
    params = NO_RETRY.expecting_json()
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("json please"), openai_gen(llm_server), params)
    assert isinstance(info.value.last_error, JSONRepairError)
    assert_released(api, llm_server)


def test_a_long_cut_off_reply_with_parse_json_is_repaired(api: API, llm_server: MockLLMServer) -> None:
    text, items = REPAIRED["a document cut off inside a string, 400 KB"]
    llm_server.enqueue(Reply.text(text, finish_reason="length"))
    reply = api.complete(ChatNode.user("json please"), openai_gen(llm_server), NO_RETRY.expecting_json())
    assert _length(json.loads(reply.text or "")) == items


# ----- lone surrogates ----------------------------------------------------------------------------------

HALF = "\ud83d"  # the first half of U+1F600's surrogate pair, on its own
REPLACED = "\ufffd".encode()


def _completion_body(content_json: str) -> bytes:
    """An OpenAI completion whose content is ``content_json``, a JSON string literal written by hand (a lone
    surrogate cannot pass through ``json.dumps(..., ensure_ascii=False).encode()``)."""
    return (
        '{"id":"c1","object":"chat.completion","model":"gpt-test","choices":[{"index":0,'
        f'"message":{{"role":"assistant","content":{content_json}}},"finish_reason":"stop"}}],'
        '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
    ).encode()


def _stream_body(*deltas_json: str) -> bytes:
    """An OpenAI stream with one chunk per delta (each a JSON string literal), a finish chunk and [DONE]."""
    events = [
        '{"id":"c1","object":"chat.completion.chunk","model":"gpt-test","choices":[{"index":0,'
        f'"delta":{{"content":{delta}}},"finish_reason":null}}]}}'
        for delta in deltas_json
    ]
    events.append(
        '{"id":"c1","object":"chat.completion.chunk","model":"gpt-test","choices":[{"index":0,'
        '"delta":{},"finish_reason":"stop"}]}'
    )
    return "".join(f"data: {event}\n\n" for event in [*events, "[DONE]"]).encode()


def test_a_reply_with_a_lone_surrogate_can_be_sent_on_saved_and_printed(
    api: API, llm_server: MockLLMServer, tmp_path: Path
) -> None:
    gen = openai_gen(llm_server)
    llm_server.enqueue(Reply.raw(200, _completion_body('"half an emoji: \\ud83d!"'), content_type="application/json"))
    reply = api.complete(ChatNode.user("hi"), gen, NO_RETRY)
    assert reply.text == f"half an emoji: {HALF}!"  # kept as received, in memory

    llm_server.enqueue(Reply.text("next answer"))
    after = api.complete(reply.add_user("go on"), gen, NO_RETRY)
    assert after.text == "next answer"
    body = llm_server.last_request.body
    assert b"half an emoji: " + REPLACED + b"!" in body
    assert llm_server.last_request.json["messages"][1]["content"] == "half an emoji: \ufffd!"

    path = tmp_path / "t.json"
    after.save_thread(path)
    assert ChatNode.from_thread_file(path)[1].parent.parent.text == "half an emoji: \ufffd!"  # type: ignore[union-attr]
    assert "half an emoji: \ufffd!" in pretty_messages(after).encode("utf-8").decode("utf-8")
    assert_released(api, llm_server)


def test_a_thread_file_with_a_lone_surrogate_loads_sends_and_saves(
    api: API, llm_server: MockLLMServer, tmp_path: Path
) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        '{"prompts": [{"message": {"role": "system", "content": "be brief \\udc00"}},'
        ' {"message": {"role": "user", "content": "what is \\ud83d?"}}]}',
        encoding="utf-8",
    )
    _, leaf = ChatNode.from_thread_file(path)
    assert leaf.text == f"what is {HALF}?"
    llm_server.enqueue(Reply.text("an emoji, cut"))
    reply = api.complete(leaf, openai_gen(llm_server), NO_RETRY)
    sent = llm_server.last_request.json["messages"]
    assert [m["content"] for m in sent] == ["be brief \ufffd", "what is \ufffd?"]

    reply.save_thread(path)
    saved = json.loads(path.read_bytes().decode("utf-8"))  # strict UTF-8: no surrogate reached the file
    assert [p["message"]["content"] for p in saved["prompts"]] == [
        "be brief \ufffd",
        "what is \ufffd?",
        "an emoji, cut",
    ]
    assert_released(api, llm_server)


def test_a_surrogate_pair_split_across_stream_events_is_joined(
    api: API, llm_server: MockLLMServer, tmp_path: Path
) -> None:
    """A provider may escape an emoji as a surrogate pair and cut it between two events: the text holds two
    lone surrogates, and every byte written from it holds the emoji whole."""
    body = _stream_body('"smile: \\ud83d"', '"\\ude00 done"')
    llm_server.enqueue(Reply.raw(200, body, content_type="text/event-stream"))
    _, response = api.stream(ChatNode.user("hi"), openai_gen(llm_server), NO_RETRY)
    assert response.content == "smile: \ud83d\ude00 done"

    node = ChatNode.user("hi").add_assistant(response.content)
    llm_server.enqueue(Reply.text("ok"))
    api.complete(node.add_user("again"), openai_gen(llm_server), NO_RETRY)
    assert "smile: \U0001f600 done".encode() in llm_server.last_request.body
    path = tmp_path / "t.json"
    node.save_thread(path)
    assert "smile: \U0001f600 done" in path.read_text(encoding="utf-8")
    assert_released(api, llm_server)
