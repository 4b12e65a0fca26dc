"""What a request will cost before it is sent (``CostEstimate``), and a spending limit (``Budget``).

An estimate takes the input from the token count (a range when the count is only an estimate: half to twice the
characters-per-token figure) and the output from nothing up to ``max_tokens`` (plus the reasoning budget on wires
where it comes on top); cached input may cost less or more than plain input, so the low bound uses the cheapest
input rate the price has and the high bound the dearest.

``Budget`` is shared by any number of threads and tasks without a lock: a request first *adds* its reservation
(one dict store, atomic), then sums every entry, and withdraws itself when the sum is over the limit. Of two
requests racing for the last dollars, the later one to add always sees the earlier, so the admitted reservations
never exceed the limit; at worst both are refused. Tasks on one event loop cannot interleave at all there, since
reserving never awaits.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import BudgetExceededError, InvalidParameterError
from minillm.core.tokens import TokenCountMethod

if TYPE_CHECKING:
    from minillm.core.catalog import PriceQuote
    from minillm.core.generator import GeneratorInfo
    from minillm.core.params import CompletionParameters
    from minillm.core.tokens import TokenCount
    from minillm.core.usage import CostInfo

__all__ = ["ESTIMATE_RANGE", "Budget", "CostEstimate", "Reservation", "make_estimate"]

ESTIMATE_RANGE = (0.5, 2.0)
"""The input range of a characters-per-token count: it may be off by half or double either way."""

_PER_MILLION = 1_000_000.0


@attrs.frozen
class CostEstimate:
    """What a request may cost, in USD, before it is sent.

    ``low`` is the input alone at its cheapest; ``high`` adds ``max_output_tokens`` of output. Both are None
    when no price is known (``price_source`` None); ``high`` is None too when the output has no bound (no
    ``max_tokens`` and no known context length). ``method`` says how sure the input count is; for an
    ``ESTIMATE`` count, ``input_tokens_high`` is the most it may be.
    """

    low: float | None
    high: float | None
    input_tokens: int
    method: TokenCountMethod
    price_source: str | None
    price_date: str | None = attrs.field(default=None, kw_only=True)
    input_tokens_high: int = attrs.field(
        default=attrs.Factory(lambda self: self.input_tokens, takes_self=True), kw_only=True
    )
    max_output_tokens: int | None = attrs.field(default=None, kw_only=True)

    @property
    def is_priced(self) -> bool:
        """True when a price was found (``low`` is a real amount)."""
        return self.low is not None

    @property
    def max_tokens(self) -> int | None:
        """The most tokens, input and output, the request can use (None when the output is unbounded)."""
        return None if self.max_output_tokens is None else self.input_tokens_high + self.max_output_tokens


def _output_ceiling(generator: GeneratorInfo, params: CompletionParameters, input_high: int) -> int | None:
    ceiling = params.max_tokens
    if ceiling is None and generator.max_context_length is not None:
        ceiling = max(generator.max_context_length - input_high, 0)
    if ceiling is None:
        return None
    reasoning = params.reasoning.max_tokens if params.reasoning is not None else None
    if reasoning and generator.provider.name != "anthropic":  # Anthropic's thinking budget is inside max_tokens
        ceiling += reasoning
    return ceiling


def make_estimate(
    count: TokenCount, quote: PriceQuote | None, generator: GeneratorInfo, params: CompletionParameters
) -> CostEstimate:
    """The estimate for a counted prompt at a price (None: unpriced) under the effective parameters."""
    n = count.input_tokens
    if count.method is TokenCountMethod.ESTIMATE:
        low_in, high_in = math.floor(n * ESTIMATE_RANGE[0]), math.ceil(n * ESTIMATE_RANGE[1])
    else:
        low_in = high_in = n
    out = _output_ceiling(generator, params, high_in)
    low = high = None
    if quote is not None:
        price = quote.price
        low = low_in * min(price.input_per_mtok, price.read_rate) / _PER_MILLION
        if out is not None:
            dearest_input = max(price.input_per_mtok, price.write_rate)
            high = (high_in * dearest_input + out * price.output_per_mtok) / _PER_MILLION
    return CostEstimate(
        low=low,
        high=high,
        input_tokens=n,
        method=count.method,
        price_source=None if quote is None else quote.source,
        price_date=None if quote is None else quote.date,
        input_tokens_high=high_in,
        max_output_tokens=out,
    )


def _limit(value: Any, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
        raise InvalidParameterError(f"Budget {what} must be a finite number >= 0 or None, got {value!r}")
    return value


@attrs.frozen
class Reservation:
    """A request's hold on a budget, from before it is sent until its actual cost is recorded."""

    key: int
    usd: float
    tokens: int


class Budget:
    """A spending limit in USD and/or tokens, shared by every request it is set on (thread- and task-safe).

    A request whose high estimate would take spending past ``max_usd`` or ``max_tokens`` (counting what other
    requests in flight have reserved) is refused with ``BudgetExceededError`` before anything is sent. Under a
    USD limit a request with no known price is refused unless ``allow_unpriced`` (then it is recorded at $0 and
    counted in ``unpriced_calls``). After each call the actual cost replaces the reservation; a call whose cost
    could not be known keeps its high estimate, so the budget errs on the safe side.
    """

    def __init__(self, max_usd: float | None = None, max_tokens: int | None = None, allow_unpriced: bool = False):
        self.max_usd: float | None = _limit(max_usd, "max_usd")
        self.max_tokens: int | None = _limit(max_tokens, "max_tokens")
        self.allow_unpriced = bool(allow_unpriced)
        self._keys = itertools.count(1)
        self._held: dict[int, tuple[float, int]] = {}  # reservations of requests in flight
        self._spent: dict[int, tuple[float, int, bool]] = {}  # recorded calls: usd, tokens, unpriced

    def __repr__(self) -> str:
        return (
            f"Budget(max_usd={self.max_usd!r}, max_tokens={self.max_tokens!r}, spent_usd={self.spent_usd:.6f}, "
            f"spent_tokens={self.spent_tokens})"
        )

    @property
    def spent_usd(self) -> float:
        """USD recorded so far (reservations of requests still in flight not included)."""
        return sum(usd for usd, _, _ in self._spent.copy().values())

    @property
    def spent_tokens(self) -> int:
        """Tokens recorded so far."""
        return sum(tokens for _, tokens, _ in self._spent.copy().values())

    @property
    def unpriced_calls(self) -> int:
        """Calls recorded without a known price (only possible with ``allow_unpriced``)."""
        return sum(1 for _, _, unpriced in self._spent.copy().values() if unpriced)

    @property
    def reserved_usd(self) -> float:
        """USD held by requests in flight."""
        return sum(usd for usd, _ in self._held.copy().values())

    @property
    def remaining_usd(self) -> float | None:
        """What is left of ``max_usd`` after spending and reservations (None without a USD limit)."""
        return None if self.max_usd is None else max(self.max_usd - self.spent_usd - self.reserved_usd, 0.0)

    def _totals(self) -> tuple[float, int]:
        held, spent = self._held.copy(), self._spent.copy()
        usd = sum(u for u, _ in held.values()) + sum(u for u, _, _ in spent.values())
        tokens = sum(t for _, t in held.values()) + sum(t for _, t, _ in spent.values())
        return usd, tokens

    def reserve(self, estimate: CostEstimate) -> Reservation:
        """Hold ``estimate``'s high cost and token count, or raise ``BudgetExceededError`` (nothing is held then)."""
        if self.max_usd is not None and estimate.high is None and not (self.allow_unpriced and not estimate.is_priced):
            if not estimate.is_priced:
                why = (
                    "no price is known for this model, so the request could cost anything; set a token_price, use "
                    "GeneratorInfo.with_catalog_price(), or allow it with Budget(..., allow_unpriced=True)"
                )
            else:
                why = "its output has no bound; set max_tokens so the budget can bound its cost"
            raise BudgetExceededError(f"budget refused the request: {why}", budget=self, estimate=estimate)
        if self.max_tokens is not None and estimate.max_tokens is None:
            raise BudgetExceededError(
                "budget refused the request: its output has no bound; set max_tokens", budget=self, estimate=estimate
            )
        usd = estimate.high or 0.0
        tokens = estimate.max_tokens or 0
        key = next(self._keys)
        self._held[key] = (usd, tokens)
        spent_usd, spent_tokens = self._totals()
        over_usd = self.max_usd is not None and spent_usd > self.max_usd + 1e-12
        over_tokens = self.max_tokens is not None and spent_tokens > self.max_tokens
        if over_usd or over_tokens:
            self._held.pop(key, None)
            left_usd, left_tokens = spent_usd - usd, spent_tokens - tokens
            if over_usd:
                detail = f"up to ${usd:.6f} with ${max(self.max_usd - left_usd, 0.0):.6f} left of ${self.max_usd}"  # type: ignore[operator]
            else:
                detail = f"up to {tokens} tokens with {max(self.max_tokens - left_tokens, 0)} left of {self.max_tokens}"  # type: ignore[operator]
            raise BudgetExceededError(
                f"budget refused the request before sending it: it could cost {detail}; raise the budget, lower "
                f"max_tokens or shorten the prompt",
                budget=self,
                estimate=estimate,
            )
        return Reservation(key, usd, tokens)

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose request was never answered (it failed before a reply)."""
        self._held.pop(reservation.key, None)

    def commit(self, reservation: Reservation, cost: CostInfo | None) -> None:
        """Record a finished call: its real cost and tokens; a call with unknown cost keeps its reservation's."""
        from minillm.core.usage import CostResolution

        if reservation.key in self._spent:
            return  # already recorded (a reply's cost arrives once; a later failure does not record it again)
        if cost is None or cost.resolution is CostResolution.UNKNOWN:
            entry = (reservation.usd, reservation.tokens, False)
        elif cost.resolution is CostResolution.UNPRICED:
            entry = (0.0 if self.allow_unpriced else reservation.usd, cost.total_tokens, True)
        else:
            entry = (cost.cost, cost.total_tokens, False)
        self._spent[reservation.key] = entry
        self._held.pop(reservation.key, None)
