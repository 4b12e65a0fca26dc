"""Compatibility profiles fit the generic wire's body to one server; without a profile nothing changes."""

from __future__ import annotations

import json
import logging
import warnings

import attrs
import pytest

from minillm import (
    CompatibilityProfile,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    Message,
    ProfileWarning,
    ReasoningConfig,
    StreamChunk,
    ToolDefinition,
)
from minillm.core.providers import GenericProvider, ServerSentEvent, WireRequest
from minillm.core.providers.profiles import PROFILES

NAMES = ["ollama", "vllm", "llama.cpp", "lmstudio", "deepseek", "groq", "gemini"]
TOOL = ToolDefinition("lookup", "Look a word up", {"type": "object", "properties": {"word": {"type": "string"}}})

EVERYTHING = CompletionParameters(
    max_tokens=100,
    temperature=0.5,
    top_p=0.9,
    top_k=40,
    frequency_penalty=0.1,
    presence_penalty=0.2,
    repetition_penalty=1.1,
    stop=["END"],
    seed=7,
    tools=[TOOL],
    tool_choice="auto",
    parallel_tool_calls=False,
    reasoning=ReasoningConfig(effort="low"),
).with_json_response()


def wire(params: CompletionParameters, *, stream: bool = False, explicit: frozenset[str] | None = None) -> WireRequest:
    return WireRequest("m", [Message.user("hi")], params, stream=stream, explicit=explicit)


def quiet_body(provider: GenericProvider, request: WireRequest) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)
        return provider.build_body(request)


def test_the_seven_profiles_are_named() -> None:
    assert sorted(PROFILES) == sorted(NAMES)
    for name in NAMES:
        assert GenericProvider.for_profile(name).profile is PROFILES[name] is CompatibilityProfile.named(name)


def test_an_unknown_profile_name_is_refused_with_the_list() -> None:
    with pytest.raises(InvalidParameterError, match=r"unknown compatibility profile 'olama'.*ollama, vllm"):
        GeneratorInfo.custom("x", "http://127.0.0.1:1/v1", "m", profile="olama")


def test_a_profile_refuses_parameters_it_cannot_leave_out() -> None:
    with pytest.raises(InvalidParameterError, match="can leave out these parameters only"):
        CompatibilityProfile("mine", unsupported={"extra"})
    with pytest.raises(InvalidParameterError, match="token_limit_key"):
        CompatibilityProfile("mine", token_limit_key="n_predict")  # type: ignore[arg-type]


def test_custom_without_a_profile_builds_the_same_body_as_before() -> None:
    request = wire(EVERYTHING.with_tools(None).with_tool_choice(None).with_parallel_tool_calls(None), stream=True)
    plain = GeneratorInfo.custom("x", "http://127.0.0.1:1/v1", "m").provider
    assert isinstance(plain, GenericProvider) and plain.profile is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no profile: nothing is dropped, nothing warns
        body = plain.build_body(request)
    assert body == GenericProvider().build_body(request)
    assert body["max_completion_tokens"] == 100 and body["top_k"] == 40 and "stream_options" not in body


@pytest.mark.parametrize("name", NAMES)
def test_each_profile_sends_its_token_limit_key(name: str) -> None:
    body = GenericProvider.for_profile(name).build_body(wire(CompletionParameters(max_tokens=64)))
    key = PROFILES[name].token_limit_key
    other = {"max_tokens", "max_completion_tokens"} - {key}
    assert body[key] == 64 and not other & body.keys()


@pytest.mark.parametrize("name", NAMES)
def test_stream_usage_is_asked_for_only_where_stream_options_are_taken(name: str) -> None:
    provider = GenericProvider.for_profile(name)
    request = attrs.evolve(wire(CompletionParameters(), stream=True), include_usage=True)
    body = provider.build_body(request)
    takes = PROFILES[name].stream_options
    assert ("stream_options" in body) is takes
    assert provider.expects_stream_usage(True) is takes
    assert provider.expects_stream_usage(False) is False
    assert "stream_options" not in provider.build_body(wire(CompletionParameters(), stream=False))


def test_stream_usage_on_a_profile_without_stream_options_warns_once_and_is_not_sent() -> None:
    with pytest.warns(ProfileWarning, match="stream_usage is ignored: the llama.cpp server"):
        gen = GeneratorInfo.custom("x", "http://127.0.0.1:1/v1", "m", profile="llama.cpp", stream_usage=True)
    body = gen.provider.build_body(wire(CompletionParameters(), stream=True))
    assert "stream_options" not in body


@pytest.mark.parametrize("name", NAMES)
def test_reasoning_goes_in_the_profiles_shape_or_is_dropped(name: str) -> None:
    params = CompletionParameters(reasoning=ReasoningConfig(effort="high"))
    body = quiet_body(GenericProvider.for_profile(name), wire(params))
    if PROFILES[name].reasoning is None:
        assert "reasoning_effort" not in body and "reasoning" not in body
    else:
        assert body["reasoning_effort"] == "high"


@pytest.mark.parametrize("name", NAMES)
def test_refused_parameters_set_explicitly_are_dropped_with_a_warning(name: str) -> None:
    profile = PROFILES[name]
    dropped = sorted(profile.unsupported | ({"reasoning"} if profile.reasoning is None else set()))
    request = wire(EVERYTHING, explicit=frozenset(dropped))
    provider = GenericProvider.for_profile(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        body = provider.build_body(request)
    said = [str(w.message) for w in caught if issubclass(w.category, ProfileWarning)]
    for field in dropped:
        assert any(s.startswith(f"{field} was left out") and name in s for s in said), (field, said)
        assert field not in body
    assert len(said) == len(dropped)


def test_refused_parameters_from_defaults_are_noted_at_debug_not_warned(caplog: pytest.LogCaptureFixture) -> None:
    provider = GenericProvider.for_profile("gemini")
    with caplog.at_level(logging.DEBUG, logger="minillm"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would fail the test
        body = provider.build_body(wire(CompletionParameters(top_k=40), explicit=frozenset()))
    assert "top_k" not in body
    assert "top_k left out of the request: the gemini profile's server does not take it" in caplog.text


def test_groq_leaves_message_names_out_and_says_so() -> None:
    request = WireRequest("m", [attrs.evolve(Message.user("hi"), name="ann")], CompletionParameters())
    with pytest.warns(ProfileWarning, match=r"messages\[\].name was left out.*groq"):
        body = GenericProvider.for_profile("groq").build_body(request)
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert GenericProvider.for_profile("vllm").build_body(request)["messages"][0]["name"] == "ann"


def test_a_stream_with_tools_is_refused_where_tool_calls_cannot_be_streamed() -> None:
    provider = GenericProvider.for_profile("llama.cpp")
    params = CompletionParameters(tools=[TOOL])
    with pytest.raises(InvalidParameterError, match=r"llama.cpp server cannot stream tool calls.*complete\(\)"):
        provider.build_body(wire(params, stream=True))
    assert provider.build_body(wire(params))["tools"][0]["function"]["name"] == "lookup"
    lifted = provider.with_profile(attrs.evolve(PROFILES["llama.cpp"], stream_tools=True))
    assert lifted.build_body(wire(params, stream=True))["stream"] is True


def test_with_profile_is_for_custom_generators_only() -> None:
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1/v1", "m").with_profile("ollama")
    assert isinstance(gen.provider, GenericProvider) and gen.provider.profile is PROFILES["ollama"]
    assert gen.with_profile(None).provider == GenericProvider()
    with pytest.raises(InvalidParameterError, match=r"with_profile\(\) is for GeneratorInfo\.custom"):
        GeneratorInfo.openai("gpt-4o-mini").with_profile("ollama")


def test_a_profile_overrides_legacy_token_limit_and_reasoning_shape() -> None:
    provider = GenericProvider(legacy_token_limit=True, reasoning="openrouter", profile="groq")
    body = provider.build_body(wire(CompletionParameters(max_tokens=5, reasoning=ReasoningConfig(effort="low"))))
    assert body["max_completion_tokens"] == 5 and body["reasoning_effort"] == "low"


@pytest.mark.parametrize("name", [n for n in NAMES if PROFILES[n].reasoning_field is not None])
def test_reasoning_text_is_read_from_each_profiles_reply_field(name: str) -> None:
    field = PROFILES[name].reasoning_field
    assert field is not None
    provider = GenericProvider.for_profile(name)
    message = {"role": "assistant", "content": "42", field: "adding up"}
    reply = provider.parse_response({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    assert (reply.content, reply.reasoning) == ("42", "adding up")
    event = ServerSentEvent(data=json.dumps({"choices": [{"index": 0, "delta": {field: "adding"}}]}))
    chunk = provider.parse_stream_event(event)
    assert isinstance(chunk, StreamChunk) and chunk.reasoning_delta == "adding"
