"""Structured output end to end: every schema source on every wire, blocking and async, streamed or not,
against the local server; the re-ask branch in the tree; the typed error when re-asks run out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypedDict

import attrs
import pydantic
import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
    SchemaValidationError,
    ToolDefinition,
)
from minillm.testing import MockLLMServer, Reply
from minillm.testing.structured import request_schema, strict_schema_problems
from tests.conftest import API

FIXTURES = Path(__file__).parent / "fixtures" / "openai"


@attrs.define
class TripAttrs:
    city: str
    days: int
    note: str | None = None


@dataclasses.dataclass
class TripData:
    city: str
    days: int
    note: str | None = None


class TripDict(TypedDict):
    city: str
    days: int


class TripModel(pydantic.BaseModel):
    city: str
    days: int
    note: str | None = None


TRIP_SCHEMA: dict[str, Any] = {
    "title": "Trip",
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "note": {"type": "string"}},
    "required": ["city", "days"],
}

SOURCES: dict[str, Any] = {
    "attrs": TripAttrs,
    "dataclass": TripData,
    "typeddict": TripDict,
    "pydantic": TripModel,
    "dict": TRIP_SCHEMA,
}
WIRES = ["openai", "openrouter", "anthropic", "custom"]


def generator(server: MockLLMServer, wire: str) -> GeneratorInfo:
    if wire == "openai":
        return GeneratorInfo.openai("gpt-4o-mini").with_api_key("test").with_base_url(server.openai_base_url)
    if wire == "openrouter":
        return GeneratorInfo.openrouter("openai/gpt-4o").with_api_key("test").with_base_url(server.openrouter_base_url)
    if wire == "anthropic":
        return (
            GeneratorInfo.anthropic("claude-sonnet-4-5").with_api_key("test").with_base_url(server.anthropic_base_url)
        )
    return GeneratorInfo.custom("local", server.openai_base_url, "llama")


def city_and_days(value: Any) -> tuple[str, int]:
    if isinstance(value, dict):
        return value["city"], value["days"]
    return value.city, value.days


def complete_streamed(
    api: API, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters
) -> tuple[list[Any], ChatNode]:
    """Stream with ``partial()``, then keep the reply with ``append_response(stream.response, params)``."""
    if api.mode == "sync":
        with node.complete_streaming(gen, params, client=api.sync_client) as stream:
            partials = list(stream.partial())
        return partials, node.append_response(stream.response, params)

    async def go() -> tuple[list[Any], ChatNode]:
        async with await node.acomplete_streaming(gen, params, client=api.async_client) as stream:
            partials = [value async for value in stream.apartial()]
        return partials, node.append_response(stream.response, params)

    return api.run(go())


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_on_every_wire(api: API, llm_server: MockLLMServer, source: str, wire: str) -> None:
    gen = generator(llm_server, wire)
    params = NodeCompletionParameters(retry=0).with_schema(SOURCES[source])
    llm_server.enqueue(Reply.json({"city": "Paris", "days": 3}), Reply.json({"city": "Rome", "days": 2}))
    user = ChatNode.root("You plan trips.").add_user("Three days in Paris?")

    reply = api.complete(user, gen, params)
    assert city_and_days(reply.parsed) == ("Paris", 3)
    if source != "dict" and source != "typeddict":
        assert isinstance(reply.parsed, SOURCES[source])
    assert json.loads(reply.text or "") == {"city": "Paris", "days": 3}
    assert reply.parent is user and reply.tool_calls is None
    found = request_schema(llm_server.last_request)
    assert found is not None
    how, schema, strict = found
    assert how == ("tool" if wire == "anthropic" else "response_format")
    assert set(schema["properties"]) >= {"city", "days"}
    if wire in ("openai", "openrouter"):
        assert strict and strict_schema_problems(schema) == []

    partials, streamed = complete_streamed(api, user, gen, params)
    assert city_and_days(streamed.parsed) == ("Rome", 2)
    assert partials[-1] == {"city": "Rome", "days": 2}
    assert {"city": "Rome"} in partials  # a value seen before the whole reply arrived
    assert llm_server.last_request.stream


@pytest.mark.parametrize("wire", WIRES)
def test_an_invalid_reply_is_reasked_and_the_branch_stays_in_the_tree(
    api: API, llm_server: MockLLMServer, wire: str
) -> None:
    gen = generator(llm_server, wire)
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(
        Reply.json({"city": "Paris", "days": "three"}),
        Reply.json({"city": "Paris"}),
        Reply.json({"city": "Paris", "days": 3, "note": None}),
    )
    user = ChatNode.root("You plan trips.").add_user("Three days in Paris?")

    reply = api.complete(user, gen, params)

    assert reply.parsed == TripAttrs("Paris", 3)
    bad1 = user.children[0]
    fix1 = bad1.children[0]
    bad2 = fix1.children[0]
    fix2 = bad2.children[0]
    assert fix2.children == [reply]
    assert bad1.metadata["schema_errors"] == ["$.days: expected an integer, got a string"]
    assert bad2.metadata["schema_errors"] == ["$.days: required field missing"]
    assert fix1.role.value == "user" and "$.days: expected an integer" in (fix1.text or "")
    assert fix1.metadata["reask"] == 1 and fix2.metadata["reask"] == 2
    assert bad1.parsed is None and "schema_errors" not in reply.metadata
    assert len(llm_server.requests) == 3
    # The re-ask sends the failed reply and the correction, so the model sees what to fix.
    last = llm_server.last_request.json["messages"]
    assert any("expected an integer" in json.dumps(m) for m in last)


def test_when_reasks_run_out_the_error_carries_the_last_reply(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=3).with_schema(TripModel, max_reasks=1)
    llm_server.enqueue(Reply.json({"city": "Paris", "days": "x"}), Reply.json("not json at all, sorry"))
    user = ChatNode.root("You plan trips.").add_user("Paris?")

    with pytest.raises(SchemaValidationError) as caught:
        api.complete(user, gen, params)

    error = caught.value
    assert error.raw == "not json at all, sorry"
    assert error.node.text == "not json at all, sorry" and error.node.parent.parent.parent is user
    assert error.node in error.node.parent.children  # kept in the tree
    assert error.errors and "schema 'TripModel'" in str(error) and "1 re-ask" in str(error)
    assert len(llm_server.requests) == 2  # retry=3 never multiplied the re-asks: invalid replies are not retried


def test_transport_retries_do_not_count_as_reasks(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=2, back_off_time=0).with_schema(TripAttrs, max_reasks=0)
    llm_server.enqueue(Reply.error(503), Reply.json({"city": "Oslo", "days": 1}))
    reply = api.complete(ChatNode.user("Oslo?"), gen, params)
    assert reply.parsed == TripAttrs("Oslo", 1)
    assert len(llm_server.requests) == 2


def test_a_failed_stream_is_reasked_with_a_new_request(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "anthropic")
    params = NodeCompletionParameters(retry=0).with_schema(TripData)
    llm_server.enqueue(Reply.json({"city": 5, "days": 2}), Reply.json({"city": "Lima", "days": 2}))
    user = ChatNode.user("Lima?")
    with pytest.raises(SchemaValidationError) as caught:
        complete_streamed(api, user, gen, params)
    failed = caught.value.node
    assert failed.parent is user and failed.metadata["schema_errors"] == ["$.city: expected a string, got a number"]
    if api.mode == "sync":
        reply = failed.reask(gen, params, client=api.sync_client)
    else:
        reply = api.run(failed.areask(gen, params, client=api.async_client))
    assert reply.parsed == TripData("Lima", 2)
    assert reply.parent.parent is failed and not llm_server.last_request.stream


def test_complete_costed_counts_every_request(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(
        Reply.text('{"city": "Paris", "days": "x"}', usage=(10, 5)),
        Reply.text('{"city": "Paris", "days": 1}', usage=(30, 7)),
    )
    reply, cost = api.complete_costed(ChatNode.user("Paris?"), gen, params)
    assert reply.parsed == TripAttrs("Paris", 1)
    assert (cost.prompt_tokens, cost.completion_tokens) == (40, 12)


def test_broken_json_is_repaired_before_validation(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "custom")
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json("Sure! ```json\n{'city': 'Nice', 'days': 4,}\n```"))
    reply = api.complete(ChatNode.user("Nice?"), gen, params)
    assert reply.parsed == TripAttrs("Nice", 4)
    assert json.loads(reply.text or "") == {"city": "Nice", "days": 4}


def test_without_add_child_the_whole_exchange_stays_off_the_tree(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=0, add_child=False).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json({"city": 1, "days": 1}), Reply.json({"city": "Bern", "days": 1}))
    user = ChatNode.user("Bern?")
    reply = api.complete(user, gen, params)
    assert reply.parsed == TripAttrs("Bern", 1)
    assert user.children == []
    assert reply.parent.parent.parent is user  # the phantom branch still knows where it hangs


def test_save_thread_keeps_the_reask_branch(api: API, llm_server: MockLLMServer, tmp_path: Path) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json({"city": "Paris"}), Reply.json({"city": "Paris", "days": 2}))
    reply = api.complete(ChatNode.root("sys").add_user("Paris?"), gen, params)
    reply.save_thread(tmp_path / "t.json")
    _, leaf = ChatNode.from_thread_file(tmp_path / "t.json")
    roles = [m.role.value for m in leaf.thread()]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert leaf.parent.parent.metadata["schema_errors"] == ["$.days: required field missing"]


# ----- what each wire sends -----------------------------------------------------------------------------


def test_generic_prompt_mode_puts_the_schema_in_the_system_prompt(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "custom").with_schema_mode("prompt")
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json({"city": "Kyiv", "days": 5}))
    reply = api.complete(ChatNode.root("Be brief.").add_user("Kyiv?"), gen, params)
    assert reply.parsed == TripAttrs("Kyiv", 5)
    body = llm_server.last_request.json
    assert "response_format" not in body
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.\n\nReply with only a JSON value")
    assert '"days":{"type":"integer"}' in system["content"]


def test_anthropic_native_mode_sends_output_config(api: API, llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "anthropic").with_schema_mode("native")
    params = NodeCompletionParameters(retry=0).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json({"city": "Rome", "days": 2}))
    reply = api.complete(ChatNode.user("Rome?"), gen, params)
    assert reply.parsed == TripAttrs("Rome", 2)
    body = llm_server.last_request.json
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert strict_schema_problems(body["output_config"]["format"]["schema"]) == []
    assert "tools" not in body and "tool_choice" not in body


def test_anthropic_keeps_the_users_tools_next_to_the_schema_tool(llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "anthropic")
    tool = ToolDefinition("lookup", "Look a city up", {"type": "object", "properties": {}})
    params = NodeCompletionParameters(params=CompletionParameters().with_tool(tool)).with_schema(TripAttrs)
    llm_server.enqueue(Reply.json({"city": "Rome", "days": 2}))
    ChatNode.user("Rome?").complete(gen, params)
    body = llm_server.last_request.json
    assert [t["name"] for t in body["tools"]] == ["lookup", "TripAttrs"]
    assert body["tool_choice"] == {"type": "tool", "name": "TripAttrs"}
    with pytest.raises(InvalidParameterError, match="tool_choice"):
        ChatNode.user("x").complete(gen, attrs.evolve(params, params=params.params.with_tool_choice("required")))


def test_a_schema_and_a_json_response_format_conflict(llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(params=CompletionParameters().with_json_response()).with_schema(TripAttrs)
    with pytest.raises(InvalidParameterError, match="response_format"):
        ChatNode.user("x").complete(gen, params)
    assert llm_server.requests == []


def test_with_schema_mode_refuses_a_wire_without_modes() -> None:
    with pytest.raises(InvalidParameterError, match="single way"):
        GeneratorInfo.openai("m").with_schema_mode("prompt")
    with pytest.raises(InvalidParameterError, match="schema_mode"):
        GeneratorInfo.custom("c", "http://127.0.0.1:1", "m").with_schema_mode("grammar")


def test_a_free_form_map_goes_non_strict(llm_server: MockLLMServer) -> None:
    @attrs.define
    class Scores:
        by_name: dict[str, int]

    gen = generator(llm_server, "openai")
    llm_server.enqueue(Reply.json({"by_name": {"a": 1}}))
    reply = ChatNode.user("x").complete(gen, NodeCompletionParameters().with_schema(Scores))
    assert reply.parsed == Scores({"a": 1})
    fmt = llm_server.last_request.json["response_format"]["json_schema"]
    assert fmt["strict"] is False and fmt["schema"]["properties"]["by_name"]["additionalProperties"] == {
        "type": "integer"
    }


def test_the_test_server_refuses_a_strict_schema_that_breaks_the_rules(llm_server: MockLLMServer) -> None:
    from minillm import BadRequestError

    gen = generator(llm_server, "openai")
    bad = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {"type": "object"}}}
    llm_server.enqueue(Reply.json({}))
    params = NodeCompletionParameters(
        retry=0, params=CompletionParameters(max_tokens=5).with_extra("response_format", bad)
    )
    with pytest.raises(BadRequestError, match="Invalid schema for response_format 'x'"):
        ChatNode.user("x").complete(gen, params)


# ----- bodies validate against OpenAI's published request schema ------------------------------------------


@pytest.fixture(scope="module")
def openai_request_schema() -> Any:
    import jsonschema

    schema = json.loads((FIXTURES / "create_chat_completion_request.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("stream", [False, True])
def test_every_body_with_a_schema_is_a_valid_openai_request(
    openai_request_schema: Any, llm_server: MockLLMServer, source: str, stream: bool
) -> None:
    gen = generator(llm_server, "openai")
    params = NodeCompletionParameters(retry=0).with_schema(SOURCES[source])
    llm_server.enqueue(Reply.json({"city": "Paris", "days": 3}))
    user = ChatNode.user("Paris?")
    if stream:
        with user.complete_streaming(gen, params) as s:
            list(s)
    else:
        user.complete(gen, params)
    body = llm_server.last_request.json
    errors = [e.message for e in openai_request_schema.iter_errors(body)]
    assert errors == []
    assert body["response_format"]["json_schema"]["strict"] is True


def test_native_anthropic_mode_refuses_a_schema_without_a_strict_form(llm_server: MockLLMServer) -> None:
    @attrs.define
    class Scores:
        by_name: dict[str, int]

    gen = generator(llm_server, "anthropic").with_schema_mode("native")
    with pytest.raises(InvalidParameterError, match="with_schema_mode"):
        ChatNode.user("x").complete(gen, NodeCompletionParameters().with_schema(Scores))
    assert llm_server.requests == []


def test_prompt_mode_adds_a_system_message_when_the_thread_has_none(llm_server: MockLLMServer) -> None:
    gen = generator(llm_server, "custom").with_schema_mode("prompt")
    llm_server.enqueue(Reply.json({"city": "Kyiv", "days": 5}))
    ChatNode.user("Kyiv?").complete(gen, NodeCompletionParameters().with_schema(TripAttrs))
    messages = llm_server.last_request.json["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"].startswith("Reply with only a JSON value")
