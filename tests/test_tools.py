"""Tool calling: the normalized types, their settings form, and each wire's mapping.

Wire tests go through the public API and the local server, in both worlds (the ``api`` fixture), streamed and
not, and check the exact request bodies and the tool calls parsed from the answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
    ToolCall,
    ToolCallDelta,
)
from minillm.core.tools import ToolChoice, ToolDefinition
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API

WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["city"],
}
WEATHER = ToolDefinition("get_weather", "Current weather for a city", WEATHER_SCHEMA)
TIME = ToolDefinition("get_time")
NO_PARAMS: dict[str, Any] = {"type": "object", "properties": {}}

OPENAI_WIRES = ("openai", "openrouter", "custom")
WIRES = (*OPENAI_WIRES, "anthropic")


def gen_for(server: MockLLMServer, wire: str) -> GeneratorInfo:
    if wire == "openai":
        return GeneratorInfo.openai("gpt-test").with_api_key("sk-test").with_base_url(server.openai_base_url)
    if wire == "openrouter":
        return (
            GeneratorInfo.openrouter("openai/gpt-test")
            .with_api_key("sk-test")
            .with_base_url(server.openrouter_base_url)
        )
    if wire == "custom":
        return GeneratorInfo.custom("local", server.openai_base_url, "local-model")
    return GeneratorInfo.anthropic("claude-test").with_api_key("sk-test").with_base_url(server.anthropic_base_url)


def with_params(params: CompletionParameters) -> NodeCompletionParameters:
    return NodeCompletionParameters(params=params, retry=0)


def sent_body(
    api: API, server: MockLLMServer, wire: str, params: CompletionParameters, stream: bool = False
) -> dict[str, Any]:
    """Complete (or stream) once against the local server and return the JSON body it received."""
    user = ChatNode.root("Be brief.").add_user("Weather in Paris?")
    if stream:
        api.stream(user, gen_for(server, wire), with_params(params))
    else:
        api.complete(user, gen_for(server, wire), with_params(params))
    body = server.last_request.json
    assert isinstance(body, dict)
    return body


# ----- ToolDefinition ------------------------------------------------------------------------------------


def test_tool_definition_fields_and_serialized_form() -> None:
    assert (WEATHER.name, WEATHER.description, WEATHER.parameters, WEATHER.strict) == (
        "get_weather",
        "Current weather for a city",
        WEATHER_SCHEMA,
        None,
    )
    assert WEATHER.to_dict() == {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": WEATHER_SCHEMA,
    }
    strict = WEATHER.with_strict(True)
    assert strict.strict is True and WEATHER.strict is None
    assert strict.to_dict()["strict"] is True
    assert ToolDefinition.from_dict(strict.to_dict()) == strict
    assert TIME.to_dict() == {"name": "get_time", "parameters": NO_PARAMS}
    assert ToolDefinition.from_dict({"name": "get_time", "unknown": 1}) == TIME


def test_tool_definition_keeps_its_own_copy_of_the_schema() -> None:
    schema: dict[str, Any] = {"type": "object", "properties": {"q": {"type": "string"}}}
    tool = ToolDefinition("search", "Search", schema)
    schema["properties"]["q"]["type"] = "number"
    assert tool.parameters["properties"]["q"]["type"] == "string"
    tool.to_dict()["parameters"]["properties"].clear()
    assert tool.parameters["properties"] == {"q": {"type": "string"}}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": 3},
        {"name": "x", "description": 1},
        {"name": "x", "parameters": "not a schema"},
        {"name": "x", "parameters": {"default": object()}},
        {"name": "x", "strict": "yes"},
    ],
)
def test_tool_definition_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError):
        ToolDefinition(**kwargs)


# ----- ToolChoice ----------------------------------------------------------------------------------------


def test_tool_choice_constructors_and_settings_form() -> None:
    cases = [
        (ToolChoice.auto(), "Auto"),
        (ToolChoice.none(), "None"),
        (ToolChoice.required(), "Required"),
        (ToolChoice.tool("get_weather"), {"Tool": "get_weather"}),
    ]
    for choice, settings in cases:
        assert choice.to_settings() == settings
        assert ToolChoice.from_settings(settings) == choice
    assert ToolChoice.tool("x").name == "x" and ToolChoice.auto().name is None
    assert ToolChoice.from_settings("required") == ToolChoice.required()
    assert ToolChoice.of(WEATHER) == ToolChoice.tool("get_weather")
    assert ToolChoice.of("none") == ToolChoice.none()


@pytest.mark.parametrize("value", ["sometimes", {"tool": "x"}, {"Tool": 1}, None, 3])
def test_tool_choice_rejects_unknown_settings(value: Any) -> None:
    with pytest.raises(InvalidParameterError):
        ToolChoice.from_settings(value)


def test_tool_choice_invariants() -> None:
    with pytest.raises(InvalidParameterError):
        ToolChoice.tool("")
    with pytest.raises(InvalidParameterError):
        ToolChoice("auto", "x")
    with pytest.raises(InvalidParameterError):
        ToolChoice("sometimes")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match=r"ToolChoice\.tool\('get_weather'\)"):
        ToolChoice.of("get_weather")


# ----- ToolCall ------------------------------------------------------------------------------------------


def test_tool_call_strict_arguments_error_names_the_call() -> None:
    call = ToolCall("call_7", "get_weather", '{"city": "Par')
    with pytest.raises(InvalidParameterError) as info:
        call.arguments_json()
    assert "'get_weather' (call_7)" in str(info.value)
    assert ToolCall("c", "f", "  ").arguments_json() == {}


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        ('```json\n{"city": "Paris"}\n```', {"city": "Paris"}),
        ("{'city': 'Paris'}", {"city": "Paris"}),
        ('{"city": "Paris",}', {"city": "Paris"}),
        ('{"city": "Paris"', {"city": "Paris"}),
        ('Sure: {"city": "Zürich"}', {"city": "Zürich"}),
        ("", {}),
    ],
)
def test_tool_call_repaired_arguments(arguments: str, expected: Any) -> None:
    assert ToolCall("c1", "get_weather", arguments).arguments_json_repaired() == expected


def test_tool_call_unrepairable_arguments() -> None:
    with pytest.raises(InvalidParameterError, match="unrepairable JSON arguments"):
        ToolCall("c1", "get_weather", "no json here").arguments_json_repaired()


def test_tool_call_serialized_form_round_trips() -> None:
    call = ToolCall("c1", "get_weather", '{"city":"Paris"}')
    assert call.to_dict() == {"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert ToolCall.from_dict(call.to_dict()) == call
    with pytest.raises(InvalidParameterError):
        ToolCall.from_dict({"id": "c1", "name": "f", "arguments": {"city": "Paris"}})


# ----- CompletionParameters --------------------------------------------------------------------------------


def test_tools_must_be_definitions_with_distinct_names() -> None:
    with pytest.raises(InvalidParameterError, match="ToolDefinition"):
        CompletionParameters().with_tools([{"name": "get_weather"}])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="with_tool"):
        CompletionParameters().with_tools(WEATHER)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="two tools are named 'get_weather'"):
        CompletionParameters().with_tool(WEATHER).with_tool(WEATHER.with_strict())
    assert CompletionParameters().with_tools([WEATHER, TIME]).with_tools(None).tools is None


def test_tool_choice_accepts_shortcuts() -> None:
    p = CompletionParameters()
    assert p.with_tool_choice("required").tool_choice == ToolChoice.required()
    assert p.with_tool_choice(WEATHER).tool_choice == ToolChoice.tool("get_weather")
    assert p.with_tool_choice(None).tool_choice is None
    with pytest.raises(InvalidParameterError):
        p.with_tool_choice("get_weather")


def test_settings_form_of_tools() -> None:
    settings = {
        "tools": [
            {"name": "get_weather", "description": "Current weather for a city", "parameters": WEATHER_SCHEMA},
            {"name": "get_time", "parameters": NO_PARAMS, "strict": True},
        ],
        "toolChoice": {"Tool": "get_weather"},
        "parallelToolCalls": False,
    }
    p = CompletionParameters.from_settings(settings)
    assert p.tools == (WEATHER, TIME.with_strict(True))
    assert p.tool_choice == ToolChoice.tool("get_weather")
    assert p.parallel_tool_calls is False
    assert p.to_settings() == settings
    for word, choice in [("Auto", ToolChoice.auto()), ("None", ToolChoice.none()), ("Required", ToolChoice.required())]:
        assert CompletionParameters.from_settings({"toolChoice": word}).tool_choice == choice
        assert CompletionParameters(tool_choice=choice).to_settings() == {"toolChoice": word}
    assert CompletionParameters.from_settings({"tools": None, "toolChoice": None}).tools is None
    with pytest.raises(InvalidParameterError):
        CompletionParameters.from_settings({"tools": {"name": "x"}})


def test_merge_takes_the_other_tools_when_set() -> None:
    base = CompletionParameters().with_tools([WEATHER]).with_tool_choice("auto")
    merged = base.merge(CompletionParameters().with_tools([TIME]))
    assert merged.tools == (TIME,) and merged.tool_choice == ToolChoice.auto()


# ----- request bodies on each wire -------------------------------------------------------------------------

FULL = (
    CompletionParameters(max_tokens=100, temperature=0.0)
    .with_tools([WEATHER.with_strict(True), TIME])
    .with_tool_choice(ToolChoice.required())
    .with_parallel_tool_calls(False)
)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("wire", OPENAI_WIRES)
def test_openai_dialect_body(api: API, llm_server: MockLLMServer, wire: str, stream: bool) -> None:
    body = sent_body(api, llm_server, wire, FULL, stream)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_SCHEMA,
                "description": "Current weather for a city",
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "get_time", "parameters": NO_PARAMS}},
    ]
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    keys = [k for k in body if k not in ("usage", "stream_options")]
    assert keys[-4:] == ["temperature", "tools", "tool_choice", "parallel_tool_calls"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_body(api: API, llm_server: MockLLMServer, stream: bool) -> None:
    body = sent_body(api, llm_server, "anthropic", FULL, stream)
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": WEATHER_SCHEMA,
            "description": "Current weather for a city",
            "strict": True,
        },
        {"name": "get_time", "input_schema": NO_PARAMS},
    ]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert "parallel_tool_calls" not in body
    assert list(body)[-2:] == ["tools", "tool_choice"]


CHOICES: list[tuple[ToolChoice | None, bool | None, Any, Any]] = [
    # choice, parallel_tool_calls, OpenAI tool_choice, Anthropic tool_choice (None: key absent)
    (None, None, None, None),
    (ToolChoice.auto(), None, "auto", {"type": "auto"}),
    (ToolChoice.none(), None, "none", {"type": "none"}),
    (ToolChoice.required(), None, "required", {"type": "any"}),
    (
        ToolChoice.tool("get_weather"),
        None,
        {"type": "function", "function": {"name": "get_weather"}},
        {"type": "tool", "name": "get_weather"},
    ),
    (None, False, None, {"type": "auto", "disable_parallel_tool_use": True}),
    (None, True, None, None),
    (ToolChoice.auto(), True, "auto", {"type": "auto"}),
    (ToolChoice.none(), False, "none", {"type": "none"}),
    (ToolChoice.required(), False, "required", {"type": "any", "disable_parallel_tool_use": True}),
    (
        ToolChoice.tool("get_weather"),
        False,
        {"type": "function", "function": {"name": "get_weather"}},
        {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
    ),
]


@pytest.mark.parametrize(("choice", "parallel", "openai", "anthropic"), CHOICES)
def test_tool_choice_and_parallel_flag_on_both_wires(
    api: API, llm_server: MockLLMServer, choice: ToolChoice | None, parallel: bool | None, openai: Any, anthropic: Any
) -> None:
    params = CompletionParameters(tools=[WEATHER], tool_choice=choice, parallel_tool_calls=parallel)
    body = sent_body(api, llm_server, "openai", params)
    assert body.get("tool_choice") == openai
    assert body.get("parallel_tool_calls") == parallel
    body = sent_body(api, llm_server, "anthropic", params)
    assert body.get("tool_choice") == anthropic
    assert "parallel_tool_calls" not in body


def test_no_tools_sends_no_tool_keys(api: API, llm_server: MockLLMServer) -> None:
    for wire in WIRES:
        body = sent_body(api, llm_server, wire, CompletionParameters())
        assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body), wire
    # An empty list offers nothing either, and forbidding parallel calls needs no Anthropic choice without tools.
    params = CompletionParameters(tools=[], parallel_tool_calls=False)
    assert "tools" not in sent_body(api, llm_server, "openai", params)
    assert not {"tools", "tool_choice"} & set(sent_body(api, llm_server, "anthropic", params))


@pytest.mark.parametrize("wire", WIRES)
def test_choosing_a_tool_that_is_not_offered_fails_before_sending(
    api: API, llm_server: MockLLMServer, wire: str
) -> None:
    params = CompletionParameters(tools=[TIME], tool_choice=ToolChoice.tool("get_weather"))
    with pytest.raises(InvalidParameterError, match="'get_weather', which is not among the offered tools"):
        sent_body(api, llm_server, wire, params)
    assert llm_server.requests == []


def test_extra_cannot_override_tools(api: API, llm_server: MockLLMServer) -> None:
    params = CompletionParameters(tools=[TIME]).with_extra("tools", [])
    with pytest.raises(InvalidParameterError, match="extra param 'tools' collides"):
        sent_body(api, llm_server, "anthropic", params)


# ----- parsing tool calls from the answers ---------------------------------------------------------------

CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_weather", '{"city": "Zürich", "unit": "C"}')]


@pytest.mark.parametrize("wire", WIRES)
def test_tool_calls_are_parsed_from_a_plain_answer(api: API, llm_server: MockLLMServer, wire: str) -> None:
    llm_server.enqueue(Reply.text("", tool_calls=CALLS))
    reply = api.complete(ChatNode.user("Weather?"), gen_for(llm_server, wire), with_params(FULL))
    calls = reply.tool_calls
    assert calls is not None
    assert [(c.id, c.name) for c in calls] == [("call_1", "get_weather"), ("call_2", "get_weather")]
    assert [c.arguments_json() for c in calls] == [{"city": "Paris"}, {"city": "Zürich", "unit": "C"}]
    if wire == "anthropic":
        assert calls[0].arguments == '{"city":"Paris"}'  # the input object as compact JSON text
        assert reply.metadata["finish_reason"] == "tool_use"
    else:
        assert calls[0].arguments == '{"city": "Paris"}'  # the text as the model wrote it
        assert reply.metadata["finish_reason"] == "tool_calls"
    assert reply.text == ""


@pytest.mark.parametrize("wire", WIRES)
def test_tool_calls_are_assembled_from_a_stream(api: API, llm_server: MockLLMServer, wire: str) -> None:
    llm_server.enqueue(Reply.text("Checking both.", tool_calls=CALLS, chunk_size=5))
    chunks, response = api.stream(ChatNode.user("Weather?"), gen_for(llm_server, wire), with_params(FULL))
    deltas = [d for c in chunks for d in c.tool_calls or ()]
    assert all(isinstance(d, ToolCallDelta) for d in deltas)
    starts = [d for d in deltas if d.id is not None]
    # Anthropic shares the index space with the text block, so the calls sit at indices 1 and 2.
    first = 1 if wire == "anthropic" else 0
    assert [(d.index, d.id, d.name) for d in starts] == [
        (first, "call_1", "get_weather"),
        (first + 1, "call_2", "get_weather"),
    ]
    fragments = [d.arguments_fragment for d in deltas if d.index == first and d.arguments_fragment]
    assert len(fragments) > 1 and "".join(fragments) == '{"city": "Paris"}'
    assert response.content == "Checking both."
    assert response.tool_calls == tuple(ToolCall(*c) for c in CALLS)
    assert response.finish_reason == ("tool_use" if wire == "anthropic" else "tool_calls")
    reply = ChatNode.user("Weather?").append_response(response)
    assert reply.tool_calls == [ToolCall(*c) for c in CALLS]


def test_a_stream_without_tool_calls_has_none(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("plain"))
    chunks, response = api.stream(ChatNode.user("hi"), gen_for(llm_server, "anthropic"))
    assert response.tool_calls == () and all(c.tool_calls is None for c in chunks)


def test_scripted_arguments_may_be_a_dict(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=[("call_1", "get_weather", {"city": "Paris"})]))
    reply = api.complete(ChatNode.user("Weather?"), gen_for(llm_server, "openai"))
    assert reply.tool_calls == [ToolCall("call_1", "get_weather", json.dumps({"city": "Paris"}))]


def test_a_tool_call_only_reply_is_not_empty(api: API, llm_server: MockLLMServer) -> None:
    # crash_on_empty_response rejects blank text, but a reply that calls tools is an answer.
    llm_server.enqueue(Reply.text("", tool_calls=CALLS[:1]))
    params = with_params(FULL).with_crash_on_empty(True).with_parse_json(True).with_crash_on_refusal(True)
    reply = api.complete(ChatNode.user("Weather?"), gen_for(llm_server, "anthropic"), params)
    assert reply.tool_calls is not None and len(llm_server.requests) == 1
