"""The network methods against a LiteLLM proxy with mock models: software no one here wrote.

Both wires (OpenAI's ``/v1/chat/completions`` through the ``openai`` and ``custom`` presets, Anthropic's
``/v1/messages``), blocking and async, streamed and not, with costs, errors, retries, a timeout, and the check
that sequential requests and streams keep one connection (counted by a relay in front of the proxy).

Run with ``pytest --peers tests/peers`` (see docs/testing.md); skipped otherwise.
"""

from __future__ import annotations

import pytest

from minillm import (
    APITimeoutError,
    ChatNode,
    GeneratorInfo,
    MalformedResponseError,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    RateLimitError,
    ServerError,
    TokenPrice,
)
from tests.conftest import API
from tests.peers.conftest import Proxy
from tests.peers.relay import CountingRelay

TEXT = "Hello from the LiteLLM mock model."
FAST = NodeCompletionParameters(back_off_time=0.0)
PRICE = TokenPrice(1.0, 2.0)
OPENAI_WIRE = ["openai", "custom"]


def gen(kind: str, proxy: Proxy, relay: CountingRelay, model: str = "mock-text") -> GeneratorInfo:
    if kind == "openai":
        return GeneratorInfo.openai(model).with_api_key(proxy.key).with_base_url(relay.url + "/v1")
    if kind == "custom":
        return GeneratorInfo.custom("litellm", relay.url + "/v1", model).with_api_key(proxy.key)
    if kind == "custom-usage":
        return GeneratorInfo.custom("litellm", relay.url + "/v1", model, stream_usage=True).with_api_key(proxy.key)
    return GeneratorInfo.anthropic(model).with_api_key(proxy.key).with_base_url(relay.url)


def user() -> ChatNode:
    return ChatNode.root("Be brief.").add_user("Hi")


@pytest.mark.parametrize("kind", ["openai", "custom", "anthropic"])
def test_complete(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    reply = api.complete(user(), gen(kind, litellm_proxy, relay))
    assert reply.text == TEXT


@pytest.mark.parametrize("kind", OPENAI_WIRE)
def test_stream(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    chunks, response = api.stream(user(), gen(kind, litellm_proxy, relay))
    assert response.content == TEXT
    assert "".join(c.delta for c in chunks) == TEXT
    assert response.finish_reason == "stop"


def test_anthropic_stream_from_the_mock_route_is_a_document(
    api: API, litellm_proxy: Proxy, relay: CountingRelay
) -> None:
    # LiteLLM's mock /v1/messages answers a JSON message even when a stream was asked for: minillm says so.
    _, error = api.stream_collecting(user(), gen("anthropic", litellm_proxy, relay))
    assert isinstance(error, MalformedResponseError)
    assert "event stream" in str(error)


@pytest.mark.parametrize("kind", OPENAI_WIRE)
def test_tool_call(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    reply = api.complete(user(), gen(kind, litellm_proxy, relay, "mock-tool"))
    assert reply.tool_calls is not None
    [call] = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_peer_1", "get_weather", '{"city": "Paris"}')


@pytest.mark.parametrize("kind", ["openai", "custom", "anthropic"])
def test_complete_costed(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    reply, cost = api.complete_costed(user(), gen(kind, litellm_proxy, relay).with_token_price(PRICE))
    assert reply.text == TEXT
    assert cost.is_known
    assert cost.completion_tokens > 0
    assert cost.cost == pytest.approx((cost.prompt_tokens * 1.0 + cost.completion_tokens * 2.0) / 1e6)


@pytest.mark.parametrize("kind", ["openai", "custom-usage"])
def test_stream_cost(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    costs: list[object] = []
    params = NodeCompletionParameters(cost_callback=costs.append)
    _, response = api.stream(user(), gen(kind, litellm_proxy, relay).with_token_price(PRICE), params)
    assert response.usage is not None and response.usage.completion_tokens > 0
    [cost] = costs
    assert getattr(cost, "is_known", False)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_rate_limit_is_retried_then_raised(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(user(), gen(kind, litellm_proxy, relay, "mock-429"), FAST.with_retry(2))
    assert isinstance(info.value.last_error, RateLimitError)
    assert relay.requests == 3


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_server_error_is_retried_then_raised(api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str) -> None:
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(user(), gen(kind, litellm_proxy, relay, "mock-500"), FAST.with_retry(1))
    assert isinstance(info.value.last_error, ServerError)
    assert relay.requests == 2


def test_a_stream_that_fails_to_start_raises_the_typed_error(
    api: API, litellm_proxy: Proxy, relay: CountingRelay
) -> None:
    _, error = api.stream_collecting(user(), gen("openai", litellm_proxy, relay, "mock-429"), FAST.with_retry(0))
    assert isinstance(error, (RateLimitError, MaxRetriesExceededError))
    cause = error.last_error if isinstance(error, MaxRetriesExceededError) else error
    assert isinstance(cause, RateLimitError)


def test_a_slow_model_times_out(api: API, litellm_proxy: Proxy, relay: CountingRelay) -> None:
    with pytest.raises(MaxRetriesExceededError) as info:
        api.complete(user(), gen("openai", litellm_proxy, relay, "mock-slow"), FAST.with_retry(0).with_timeout(1.0))
    assert isinstance(info.value.last_error, APITimeoutError)


@pytest.mark.parametrize("kind", ["openai", "custom", "custom-usage"])
def test_sequential_streams_and_requests_keep_one_connection(
    api: API, litellm_proxy: Proxy, relay: CountingRelay, kind: str
) -> None:
    g = gen(kind, litellm_proxy, relay)
    for params in (None, NodeCompletionParameters(track_cost=True)):
        for _ in range(3):
            assert api.stream(user(), g, params)[1].content == TEXT
        assert api.complete(user(), g, params).text == TEXT
    assert relay.requests == 8
    assert relay.connections == 1


def test_anthropic_requests_keep_one_connection(api: API, litellm_proxy: Proxy, relay: CountingRelay) -> None:
    g = gen("anthropic", litellm_proxy, relay)
    for _ in range(4):
        assert api.complete(user(), g).text == TEXT
    assert relay.connections == 1
