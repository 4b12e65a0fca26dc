"""Token usage, prices and the cost of one completion.

``Usage`` keeps the input side as three disjoint, additive buckets (uncached, cache read, cache write), so a
price can be applied bucket by bucket whatever the provider. ``CostInfo`` is what a cost callback receives;
its ``resolution`` says whether ``cost`` is a real figure: ``UNPRICED`` and ``UNKNOWN`` carry ``cost == 0.0``
that must never be read as "free".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from minillm.core import _validators as _v
from minillm.core.errors import InvalidParameterError

__all__ = [
    "CostInfo",
    "CostResolution",
    "TokenPrice",
    "Usage",
    "cost_info_from_usage",
    "unknown_cost",
]

_PER_MILLION = 1_000_000.0


@attrs.frozen
class Usage:
    """Tokens a completion used, normalized across providers, plus any cost the provider reported.

    The input buckets are disjoint: ``prompt_tokens`` is their sum. ``cost`` is the provider's own USD
    figure (OpenRouter), ``upstream_inference_cost`` the upstream charge of a bring-your-own-key request.
    ``reasoning_tokens`` is informational and already counted in ``completion_tokens``.
    """

    uncached_input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    upstream_inference_cost: float | None = None
    reasoning_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        """Every input token: uncached + cache read + cache write."""
        return self.uncached_input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (reasoning tokens are part of the output already)."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a node's ``usage`` metadata; every key present, absent values ``None``."""
        return {
            "uncached_input_tokens": self.uncached_input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "upstream_inference_cost": self.upstream_inference_cost,
            "reasoning_tokens": self.reasoning_tokens,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Read the form ``to_dict`` writes; missing or null counts are 0, missing costs ``None``."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"usage must be a JSON object, not {type(data).__name__}")
        return cls(
            uncached_input_tokens=data.get("uncached_input_tokens") or 0,
            cache_read_tokens=data.get("cache_read_tokens") or 0,
            cache_write_tokens=data.get("cache_write_tokens") or 0,
            completion_tokens=data.get("completion_tokens") or 0,
            cost=data.get("cost"),
            upstream_inference_cost=data.get("upstream_inference_cost"),
            reasoning_tokens=data.get("reasoning_tokens"),
        )


_RATE = _v.number_in(0, optional=False, unit=" of USD per million tokens")
_OPTIONAL_RATE = _v.number_in(0, unit=" of USD per million tokens")


@attrs.frozen
class TokenPrice:
    """A model's price in USD per **million** tokens.

    Cache rates are optional; an unset one falls back to the input rate, so a price without cache rates
    charges cached tokens like any other input token.
    """

    input_per_mtok: float = attrs.field(validator=_RATE)
    output_per_mtok: float = attrs.field(validator=_RATE)
    cache_read_per_mtok: float | None = attrs.field(default=None, kw_only=True, validator=_OPTIONAL_RATE)
    cache_write_per_mtok: float | None = attrs.field(default=None, kw_only=True, validator=_OPTIONAL_RATE)

    def with_cache_rates(self, read_per_mtok: float, write_per_mtok: float) -> TokenPrice:
        """A copy with cache read and cache write rates (USD per million tokens)."""
        return attrs.evolve(self, cache_read_per_mtok=read_per_mtok, cache_write_per_mtok=write_per_mtok)

    @property
    def read_rate(self) -> float:
        """The cache-read rate in effect: the one set, else the input rate."""
        return self.input_per_mtok if self.cache_read_per_mtok is None else self.cache_read_per_mtok

    @property
    def write_rate(self) -> float:
        """The cache-write rate in effect: the one set, else the input rate."""
        return self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok

    def cost_of(self, usage: Usage) -> float:
        """The USD cost of ``usage`` at this price, bucket by bucket."""
        micro_usd = (
            usage.uncached_input_tokens * self.input_per_mtok
            + usage.cache_read_tokens * self.read_rate
            + usage.cache_write_tokens * self.write_rate
            + usage.completion_tokens * self.output_per_mtok
        )
        return micro_usd / _PER_MILLION


class CostResolution(str, enum.Enum):
    """How a ``CostInfo.cost`` was obtained, and so whether it can be trusted.

    ``RESOLVED``: a real figure (the provider's own cost, or tokens times a known price; 0.0 here is truly
    free). ``UNPRICED``: tokens are known but no price was, so ``cost`` is 0.0 and means "not computed".
    ``UNKNOWN``: not even usage is known; ``cost`` and every token count are 0 and mean nothing.
    """

    RESOLVED = "Resolved"
    UNPRICED = "Unpriced"
    UNKNOWN = "Unknown"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class CostInfo:
    """The cost of one completion, as handed to a cost callback.

    Check ``resolution`` (or ``is_known``) before trusting ``cost``: only a ``RESOLVED`` cost is a real
    amount. ``UNPRICED`` and ``UNKNOWN`` report ``cost == 0.0`` as a placeholder, never as "free";
    ``known_cost`` gives ``None`` for them so a sum cannot silently absorb them.

    ``price_source`` says where a resolved cost came from: ``"provider"`` (the provider's own figure),
    ``"request"`` (the request's ``token_price``), ``"generator"`` (the generator's), ``"catalog"`` (a price
    list, as of ``price_date``); None when nothing priced it.
    """

    cost: float
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    model: str = ""
    response_id: str = ""
    resolution: CostResolution = CostResolution.RESOLVED
    price_source: str | None = None
    price_date: str | None = None

    @property
    def is_known(self) -> bool:
        """True only when ``cost`` is a real USD amount (``RESOLVED``)."""
        return self.resolution is CostResolution.RESOLVED

    @property
    def known_cost(self) -> float | None:
        """``cost`` when it is real, else ``None`` (an unpriced or unknown cost is not $0)."""
        return self.cost if self.is_known else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; ``resolution`` as its string value."""
        return {
            "cost": self.cost,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "model": self.model,
            "response_id": self.response_id,
            "resolution": self.resolution.value,
            "price_source": self.price_source,
            "price_date": self.price_date,
        }


def cost_info_from_usage(
    usage: Usage,
    price: TokenPrice | None,
    *,
    model: str,
    response_id: str,
    price_source: str | None = "generator",
    price_date: str | None = None,
) -> CostInfo:
    """The cost of a completion whose usage is known.

    A native cost from the provider wins (even 0.0): ``cost + upstream_inference_cost``, ``RESOLVED``, source
    ``"provider"``. Otherwise a price gives tokens times price, ``RESOLVED``, source ``price_source``. With
    neither the result is ``UNPRICED``: ``cost`` 0.0 (not free, just not computed), the token counts kept.
    """
    source: str | None
    if usage.cost is not None:
        amount = usage.cost + (usage.upstream_inference_cost or 0.0)
        resolution = CostResolution.RESOLVED
        source, price_date = "provider", None
    elif price is not None:
        amount = price.cost_of(usage)
        resolution = CostResolution.RESOLVED
        source = price_source
    else:
        amount = 0.0
        resolution = CostResolution.UNPRICED
        source, price_date = None, None
    return CostInfo(
        cost=amount,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        model=model,
        response_id=response_id,
        resolution=resolution,
        price_source=source,
        price_date=price_date,
    )


def unknown_cost(model: str, response_id: str) -> CostInfo:
    """The cost of a completion whose usage never arrived: ``UNKNOWN``, every number 0 (meaning "no idea")."""
    return CostInfo(
        cost=0.0,
        prompt_tokens=0,
        completion_tokens=0,
        total_tokens=0,
        model=model,
        response_id=response_id,
        resolution=CostResolution.UNKNOWN,
    )
