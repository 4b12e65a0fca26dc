"""Usage buckets, token prices and cost resolution."""

from __future__ import annotations

import math

import attrs
import pytest

from minillm.core.errors import InvalidParameterError
from minillm.core.usage import (
    CostInfo,
    CostResolution,
    TokenPrice,
    Usage,
    cost_info_from_usage,
    unknown_cost,
)

# --- Usage -------------------------------------------------------------------------------------------------


def test_usage_defaults_are_zero_counts_and_no_costs() -> None:
    u = Usage()
    assert (u.uncached_input_tokens, u.cache_read_tokens, u.cache_write_tokens, u.completion_tokens) == (0, 0, 0, 0)
    assert u.cost is None
    assert u.upstream_inference_cost is None
    assert u.reasoning_tokens is None
    assert u.prompt_tokens == 0
    assert u.total_tokens == 0


def test_anthropic_example_buckets() -> None:
    # {"input_tokens":9,"output_tokens":4,"cache_read_input_tokens":2}
    u = Usage(uncached_input_tokens=9, cache_read_tokens=2, completion_tokens=4)
    assert u.uncached_input_tokens == 9
    assert u.cache_read_tokens == 2
    assert u.cache_write_tokens == 0
    assert u.prompt_tokens == 11
    assert u.completion_tokens == 4
    assert u.total_tokens == 15
    assert u.cost is None


def test_prompt_tokens_sum_all_three_input_buckets_and_reasoning_is_not_added() -> None:
    u = Usage(100, 20, 5, 7, reasoning_tokens=3)
    assert u.prompt_tokens == 125
    assert u.total_tokens == 132


def test_usage_to_dict_has_every_key_in_order_with_nulls() -> None:
    d = Usage(uncached_input_tokens=6, cache_read_tokens=4, completion_tokens=5).to_dict()
    assert list(d) == [
        "uncached_input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "completion_tokens",
        "cost",
        "upstream_inference_cost",
        "reasoning_tokens",
    ]
    assert d == {
        "uncached_input_tokens": 6,
        "cache_read_tokens": 4,
        "cache_write_tokens": 0,
        "completion_tokens": 5,
        "cost": None,
        "upstream_inference_cost": None,
        "reasoning_tokens": None,
    }


def test_usage_round_trips_through_dict() -> None:
    u = Usage(1, 2, 3, 4, cost=0.5, upstream_inference_cost=0.25, reasoning_tokens=9)
    assert Usage.from_dict(u.to_dict()) == u
    assert Usage.from_dict({}) == Usage()


def test_usage_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Usage().completion_tokens = 3  # type: ignore[misc]


# --- TokenPrice --------------------------------------------------------------------------------------------


def test_price_one_million_in_and_out() -> None:
    usage = Usage(uncached_input_tokens=1_000_000, completion_tokens=1_000_000)
    assert TokenPrice(3, 15).cost_of(usage) == pytest.approx(18.0)
    assert TokenPrice(1, 5).cost_of(usage) == pytest.approx(6.0)


def test_price_with_cache_rates() -> None:
    price = TokenPrice(3, 15).with_cache_rates(0.3, 3.75)
    usage = Usage(uncached_input_tokens=200_000, cache_read_tokens=800_000, cache_write_tokens=100_000)
    assert price.cost_of(usage) == pytest.approx(1.215)


def test_unset_cache_rates_fall_back_to_the_input_rate() -> None:
    price = TokenPrice(2, 0)
    assert price.read_rate == 2
    assert price.write_rate == 2
    usage = Usage(cache_read_tokens=1_000_000, cache_write_tokens=1_000_000)
    assert price.cost_of(usage) == pytest.approx(4.0)


def test_with_cache_rates_returns_a_copy() -> None:
    base = TokenPrice(3, 15)
    cached = base.with_cache_rates(0.3, 3.75)
    assert base.cache_read_per_mtok is None
    assert base.cache_write_per_mtok is None
    assert (cached.cache_read_per_mtok, cached.cache_write_per_mtok) == (0.3, 3.75)
    assert (cached.input_per_mtok, cached.output_per_mtok) == (3, 15)


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "3", True])
def test_price_rejects_bad_rates(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="input_per_mtok"):
        TokenPrice(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="cache_read_per_mtok"):
        TokenPrice(1, 1).with_cache_rates(bad, 1)  # type: ignore[arg-type]


# --- CostResolution / CostInfo -----------------------------------------------------------------------------


def test_resolution_values_are_the_reference_strings() -> None:
    assert CostResolution.RESOLVED.value == "Resolved"
    assert CostResolution.UNPRICED.value == "Unpriced"
    assert CostResolution.UNKNOWN.value == "Unknown"
    assert CostResolution("Unpriced") is CostResolution.UNPRICED


def test_native_cost_plus_upstream_is_resolved() -> None:
    usage = Usage(uncached_input_tokens=5, completion_tokens=2, cost=0.001, upstream_inference_cost=0.009)
    info = cost_info_from_usage(usage, None, model="m", response_id="gen-1")
    assert info.resolution is CostResolution.RESOLVED
    assert info.is_known
    assert info.cost == pytest.approx(0.010)
    assert info.total_tokens == 7
    assert (info.prompt_tokens, info.completion_tokens) == (5, 2)
    assert (info.model, info.response_id) == ("m", "gen-1")


def test_native_cost_wins_over_a_price() -> None:
    usage = Usage(uncached_input_tokens=1_000_000, completion_tokens=1_000_000, cost=0.25)
    info = cost_info_from_usage(usage, TokenPrice(3, 15), model="m", response_id="r")
    assert info.cost == pytest.approx(0.25)
    assert info.resolution is CostResolution.RESOLVED


def test_native_zero_cost_is_a_real_zero() -> None:
    info = cost_info_from_usage(Usage(uncached_input_tokens=3, cost=0.0), None, model="m", response_id="r")
    assert info.resolution is CostResolution.RESOLVED
    assert info.cost == 0.0
    assert info.known_cost == 0.0


def test_openrouter_usage_example() -> None:
    # prompt 10 of which 4 cached, completion 5, cost 0.001, upstream 0.009, reasoning 2
    usage = Usage(
        uncached_input_tokens=6,
        cache_read_tokens=4,
        completion_tokens=5,
        cost=0.001,
        upstream_inference_cost=0.009,
        reasoning_tokens=2,
    )
    info = cost_info_from_usage(usage, None, model="m", response_id="r")
    assert info.prompt_tokens == 10
    assert info.cache_read_tokens == 4
    assert info.reasoning_tokens == 2
    assert info.cost == pytest.approx(0.010)
    assert info.resolution is CostResolution.RESOLVED


def test_price_gives_resolved_tokens_times_price() -> None:
    usage = Usage(uncached_input_tokens=1_000_000, completion_tokens=1_000_000)
    info = cost_info_from_usage(usage, TokenPrice(1, 5), model="claude", response_id="msg_1")
    assert info.resolution is CostResolution.RESOLVED
    assert info.cost == pytest.approx(6.0)
    assert info.prompt_tokens == 1_000_000
    assert info.completion_tokens == 1_000_000
    assert info.total_tokens == 2_000_000


def test_no_native_cost_and_no_price_is_unpriced_not_free() -> None:
    usage = Usage(uncached_input_tokens=10, cache_read_tokens=2, cache_write_tokens=1, completion_tokens=4)
    info = cost_info_from_usage(usage, None, model="m", response_id="r")
    assert info.resolution is CostResolution.UNPRICED
    assert info.cost == 0.0
    assert not info.is_known
    assert info.known_cost is None
    assert (info.prompt_tokens, info.completion_tokens, info.total_tokens) == (13, 4, 17)
    assert (info.cache_read_tokens, info.cache_write_tokens) == (2, 1)


def test_unknown_cost_has_zeros_and_keeps_ids() -> None:
    info = unknown_cost("model-x", "")
    assert info.resolution is CostResolution.UNKNOWN
    assert not info.is_known
    assert info.known_cost is None
    assert info.cost == 0.0
    assert (info.prompt_tokens, info.completion_tokens, info.total_tokens) == (0, 0, 0)
    assert (info.cache_read_tokens, info.cache_write_tokens, info.reasoning_tokens) == (0, 0, None)
    assert (info.model, info.response_id) == ("model-x", "")


def test_cost_info_defaults_to_resolved_and_serializes_resolution_as_string() -> None:
    info = CostInfo(cost=1.5, prompt_tokens=1, completion_tokens=2, total_tokens=3)
    assert info.resolution is CostResolution.RESOLVED
    d = unknown_cost("m", "r").to_dict()
    assert d["resolution"] == "Unknown"
    assert list(d) == [
        "cost",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "model",
        "response_id",
        "resolution",
        "price_source",
        "price_date",
    ]
