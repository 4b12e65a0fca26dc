"""CompletionParameters, NodeCompletionParameters, ProviderSettings and friends."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from minillm.core.errors import InvalidParameterError
from minillm.core.params import (
    CompletionParameters,
    NodeCompletionParameters,
    ProviderSettings,
    ReasoningConfig,
    ResponseFormat,
)
from minillm.core.tools import ToolChoice, ToolDefinition
from minillm.core.usage import CostInfo, TokenPrice, unknown_cost
from minillm.testing import MockLLMServer
from tests.conftest import API

T1, T2, T3 = ToolDefinition("t1"), ToolDefinition("t2"), ToolDefinition("t3")

# --- small values ------------------------------------------------------------------------------------------


def test_reasoning_config_omits_unset_keys() -> None:
    assert ReasoningConfig().to_dict() == {}
    assert ReasoningConfig(effort="high").to_dict() == {"effort": "high"}
    assert ReasoningConfig(max_tokens=2000, exclude=True).to_dict() == {"max_tokens": 2000, "exclude": True}
    full = ReasoningConfig("low", 10, False)
    assert full.to_dict() == {"effort": "low", "max_tokens": 10, "exclude": False}
    assert ReasoningConfig.from_dict(full.to_dict()) == full


def test_reasoning_config_validates() -> None:
    with pytest.raises(InvalidParameterError):
        ReasoningConfig(max_tokens=-1)
    with pytest.raises(InvalidParameterError):
        ReasoningConfig(exclude="yes")  # type: ignore[arg-type]


def test_response_format_forms() -> None:
    assert ResponseFormat.JSON_OBJECT.to_dict() == {"type": "json_object"}
    assert ResponseFormat.JSON_OBJECT.to_settings() == "jsonObject"
    assert ResponseFormat.from_settings("jsonObject") is ResponseFormat.JSON_OBJECT
    with pytest.raises(InvalidParameterError, match="jsonObject"):
        ResponseFormat.from_settings("yaml")


# --- ProviderSettings --------------------------------------------------------------------------------------


def test_provider_settings_empty_is_empty_object() -> None:
    assert ProviderSettings().to_dict() == {}


def test_provider_settings_wire_example() -> None:
    s = ProviderSettings().with_order(["Anthropic", "OpenAI"]).sort_by_latency().with_fallbacks(False)
    assert s.to_dict() == {"order": ["Anthropic", "OpenAI"], "sort": "latency", "allow_fallbacks": False}
    assert list(s.to_dict()) == ["order", "sort", "allow_fallbacks"]


def test_provider_settings_every_builder() -> None:
    base = ProviderSettings()
    assert base.sort_by_price().sort == "price"
    assert base.sort_by_throughput().sort == "throughput"
    assert base.sort_by_latency().sort == "latency"
    assert base.with_ignore(["Azure"]).ignore == ("Azure",)
    assert base.deny_data_collection().data_collection == "deny"
    assert base.allow_data_collection().data_collection == "allow"
    assert base.with_fallbacks(True).allow_fallbacks is True
    assert base.with_require_parameters(True).require_parameters is True
    assert base.with_order(["A"]).order == ("A",)
    assert base == ProviderSettings()  # builders returned copies
    full = (
        base.with_order(["A", "B"])
        .sort_by_price()
        .with_ignore(["C"])
        .deny_data_collection()
        .with_fallbacks(True)
        .with_require_parameters(False)
    )
    assert full.to_dict() == {
        "order": ["A", "B"],
        "sort": "price",
        "ignore": ["C"],
        "data_collection": "deny",
        "allow_fallbacks": True,
        "require_parameters": False,
    }
    assert ProviderSettings.from_dict(full.to_dict()) == full


def test_provider_settings_order_is_copied() -> None:
    order = ["A"]
    s = ProviderSettings().with_order(order)
    order.append("B")
    assert s.order == ("A",)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (ProviderSettings(order=["Anthropic"], allow_fallbacks=False), "Anthropic"),
        (ProviderSettings(order=["Anthropic"]), None),
        (ProviderSettings(order=["Anthropic"], allow_fallbacks=True), None),
        (ProviderSettings(order=["Anthropic", "OpenAI"], allow_fallbacks=False), None),
        (ProviderSettings(order=[], allow_fallbacks=False), None),
        (ProviderSettings(sort="price", allow_fallbacks=False), None),
        (ProviderSettings(), None),
    ],
)
def test_billing_provider(settings: ProviderSettings, expected: str | None) -> None:
    assert settings.billing_provider() == expected


def test_provider_settings_rejects_unknown_choices() -> None:
    with pytest.raises(InvalidParameterError, match="sort"):
        ProviderSettings(sort="cheapest")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="data_collection"):
        ProviderSettings(data_collection="maybe")  # type: ignore[arg-type]


# --- CompletionParameters ----------------------------------------------------------------------------------


def test_completion_parameter_defaults() -> None:
    p = CompletionParameters()
    assert p.max_tokens == 4096
    assert p.temperature == pytest.approx(0.7)
    for name in (
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "stop",
        "seed",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "extra",
    ):
        assert getattr(p, name) is None, name


def test_completion_parameters_are_frozen_and_keyword_only() -> None:
    p = CompletionParameters()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.temperature = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        CompletionParameters(1024)  # type: ignore[call-arg]


def test_completion_builders_set_their_field_and_return_copies() -> None:
    base = CompletionParameters()
    reasoning = ReasoningConfig(effort="high")
    cases: list[tuple[CompletionParameters, str, Any]] = [
        (base.with_max_tokens(100), "max_tokens", 100),
        (base.with_max_tokens(None), "max_tokens", None),
        (base.with_temperature(0.2), "temperature", 0.2),
        (base.with_temperature(None), "temperature", None),
        (base.with_top_p(0.9), "top_p", 0.9),
        (base.with_top_k(40), "top_k", 40),
        (base.with_frequency_penalty(0.5), "frequency_penalty", 0.5),
        (base.with_presence_penalty(-0.5), "presence_penalty", -0.5),
        (base.with_repetition_penalty(1.1), "repetition_penalty", 1.1),
        (base.with_stop(["END", "STOP"]), "stop", ("END", "STOP")),
        (base.with_stop("\n"), "stop", ("\n",)),
        (base.with_seed(7), "seed", 7),
        (base.with_json_response(), "response_format", ResponseFormat.JSON_OBJECT),
        (base.with_reasoning(reasoning), "reasoning", reasoning),
        (base.with_tools([T1, T2]), "tools", (T1, T2)),
        (base.with_tool_choice("auto"), "tool_choice", ToolChoice.auto()),
        (base.with_parallel_tool_calls(False), "parallel_tool_calls", False),
        (base.with_extra("provider", {"order": ["A"]}), "extra", {"provider": {"order": ["A"]}}),
        (base.with_extras({"a": 1, "b": 2}), "extra", {"a": 1, "b": 2}),
    ]
    for params, name, expected in cases:
        assert getattr(params, name) == expected, name
    assert base == CompletionParameters()


def test_with_tool_appends_and_with_tools_replaces() -> None:
    p = CompletionParameters().with_tool(T1).with_tool(T2)
    assert p.tools == (T1, T2)
    assert p.with_tools([T3]).tools == (T3,)


def test_with_extra_inserts_and_with_extras_replaces() -> None:
    p = CompletionParameters().with_extra("a", 1).with_extra("b", 2).with_extra("a", 3)
    assert dict(p.extra or {}) == {"a": 3, "b": 2}
    assert dict(p.with_extras({"z": 0}).extra or {}) == {"z": 0}
    assert p.with_extras(None).extra is None


def test_extra_is_an_immutable_copy() -> None:
    source: dict[str, Any] = {"a": 1}
    p = CompletionParameters(extra=source)
    source["b"] = 2
    assert dict(p.extra or {}) == {"a": 1}
    with pytest.raises(TypeError):
        p.extra["c"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", -5),
        ("max_tokens", 1.5),
        ("max_tokens", True),
        ("temperature", -0.1),
        ("temperature", math.nan),
        ("temperature", "hot"),
        ("top_p", 1.5),
        ("top_k", -1),
        ("frequency_penalty", math.inf),
        ("seed", "7"),
        ("response_format", "json_object"),
        ("parallel_tool_calls", 1),
        ("reasoning", {"effort": "high"}),
        ("stop", [1, 2]),
    ],
)
def test_completion_parameters_reject_bad_values(field: str, value: Any) -> None:
    with pytest.raises(InvalidParameterError, match=field):
        CompletionParameters(**{field: value})
    with pytest.raises(ValueError):  # InvalidParameterError is a ValueError too
        attrs.evolve(CompletionParameters(), **{field: value})


def test_merge_reference_example() -> None:
    base = CompletionParameters(max_tokens=1024, temperature=0.7)
    other = CompletionParameters().with_temperature(0.3).with_top_p(0.9)
    merged = base.merge(other)
    assert merged.max_tokens == 4096  # other's default counts as set
    assert merged.temperature == pytest.approx(0.3)
    assert merged.top_p == pytest.approx(0.9)


def test_merge_keeps_base_values_the_other_leaves_unset() -> None:
    base = CompletionParameters(max_tokens=1024, temperature=0.1, seed=3, stop=["X"])
    other = CompletionParameters(max_tokens=None, temperature=None, top_k=5)
    merged = base.merge(other)
    assert (merged.max_tokens, merged.temperature, merged.seed, merged.stop, merged.top_k) == (
        1024,
        0.1,
        3,
        ("X",),
        5,
    )


def test_merge_unions_extras_with_the_other_winning() -> None:
    base = CompletionParameters(extra={"a": 1, "b": 1})
    other = CompletionParameters(extra={"b": 2, "c": 2})
    assert dict(base.merge(other).extra or {}) == {"a": 1, "b": 2, "c": 2}
    assert dict(CompletionParameters().merge(other).extra or {}) == {"b": 2, "c": 2}
    assert dict(base.merge(CompletionParameters()).extra or {}) == {"a": 1, "b": 1}
    assert CompletionParameters().merge(CompletionParameters()).extra is None


def test_settings_reference_example() -> None:
    p = CompletionParameters.from_settings(
        {
            "maxTokens": 1024,
            "temperature": 0.25,
            "topP": 0.9,
            "frequencyPenalty": 0.5,
            "seed": 7,
            "somebodyElsesKey": True,
        }
    )
    assert p.max_tokens == 1024
    assert p.temperature == pytest.approx(0.25)
    assert p.top_p == pytest.approx(0.9)
    assert p.frequency_penalty == pytest.approx(0.5)
    assert p.seed == 7
    assert p.presence_penalty is None


def test_settings_empty_object_gives_defaults_and_null_unsets() -> None:
    assert CompletionParameters.from_settings({}) == CompletionParameters()
    p = CompletionParameters.from_settings({"maxTokens": None, "temperature": None})
    assert p.max_tokens is None
    assert p.temperature is None


def test_settings_nested_values() -> None:
    p = CompletionParameters.from_settings(
        {
            "responseFormat": "jsonObject",
            "reasoning": {"effort": "low", "max_tokens": 100, "exclude": True},
            "stop": ["a", "b"],
            "parallelToolCalls": False,
            "extra": {"provider": {"sort": "price"}},
        }
    )
    assert p.response_format is ResponseFormat.JSON_OBJECT
    assert p.reasoning == ReasoningConfig(effort="low", max_tokens=100, exclude=True)
    assert p.stop == ("a", "b")
    assert p.parallel_tool_calls is False
    assert dict(p.extra or {}) == {"provider": {"sort": "price"}}


def test_settings_round_trip_and_defaults_are_left_out() -> None:
    assert CompletionParameters().to_settings() == {}
    assert CompletionParameters(max_tokens=None).to_settings() == {"maxTokens": None}
    p = (
        CompletionParameters(max_tokens=512, top_k=3, presence_penalty=0.1, repetition_penalty=1.05)
        .with_temperature(0.0)
        .with_stop(["END"])
        .with_seed(1)
        .with_json_response()
        .with_reasoning(ReasoningConfig(effort="minimal"))
        .with_parallel_tool_calls(True)
        .with_extra("k", [1, 2])
    )
    settings = p.to_settings()
    assert settings["maxTokens"] == 512
    assert settings["responseFormat"] == "jsonObject"
    assert settings["reasoning"] == {"effort": "minimal"}
    assert settings["stop"] == ["END"]
    assert settings["extra"] == {"k": [1, 2]}
    assert CompletionParameters.from_settings(settings) == p


def test_settings_bad_values_raise() -> None:
    with pytest.raises(InvalidParameterError):
        CompletionParameters.from_settings({"maxTokens": "many"})
    with pytest.raises(InvalidParameterError):
        CompletionParameters.from_settings({"responseFormat": "text"})
    with pytest.raises(InvalidParameterError):
        CompletionParameters.from_settings([1, 2])  # type: ignore[arg-type]


# --- NodeCompletionParameters ------------------------------------------------------------------------------


def test_node_parameter_defaults() -> None:
    n = NodeCompletionParameters()
    assert n.params is None
    assert n.system_prompt is None
    assert dict(n.format_kwargs) == {}
    assert n.add_child is True
    assert n.parse_json is False
    assert n.use_cache is False
    assert n.force_prepend is None
    assert n.retry == 4
    assert n.exp_back_off is False
    assert n.back_off_time == 1.0
    assert n.max_back_off == 15.0
    assert n.crash_on_refusal is False
    assert n.crash_on_empty_response is False
    assert n.timeout_secs is None
    assert n.track_cost is False
    assert n.token_price is None
    assert n.cost_callback is None
    assert n.openrouter_routing is None


def test_node_parameters_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        NodeCompletionParameters(CompletionParameters())  # type: ignore[call-arg]


def _callback(info: CostInfo) -> None:
    return None


def test_node_builders_set_their_field_and_return_copies() -> None:
    base = NodeCompletionParameters()
    params = CompletionParameters(temperature=0.2)
    price = TokenPrice(1, 2)
    routing = ProviderSettings().sort_by_price()
    cases: list[tuple[NodeCompletionParameters, str, Any]] = [
        (base.with_params(params), "params", params),
        (base.with_system_prompt("Be brief."), "system_prompt", "Be brief."),
        (base.with_add_child(False), "add_child", False),
        (base.with_parse_json(True), "parse_json", True),
        (base.expecting_json(), "parse_json", True),
        (base.with_cache(True), "use_cache", True),
        (base.with_force_prepend("{"), "force_prepend", "{"),
        (base.with_retry(0), "retry", 0),
        (base.with_exp_back_off(True), "exp_back_off", True),
        (base.with_back_off_time(0.5), "back_off_time", 0.5),
        (base.with_max_back_off(30.0), "max_back_off", 30.0),
        (base.with_crash_on_refusal(True), "crash_on_refusal", True),
        (base.with_crash_on_empty(True), "crash_on_empty_response", True),
        (base.with_timeout(12.5), "timeout_secs", 12.5),
        (base.with_timeout(0), "timeout_secs", 0),
        (base.with_cost_tracking(True), "track_cost", True),
        (base.with_token_price(price), "token_price", price),
        (base.with_cost_callback(_callback), "cost_callback", _callback),
        (base.with_openrouter_routing(routing), "openrouter_routing", routing),
    ]
    for node_params, name, expected in cases:
        assert getattr(node_params, name) == expected, name
    assert base == NodeCompletionParameters()


def test_format_kwargs_builders_and_immutability() -> None:
    source = {"who": "Alice"}
    n = NodeCompletionParameters().with_format_kwargs(source)
    source["who"] = "Mallory"
    assert dict(n.format_kwargs) == {"who": "Alice"}
    n2 = n.with_format_kwarg("where", "Paris").with_format_kwarg("who", "Bob")
    assert dict(n2.format_kwargs) == {"who": "Bob", "where": "Paris"}
    assert dict(n.format_kwargs) == {"who": "Alice"}
    assert dict(n2.with_format_kwargs({"x": "y"}).format_kwargs) == {"x": "y"}
    with pytest.raises(TypeError):
        n.format_kwargs["x"] = "y"  # type: ignore[index]
    with pytest.raises(InvalidParameterError, match="format kwarg"):
        NodeCompletionParameters(format_kwargs={"n": 3})  # type: ignore[dict-item]


def test_with_extra_without_params_leaves_generator_defaults_alone() -> None:
    n = NodeCompletionParameters().with_extra("metadata", {"user": "u1"})
    assert n.params is not None
    assert dict(n.params.extra or {}) == {"metadata": {"user": "u1"}}
    assert n.params.max_tokens is None
    assert n.params.temperature is None
    generator_defaults = CompletionParameters(max_tokens=1024, temperature=0.1)
    merged = generator_defaults.merge(n.params)
    assert (merged.max_tokens, merged.temperature) == (1024, 0.1)


def test_with_extra_adds_to_existing_params() -> None:
    n = NodeCompletionParameters(params=CompletionParameters(temperature=0.3)).with_extra("k", 1).with_extra("j", 2)
    assert n.params is not None
    assert n.params.temperature == pytest.approx(0.3)
    assert dict(n.params.extra or {}) == {"k": 1, "j": 2}


def test_openrouter_routing_is_kept_out_of_extras() -> None:
    routing = ProviderSettings().with_order(["Anthropic"]).with_fallbacks(False)
    n = NodeCompletionParameters(params=CompletionParameters()).with_openrouter_routing(routing)
    assert n.openrouter_routing == routing
    assert n.params is not None
    assert n.params.extra is None


def test_cost_callback_receives_cost_info() -> None:
    seen: list[CostInfo] = []
    n = NodeCompletionParameters().with_cost_callback(seen.append)
    assert n.cost_callback is not None
    n.cost_callback(unknown_cost("m", "r"))
    assert seen[0].model == "m"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retry", -1),
        ("retry", 1.5),
        ("back_off_time", -0.1),
        ("max_back_off", math.nan),
        ("timeout_secs", -1),
        ("add_child", "no"),
        ("system_prompt", 42),
        ("cost_callback", "not callable"),
        ("token_price", 3.0),
        ("params", {"temperature": 0.1}),
        ("openrouter_routing", {"sort": "price"}),
    ],
)
def test_node_parameters_reject_bad_values(field: str, value: Any) -> None:
    with pytest.raises(InvalidParameterError, match=field):
        NodeCompletionParameters(**{field: value})


def test_negative_retry_through_builder_raises() -> None:
    with pytest.raises(InvalidParameterError, match="retry"):
        NodeCompletionParameters().with_retry(-1)


def test_zero_max_tokens_is_allowed_for_cache_warm_ups() -> None:
    # ensure_cached warms the cache with a request for no tokens at all
    assert CompletionParameters(max_tokens=0).max_tokens == 0


def test_model_parameters_passed_where_node_parameters_go_get_a_clear_error(
    api: API, llm_server: MockLLMServer
) -> None:
    from minillm import ChatNode

    gen = llm_server.generator("openai", "m")
    with pytest.raises(InvalidParameterError, match=r"NodeCompletionParameters\(params=CompletionParameters"):
        api.complete(ChatNode.user("Hi"), gen, CompletionParameters(temperature=0.1))  # type: ignore[arg-type]
    assert llm_server.requests == []
