"""Each profile's body is accepted by its server's emulation in ``minillm.testing``, in both worlds; the plain
``custom`` body is refused (or partly ignored) where the real server refuses (or ignores) it."""

from __future__ import annotations

import logging
import warnings

import attrs
import pytest

from minillm import (
    BadRequestError,
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    MaxRetriesExceededError,
    Message,
    NodeCompletionParameters,
    ProfileWarning,
    ServerError,
)
from minillm.core.providers.profiles import PROFILES
from minillm.testing import MockLLMServer, Reply
from minillm.testing.profiles import EMULATIONS
from tests.conftest import API
from tests.test_profiles_core import EVERYTHING, TOOL

NAMES = sorted(PROFILES)


def dropped_by(name: str) -> list[str]:
    profile = PROFILES[name]
    return sorted(profile.unsupported | ({"reasoning"} if profile.reasoning is None else set()))


def run(params: CompletionParameters, **node: object) -> NodeCompletionParameters:
    return NodeCompletionParameters(params=params, retry=0, **node)  # type: ignore[arg-type]


def gen_for(server: MockLLMServer, profile: str | None) -> GeneratorInfo:
    return GeneratorInfo.custom("local", server.openai_base_url, "some-model", profile=profile)


def test_there_is_an_emulation_for_every_profile() -> None:
    assert sorted(EMULATIONS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_a_completion_with_every_parameter_is_read_whole_by_the_emulated_server(
    api: API, llm_server: MockLLMServer, name: str
) -> None:
    llm_server.emulate(name)
    llm_server.enqueue(Reply.text("fine"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)
        reply = api.complete(ChatNode.user("hi"), gen_for(llm_server, name), run(EVERYTHING))
    assert reply.text == "fine"
    body = llm_server.last_request.json
    assert body[PROFILES[name].token_limit_key] == 100
    emulation = llm_server.emulation
    assert emulation is not None and emulation.ignored_keys(body) == []  # nothing the server would not read


@pytest.mark.parametrize("name", NAMES)
def test_a_stream_through_the_emulated_server_with_usage_where_it_can_be_asked(
    api: API, llm_server: MockLLMServer, name: str
) -> None:
    llm_server.emulate(name)
    llm_server.enqueue(Reply.text("streamed fine", usage=(12, 3)))
    params = EVERYTHING if PROFILES[name].stream_tools else EVERYTHING.with_tools(None).with_tool_choice(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProfileWarning)
        chunks, response = api.stream(ChatNode.user("hi"), gen_for(llm_server, name), run(params, track_cost=True))
    assert "".join(c.delta for c in chunks) == "streamed fine" == response.content
    body = llm_server.last_request.json
    assert body["stream"] is True
    assert ("stream_options" in body) is PROFILES[name].stream_options
    assert (response.usage is not None) is PROFILES[name].stream_options
    assert llm_server.emulation is not None and llm_server.emulation.ignored_keys(body) == []


@pytest.mark.parametrize("name", NAMES)
def test_a_refused_parameter_set_on_the_request_is_dropped_with_a_warning(
    api: API, llm_server: MockLLMServer, name: str
) -> None:
    llm_server.emulate(name)
    fields = dropped_by(name)
    if not fields:  # vLLM takes every parameter: nothing is dropped, nothing warns
        with warnings.catch_warnings():
            warnings.simplefilter("error", ProfileWarning)
            api.complete(ChatNode.user("hi"), gen_for(llm_server, name), run(EVERYTHING.with_tools(None)))
        assert {"top_k", "repetition_penalty", "reasoning_effort"} <= llm_server.last_request.json.keys()
        return
    field = fields[0]
    params = attrs.evolve(CompletionParameters(), **{field: getattr(EVERYTHING, field)})
    with pytest.warns(ProfileWarning, match=f"^{field} was left out of the request: the {name} server"):
        api.complete(ChatNode.user("hi"), gen_for(llm_server, name), run(params))
    body = llm_server.last_request.json
    assert field not in body and "reasoning_effort" not in body and "response_format" not in body


@pytest.mark.parametrize("name", NAMES)
def test_a_refused_parameter_from_the_generators_defaults_is_noted_at_debug(
    api: API, llm_server: MockLLMServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    llm_server.emulate(name)
    fields = dropped_by(name) or ["top_k"]
    field = fields[0]
    defaults = attrs.evolve(CompletionParameters(), **{field: getattr(EVERYTHING, field)})
    gen = gen_for(llm_server, name).with_default_params(defaults)
    with caplog.at_level(logging.DEBUG, logger="minillm"), warnings.catch_warnings():
        warnings.simplefilter("error", ProfileWarning)  # a default is never warned about
        api.complete(ChatNode.user("hi"), gen, run(CompletionParameters(max_tokens=50)))
    note = f"{field} left out of the request: the {name} profile's server does not take it"
    if PROFILES[name].unsupported or PROFILES[name].reasoning is None:
        assert note in caplog.text
    else:  # vLLM keeps it, and says nothing
        assert note not in caplog.text and llm_server.last_request.json["top_k"] == 40


GEMINI_TOP_K = r'^API error \(400\): Invalid JSON payload received. Unknown name "top_k": Cannot find field.'
REFUSALS = [
    ("groq", CompletionParameters(top_k=40), BadRequestError, "property 'top_k' is unsupported"),
    ("gemini", CompletionParameters(top_k=40), BadRequestError, GEMINI_TOP_K),
    ("gemini", CompletionParameters(frequency_penalty=0.5), BadRequestError, r'Unknown name "frequency_penalty"'),
    ("lmstudio", CompletionParameters().with_json_response(), BadRequestError, "must be 'json_schema' or 'text'"),
]


@pytest.mark.parametrize(("name", "params", "error", "message"), REFUSALS)
def test_the_plain_custom_body_is_refused_where_the_server_refuses_it_and_the_profile_body_is_not(
    api: API, llm_server: MockLLMServer, name: str, params: CompletionParameters, error: type, message: str
) -> None:
    llm_server.emulate(name)
    with pytest.raises(error, match=message):
        api.complete(ChatNode.user("hi"), gen_for(llm_server, None), run(params))
    with pytest.warns(ProfileWarning):
        reply = api.complete(ChatNode.user("hi"), gen_for(llm_server, name), run(params))
    assert reply.text == "Echo: hi"  # the server answered


def test_groq_refuses_message_names_and_the_profile_leaves_them_out(api: API, llm_server: MockLLMServer) -> None:
    llm_server.emulate("groq")
    node = ChatNode.root("Be brief.").add_child(ChatNode(attrs.evolve(Message.user("hi"), name="ann")))
    with pytest.raises(BadRequestError, match="property 'name' is unsupported"):
        api.complete(node, gen_for(llm_server, None), run(CompletionParameters()))
    with pytest.warns(ProfileWarning, match=r"messages\[\]\.name"):
        api.complete(node, gen_for(llm_server, "groq"), run(CompletionParameters()))
    assert all("name" not in m for m in llm_server.last_request.json["messages"])


def test_llama_cpp_streamed_tools_fail_on_the_server_but_are_refused_before_sending_with_the_profile(
    api: API, llm_server: MockLLMServer
) -> None:
    llm_server.emulate("llama.cpp")
    params = CompletionParameters(tools=[TOOL])
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gen_for(llm_server, None), run(params))
    assert isinstance(error, MaxRetriesExceededError) and isinstance(error.__cause__, ServerError)
    assert "API error (500): Cannot use tools with stream" in str(error) and chunks == []
    llm_server.clear()
    chunks, error = api.stream_collecting(ChatNode.user("hi"), gen_for(llm_server, "llama.cpp"), run(params))
    assert isinstance(error, InvalidParameterError) and "complete()" in str(error)
    assert llm_server.requests == []  # refused before anything was sent
    reply = api.complete(ChatNode.user("hi"), gen_for(llm_server, "llama.cpp"), run(params))
    assert reply.text == "Echo: hi"


LENIENT = [("ollama", ["max_completion_tokens"]), ("deepseek", ["max_completion_tokens"])]


@pytest.mark.parametrize(("name", "ignored"), LENIENT)
def test_a_lenient_server_ignores_the_plain_token_limit_key_but_reads_the_profiles(
    api: API, llm_server: MockLLMServer, name: str, ignored: list[str]
) -> None:
    llm_server.emulate(name)
    api.complete(ChatNode.user("hi"), gen_for(llm_server, None), run(CompletionParameters(max_tokens=20)))
    emulation = llm_server.emulation
    assert emulation is not None and emulation.ignored_keys(llm_server.last_request.json) == ignored
    api.complete(ChatNode.user("hi"), gen_for(llm_server, name), run(CompletionParameters(max_tokens=20)))
    assert emulation.ignored_keys(llm_server.last_request.json) == []
    assert llm_server.last_request.json["max_tokens"] == 20


def test_deepseek_refuses_reasoning_content_sent_back() -> None:
    with MockLLMServer(profile="deepseek") as server:
        emulation = server.emulation
        assert emulation is not None and emulation.name == "deepseek"
        body = {"model": "m", "messages": [{"role": "assistant", "content": "x", "reasoning_content": "y"}]}
        from minillm.testing.replies import RecordedRequest

        request = RecordedRequest("POST", "/v1/chat/completions", {}, {}, b"", body)
        refusal = emulation.check(request)
        assert refusal is not None
        assert emulation.check(attrs.evolve(request, json={"model": "m", "messages": []})) is None


def test_emulation_is_forgotten_on_reset_and_an_unknown_one_is_refused(llm_server: MockLLMServer) -> None:
    llm_server.emulate("groq")
    llm_server.reset()
    assert llm_server.emulation is None
    with pytest.raises(InvalidParameterError, match="no emulation of 'tgi'"):
        llm_server.emulate("tgi")
