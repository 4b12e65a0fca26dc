"""The shared completion flow: prompt building, request assembly, post-processing, the new node, costs."""

from __future__ import annotations

from typing import Any

import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    CompletionResponse,
    ConfigurationError,
    CostResolution,
    EmptyResponseError,
    GeneratorInfo,
    InvalidParameterError,
    Message,
    NodeCompletionParameters,
    NoJSONFoundError,
    ProviderSettings,
    Role,
    TokenPrice,
    Usage,
)
from minillm.core.flow import (
    CompletionCall,
    build_prompt,
    cache_warmup_call,
    effective_params,
    merge_extras,
    postprocess,
)

P = NodeCompletionParameters
UNSET = CompletionParameters(max_tokens=None, temperature=None)


def texts(messages: list[Message]) -> list[tuple[str, str | None]]:
    return [(m.role.value, m.text) for m in messages]


# ----- prompt building ----------------------------------------------------------------------------------


def test_prompt_is_formatted_and_merged() -> None:
    root = ChatNode.root("I am {bot}")
    tip = root.add_user("Hello").add_user("from {bot}").set_format_kwarg("bot", "node")
    prompt = build_prompt(tip, P(format_kwargs={"bot": "Claude"}))
    assert texts(prompt) == [("system", "I am Claude"), ("user", "Hello\nfrom node")]


def test_system_prompt_replaces_the_leading_system_message() -> None:
    tip = ChatNode.root("original").add_user("hi")
    assert texts(build_prompt(tip, P(system_prompt="override"))) == [("system", "override"), ("user", "hi")]


def test_system_prompt_is_prepended_when_there_is_none() -> None:
    tip = ChatNode.user("hi")
    assert texts(build_prompt(tip, P(system_prompt="sys"))) == [("system", "sys"), ("user", "hi")]


def test_force_prepend_is_a_separate_trailing_assistant_turn_and_use_cache_marks_it() -> None:
    tip = ChatNode.root("s").add_user("rate it").add_assistant("Thinking")
    prompt = build_prompt(tip, P(force_prepend="Score:", use_cache=True))
    expected = [("system", "s"), ("user", "rate it"), ("assistant", "Thinking"), ("assistant", "Score:")]
    assert texts(prompt) == expected
    assert [m.cache_breakpoint for m in prompt] == [False, False, False, True]


def test_node_cache_marks_reach_the_prompt() -> None:
    root = ChatNode.root("s").cache_breakpoint()
    tip = root.add_user("u")
    assert [m.cache_breakpoint for m in build_prompt(tip, P())] == [True, False]
    root.clear_cache_breakpoint()
    assert [m.cache_breakpoint for m in build_prompt(tip, P())] == [False, False]


def test_effective_params_overlay_the_generator_defaults() -> None:
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1", "m").with_default_params(
        CompletionParameters(max_tokens=1024, temperature=0.1, seed=3)
    )
    assert effective_params(gen, P()) == gen.default_params
    merged = effective_params(gen, P(params=CompletionParameters(temperature=0.3)))
    assert (merged.max_tokens, merged.temperature, merged.seed) == (4096, 0.3, 3)


# ----- extras and request assembly --------------------------------------------------------------------


def test_merge_extras_adds_new_keys_and_refuses_collisions() -> None:
    assert merge_extras({"model": "m"}, {"metadata": {"a": 1}}) == {"model": "m", "metadata": {"a": 1}}
    assert merge_extras({"model": "m"}, None) == {"model": "m"}
    with pytest.raises(InvalidParameterError, match="extra param 'model' collides"):
        merge_extras({"model": "m"}, {"model": "other"})


def test_assemble_request_on_the_openai_wire() -> None:
    gen = (
        GeneratorInfo.openai("gpt-test")
        .with_api_key("sk-test-key")
        .with_base_url("http://127.0.0.1:9/v1/")
        .with_header("X-Custom", "1")
        .with_header("authorization", "Bearer override")
        .with_default_params(UNSET)
    )
    call = CompletionCall(
        ChatNode.root("s").add_user("hi"),
        gen,
        P(params=UNSET.with_extra("metadata", {"k": "v"})),
    )
    request = call.request()
    assert request.method == "POST"
    assert request.url == "http://127.0.0.1:9/v1/chat/completions"
    assert [k.lower() for k, _ in request.headers] == ["content-type", "x-custom", "authorization"]
    assert request.header("Authorization") == "Bearer override"  # a custom header wins
    assert request.json == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}],
        "stream": False,
        "metadata": {"k": "v"},
    }
    assert "sk-test-key" not in repr(request) and "override" not in repr(request)


def test_extra_colliding_with_a_typed_field_is_refused() -> None:
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1", "m")
    call = CompletionCall(ChatNode.user("hi"), gen, P().with_extra("temperature", 1.0))
    with pytest.raises(InvalidParameterError, match="'temperature' collides"):
        call.request()
    unset = P(params=CompletionParameters(temperature=None).with_extra("temperature", 1.0))
    quiet = gen.with_default_params(UNSET)
    assert CompletionCall(ChatNode.user("hi"), quiet, unset).request().json["temperature"] == 1.0


def test_routing_goes_only_to_openrouter() -> None:
    routing = ProviderSettings().with_order(["Anthropic", "OpenAI"]).sort_by_latency().with_fallbacks(False)
    params = P(params=CompletionParameters(temperature=None, max_tokens=None)).with_openrouter_routing(routing)
    node = ChatNode.user("hi")
    on_openrouter = CompletionCall(node, GeneratorInfo.openrouter("m").with_api_key("k"), params).request()
    expected = {"order": ["Anthropic", "OpenAI"], "sort": "latency", "allow_fallbacks": False}
    assert on_openrouter.json["provider"] == expected
    for gen in (GeneratorInfo.openai("m").with_api_key("k"), GeneratorInfo.custom("c", "http://127.0.0.1:1", "m")):
        assert "provider" not in CompletionCall(node, gen, params).request().json


def test_missing_key_fails_before_anything_is_built(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    call = CompletionCall(ChatNode.user("hi"), GeneratorInfo.openai("m"), P())
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        call.request()


def test_usage_is_asked_for_when_tracking_or_a_callback_is_set() -> None:
    gen = GeneratorInfo.openrouter("m").with_api_key("k")
    node = ChatNode.user("hi")
    assert "usage" not in CompletionCall(node, gen, P()).request().json
    assert CompletionCall(node, gen, P(track_cost=True)).request().json["usage"] == {"include": True}
    with_callback = P(cost_callback=lambda info: None)
    assert CompletionCall(node, gen, with_callback).request().json["usage"] == {"include": True}


# ----- post-processing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "params", "expected"),
    [
        ("as is", P(), "as is"),
        ("8/10", P(force_prepend="Score: "), "Score: 8/10"),
        ("Score: 8/10", P(force_prepend="Score: "), "Score: 8/10"),
        ("hi", P(crash_on_empty_response=True), "hi"),
        ("{'a': 1,}", P(parse_json=True), '{"a": 1}'),
        ("no json here", P(parse_json=True), ""),
        ('Sure: {"ok": true}', P(parse_json=True, crash_on_refusal=True), '{"ok": true}'),
    ],
)
def test_postprocess(text: str, params: NodeCompletionParameters, expected: str) -> None:
    assert postprocess(text, params) == expected


def test_postprocess_rejections() -> None:
    with pytest.raises(EmptyResponseError):
        postprocess("   \n ", P(crash_on_empty_response=True))
    with pytest.raises(NoJSONFoundError):
        postprocess("I can't help. {}", P(parse_json=True, crash_on_refusal=True))
    with pytest.raises(NoJSONFoundError):
        postprocess("nothing", P(parse_json=True, crash_on_refusal=True))


# ----- accepting a reply and its cost -----------------------------------------------------------------


def response(**kw: Any) -> CompletionResponse:
    base: dict[str, Any] = {"id": "r1", "model": "m1", "content": "8/10", "finish_reason": "stop"}
    base.update(kw)
    return CompletionResponse(**base)


def test_accept_builds_the_assistant_node() -> None:
    user = ChatNode.root("s").add_user("rate")
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1", "m")
    node = CompletionCall(user, gen, P(force_prepend="Score: ")).accept(response(usage=Usage(1, 0, 0, 2)))
    assert node.parent is user and user.children == [node] and node.role is Role.ASSISTANT
    assert node.text == "Score: 8/10"
    assert node.metadata["response_id"] == "r1" and node.metadata["model"] == "m1"
    assert node.metadata["usage"]["completion_tokens"] == 2 and node.metadata["finish_reason"] == "stop"


def test_accept_with_add_child_off_makes_a_phantom() -> None:
    user = ChatNode.root("s").add_user("rate")
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1", "m")
    node = CompletionCall(user, gen, P(add_child=False)).accept(response())
    assert node.parent is user and user.is_leaf()


def test_cost_from_usage_honours_the_request_price() -> None:
    gen = GeneratorInfo.custom("x", "http://127.0.0.1:1", "m").with_token_price(TokenPrice(1, 5))
    user = ChatNode.user("u")
    usage = Usage(uncached_input_tokens=1_000_000, completion_tokens=1_000_000)
    info = CompletionCall(user, gen).cost_from_usage(response(usage=usage))
    assert info.cost == pytest.approx(6.0) and info.resolution is CostResolution.RESOLVED
    request_price = P(token_price=TokenPrice(3, 15))
    info = CompletionCall(user, gen, request_price).cost_from_usage(response(usage=usage))
    assert info.cost == pytest.approx(18.0)
    unpriced = CompletionCall(user, GeneratorInfo.custom("x", "http://127.0.0.1:1", "m"))
    info = unpriced.cost_from_usage(response(usage=usage))
    assert info.resolution is CostResolution.UNPRICED and info.cost == 0.0 and info.total_tokens == 2_000_000
    assert unpriced.cost_from_usage(response()).resolution is CostResolution.UNKNOWN


def test_cost_lookup_only_where_the_wire_has_one() -> None:
    user = ChatNode.user("u")
    openrouter = CompletionCall(user, GeneratorInfo.openrouter("m").with_api_key("sk-or-test"))
    lookup = openrouter.cost_lookup(response(id="gen-9"))
    assert lookup is not None and lookup.request.method == "GET"
    assert lookup.request.url == "https://openrouter.ai/api/v1/generation?id=gen-9"
    assert lookup.request.header("Authorization") == "Bearer sk-or-test"
    assert openrouter.cost_lookup(response(id="")) is None  # no id, nothing to ask about
    assert openrouter.cost_lookup(response(id="gen-9", usage=Usage(1, 0, 0, 1))) is None  # usage already known
    record = b'{"data": {"tokens_prompt": 30, "tokens_completion": 1800, "total_cost": 0.000723}}'
    found = lookup.parse(200, {}, record)
    assert found is not None and found.cost == pytest.approx(0.000723) and found.resolution is CostResolution.RESOLVED
    assert lookup.parse(404, {}, b"{}") is None and lookup.parse(200, {}, b"<html>") is None
    assert lookup.parse(200, {}, b'{"data": {"tokens_prompt": 1}}') is None  # not there yet
    openai = CompletionCall(user, GeneratorInfo.openai("m").with_api_key("k"))
    assert openai.cost_lookup(response(id="chatcmpl-1")) is None


def test_cache_warmup_call() -> None:
    gen = GeneratorInfo.anthropic("claude-test").with_api_key("k")
    user = ChatNode.root("long system prompt").add_user("hi")
    call = cache_warmup_call(user, gen, P(retry=7))
    assert call.params.retry == 0 and call.include_usage and not call.stream
    body = call.request().json
    assert body["max_tokens"] == 0
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_claude_subscription_request_reads_its_credential_at_each_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sk-ant-oat01-first")
    gen = GeneratorInfo.claude_subscription("claude-test")
    call = CompletionCall(ChatNode.root("s").add_user("hi"), gen)
    first = call.request()
    assert first.url == "https://api.anthropic.com/v1/messages"
    assert first.header("Authorization") == "Bearer sk-ant-oat01-first"
    assert first.header("anthropic-beta") == "oauth-2025-04-20"
    assert first.header("anthropic-version") == "2023-06-01"
    assert first.header("x-api-key") is None
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sk-ant-oat01-refreshed")
    assert call.request().header("Authorization") == "Bearer sk-ant-oat01-refreshed"
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN")
    with pytest.raises(ConfigurationError, match="ANTHROPIC_AUTH_TOKEN") as info:
        call.request()
    assert ".credentials.json" in str(info.value)


def test_anthropic_preset_uses_the_api_key_header() -> None:
    gen = GeneratorInfo.anthropic("claude-test").with_api_key("sk-ant-api-test")
    request = CompletionCall(ChatNode.root("s").add_user("hi"), gen).request()
    assert request.header("x-api-key") == "sk-ant-api-test" and request.header("Authorization") is None
    assert request.json["system"] == "s" and request.json["messages"] == [{"role": "user", "content": "hi"}]
    assert request.json["max_tokens"] == 4096 and request.json["stream"] is False
