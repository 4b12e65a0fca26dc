"""Client-level default parameters: the pure merge (``apply_defaults``) and both clients applying it."""

from __future__ import annotations

import pytest

from minillm import (
    APITimeoutError,
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    InvalidParameterError,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    ServerError,
    SyncClient,
    TokenPrice,
)
from minillm.core.params import apply_defaults
from minillm.testing import MockLLMServer, Reply
from tests.conftest import MakeAPI


def gen(server: MockLLMServer) -> GeneratorInfo:
    return GeneratorInfo.openai("gpt-test").with_api_key("sk-test").with_base_url(server.openai_base_url)


# ----- the merge, as a pure function ----------------------------------------------------------------------


def test_without_client_defaults_the_call_is_used_as_it_is() -> None:
    call = NodeCompletionParameters(retry=1, params=CompletionParameters())
    assert apply_defaults(call, None) is call
    assert apply_defaults(None, None) == NodeCompletionParameters()


def test_a_call_without_parameters_takes_the_client_defaults() -> None:
    defaults = NodeCompletionParameters(retry=0, back_off_time=0.25, timeout_secs=30)
    assert apply_defaults(None, defaults) == defaults


def test_fields_the_call_set_win_and_the_rest_come_from_the_client() -> None:
    defaults = NodeCompletionParameters(retry=0, timeout_secs=30, system_prompt="client", exp_back_off=True)
    call = NodeCompletionParameters(retry=2, system_prompt="call")
    merged = apply_defaults(call, defaults)
    assert (merged.retry, merged.system_prompt) == (2, "call")
    assert (merged.timeout_secs, merged.exp_back_off) == (30, True)


def test_a_call_value_equal_to_the_library_default_takes_the_client_value() -> None:
    """The documented limit of telling "set" from "default" by value: retry=4 is the class default."""
    merged = apply_defaults(NodeCompletionParameters().with_retry(4), NodeCompletionParameters(retry=0))
    assert merged.retry == 0


def test_model_parameters_merge_field_by_field_leaving_the_rest_to_the_generator() -> None:
    defaults = NodeCompletionParameters(params=CompletionParameters(max_tokens=100, top_p=0.5).with_extra("a", 1))
    call = NodeCompletionParameters(params=CompletionParameters(temperature=0.1).with_extra("b", 2))
    params = apply_defaults(call, defaults).params
    assert params is not None
    assert (params.max_tokens, params.temperature, params.top_p) == (100, 0.1, 0.5)
    assert dict(params.extra or {}) == {"a": 1, "b": 2}
    assert params.seed is None  # set by neither: the generator's default_params decide


def test_format_kwargs_are_a_union_with_the_call_winning() -> None:
    defaults = NodeCompletionParameters(format_kwargs={"a": "client", "b": "client"})
    merged = apply_defaults(NodeCompletionParameters(format_kwargs={"b": "call"}), defaults)
    assert dict(merged.format_kwargs) == {"a": "client", "b": "call"}


def test_default_params_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="NodeCompletionParameters"):
        SyncClient(default_params=CompletionParameters())  # type: ignore[arg-type]


# ----- both clients apply it ------------------------------------------------------------------------------


def test_a_client_default_of_no_retry_applies_to_every_call(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    api = make_api(default_params=NodeCompletionParameters(retry=0, back_off_time=0))
    llm_server.enqueue(Reply.error(500, "down"), Reply.text("never reached"))
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gen(llm_server))
    assert isinstance(info.value.last_error, ServerError)
    assert len(llm_server.requests) == 1


def test_a_call_with_its_own_retry_overrides_the_client_default(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    api = make_api(default_params=NodeCompletionParameters(retry=0, back_off_time=0))
    llm_server.enqueue(Reply.error(500, "down"), Reply.text("second time lucky"))
    reply = api.complete(ChatNode.user("hi"), gen(llm_server), NodeCompletionParameters(retry=1))
    assert reply.text == "second time lucky"
    assert len(llm_server.requests) == 2  # the back-off of 0 still came from the client


def test_a_stream_start_follows_the_client_default(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    api = make_api(default_params=NodeCompletionParameters(retry=0))
    llm_server.enqueue(Reply.error(503, "down"), Reply.text("never reached"))
    _, error = api.stream_collecting(ChatNode.user("hi"), gen(llm_server))
    assert isinstance(error, MaxRetriesExceededError)
    assert len(llm_server.requests) == 1


def test_a_client_default_timeout_bounds_each_call(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    api = make_api(default_params=NodeCompletionParameters(retry=0, timeout_secs=0.3))
    llm_server.enqueue(Reply.text("too late", delay=5.0))
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(ChatNode.user("hi"), gen(llm_server))
    assert isinstance(info.value.last_error, APITimeoutError)


def test_precedence_call_then_client_then_generator(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    generator = gen(llm_server).with_default_params(CompletionParameters(temperature=0.3, seed=7, max_tokens=50))
    api = make_api(default_params=NodeCompletionParameters(params=CompletionParameters(max_tokens=100, top_p=0.9)))
    llm_server.enqueue(Reply.text("ok"))
    call = NodeCompletionParameters(params=CompletionParameters(top_p=0.5))
    api.complete(ChatNode.user("hi"), generator, call)
    body = llm_server.requests[0].json
    assert body["top_p"] == 0.5  # the call's
    assert body["max_completion_tokens"] == 100  # the client's, over the generator's 50
    assert (body["temperature"], body["seed"]) == (0.3, 7)  # the generator's, set by neither call nor client


def test_a_client_default_cost_callback_reports_every_call(make_api: MakeAPI, llm_server: MockLLMServer) -> None:
    costs: list[float] = []
    api = make_api(default_params=NodeCompletionParameters().with_cost_callback(lambda info: costs.append(info.cost)))
    priced = gen(llm_server).with_token_price(TokenPrice(1_000_000.0, 2_000_000.0))
    llm_server.enqueue(Reply.text("a", usage=(1, 1)), Reply.text("b", usage=(2, 1)))
    api.complete(ChatNode.user("hi"), priced)
    api.complete(ChatNode.user("hi"), priced)
    assert costs == [3.0, 4.0]
