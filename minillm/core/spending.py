"""The cost side of ``ChatNode``'s network methods: counting, estimating, and keeping a request within its budget.

``CostMethods`` gives ``ChatNode`` ``count_tokens`` / ``estimate_cost`` and their async twins. ``guarded`` and
``aguarded`` wrap a completion: before it is sent, the catalog price is resolved when the generator asks for one,
and a budget reserves the request's high estimate (or refuses it); the reply's actual cost then settles the
reservation through the cost callback the transports already call. A request that fails with the provider's
error (nothing billed) gives its reservation back; any other failure keeps it at the high estimate, since a
rejected reply was still paid for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from minillm.core import seam
from minillm.core.budget import CostEstimate, make_estimate
from minillm.core.catalog import resolve_flow
from minillm.core.errors import APIConnectionError, APIError, InvalidParameterError, MaxRetriesExceededError
from minillm.core.fallback import FallbackGenerator
from minillm.core.tokens import TokenCount, count_flow

if TYPE_CHECKING:
    from minillm.core.budget import Budget, Reservation
    from minillm.core.generator import GeneratorInfo
    from minillm.core.params import NodeCompletionParameters
    from minillm.core.seam import AsyncCompletionClient, SyncCompletionClient
    from minillm.core.tokens import Flow
    from minillm.core.tree import ChatNode
    from minillm.core.usage import CostInfo

__all__ = ["CostMethods", "aguarded", "estimate_flow", "guarded"]

T = TypeVar("T")


def estimate_flow(node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None) -> Flow:
    """Count the prompt and find its price; returns ``(CostEstimate, PriceQuote | None)``."""
    from minillm.core.flow import effective_params
    from minillm.core.params import NodeCompletionParameters

    params = params or NodeCompletionParameters()
    count = yield from count_flow(node, generator, params)
    quote = yield from resolve_flow(generator, params.token_price)
    return make_estimate(count, quote, generator, effective_params(generator, params)), quote


class CostMethods:
    """Counting and estimating before sending, mixed into ``ChatNode``."""

    __slots__ = ()

    def count_tokens(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> TokenCount:
        """The input tokens ``complete(generator, params)`` would send, and how they were counted: ``EXACT`` from
        Anthropic's count endpoint (one request), ``LOCAL`` with OpenAI's tokenizer (``minillm-sdk[tokens]``),
        else ``ESTIMATE`` by characters."""
        result: TokenCount = seam.run_flow(count_flow(cast("ChatNode", self), generator, params), client)
        return result

    async def acount_tokens(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> TokenCount:
        """``count_tokens``, awaited."""
        result: TokenCount = await seam.arun_flow(count_flow(cast("ChatNode", self), generator, params), client)
        return result

    def estimate_cost(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters | None = None,
        *,
        client: SyncCompletionClient | None = None,
    ) -> CostEstimate:
        """What ``complete(generator, params)`` may cost: ``low`` (input only) to ``high`` (plus ``max_tokens`` of
        output), with the count's ``method`` and the price's source; unpriced (None bounds) when no price is known."""
        estimate: CostEstimate = seam.run_flow(estimate_flow(cast("ChatNode", self), generator, params), client)[0]
        return estimate

    async def aestimate_cost(
        self,
        generator: GeneratorInfo,
        params: NodeCompletionParameters | None = None,
        *,
        client: AsyncCompletionClient | None = None,
    ) -> CostEstimate:
        """``estimate_cost``, awaited."""
        estimate: CostEstimate = (
            await seam.arun_flow(estimate_flow(cast("ChatNode", self), generator, params), client)
        )[0]
        return estimate


# ----- guarding a completion -------------------------------------------------------------------------------------


def _check_params(params: object) -> None:
    """Refuse what is not a ``NodeCompletionParameters`` before anything reads it, saying how to pass it."""
    from minillm.core.params import CompletionParameters, NodeCompletionParameters

    if params is None or isinstance(params, NodeCompletionParameters):
        return
    hint = (
        "; wrap model parameters as NodeCompletionParameters(params=CompletionParameters(...))"
        if isinstance(params, CompletionParameters)
        else ""
    )
    raise InvalidParameterError(f"params must be a NodeCompletionParameters, got {type(params).__name__}{hint}")


def _first_of(generator: GeneratorInfo | FallbackGenerator) -> GeneratorInfo:
    """The generator a request is estimated and priced with: a fallback chain's first (the one asked first)."""
    return generator.generators[0] if isinstance(generator, FallbackGenerator) else generator


def _needs_guard(generator: GeneratorInfo, params: NodeCompletionParameters | None, wants_cost: bool) -> bool:
    if params is not None and params.budget is not None:
        return True
    tracked = wants_cost or (params is not None and (params.track_cost or params.cost_callback is not None))
    return generator.catalog_price is True and generator.token_price is None and tracked


def _committing(
    budget: Budget, hold: Reservation, callback: Callable[[CostInfo], Any] | None
) -> Callable[[CostInfo], Any]:
    def report(info: CostInfo) -> Any:
        budget.commit(hold, info)
        return None if callback is None else callback(info)

    return report


def _prepare_flow(node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None) -> Flow:
    """Resolve the catalog price onto the generator and reserve the budget; returns the generator and parameters
    to send with, and the reservation (None without a budget)."""
    budget = None if params is None else params.budget
    if budget is None:
        quote = yield from resolve_flow(generator, None if params is None else params.token_price)
        if quote is not None and quote.source == "catalog":
            generator = attrs.evolve(generator, catalog_quote=quote)
        return generator, params, None
    assert params is not None
    estimate, quote = yield from estimate_flow(node, generator, params)
    hold = budget.reserve(estimate)
    if quote is not None and quote.source == "catalog":
        generator = attrs.evolve(generator, catalog_quote=quote)
    params = attrs.evolve(params, budget=None, cost_callback=_committing(budget, hold, params.cost_callback))
    return generator, params, hold


def _settle_failure(budget: Budget, hold: Reservation, error: BaseException) -> None:
    if isinstance(error, MaxRetriesExceededError):
        error = error.last_error
    if isinstance(error, (APIError, APIConnectionError)):
        budget.release(hold)
    else:
        budget.commit(hold, None)


def guarded(
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
    client: SyncCompletionClient | None,
    send: Callable[[GeneratorInfo | FallbackGenerator, NodeCompletionParameters | None], T],
    *,
    wants_cost: bool = False,
    cost_of: Callable[[T], CostInfo] | None = None,
) -> T:
    """Run ``send`` within the request's budget (and with its catalog price resolved); see the module doc."""
    _check_params(params)
    first = _first_of(generator)
    if not _needs_guard(first, params, wants_cost):
        return send(generator, params)
    budget = None if params is None else params.budget
    prepared, params, hold = seam.run_flow(_prepare_flow(node, first, params), client)
    if generator is first:  # a fallback chain is sent as it is, estimated with its first generator
        generator = prepared
    if budget is None or hold is None:
        return send(generator, params)
    try:
        result = send(generator, params)
    except BaseException as error:
        _settle_failure(budget, hold, error)
        raise
    if cost_of is not None:
        budget.commit(hold, cost_of(result))
    return result


async def aguarded(
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
    client: AsyncCompletionClient | None,
    send: Callable[[GeneratorInfo | FallbackGenerator, NodeCompletionParameters | None], Awaitable[T]],
    *,
    wants_cost: bool = False,
    cost_of: Callable[[T], CostInfo] | None = None,
) -> T:
    """``guarded``, awaited."""
    _check_params(params)
    first = _first_of(generator)
    if not _needs_guard(first, params, wants_cost):
        return await send(generator, params)
    budget = None if params is None else params.budget
    prepared, params, hold = await seam.arun_flow(_prepare_flow(node, first, params), client)
    if generator is first:  # a fallback chain is sent as it is, estimated with its first generator
        generator = prepared
    if budget is None or hold is None:
        return await send(generator, params)
    try:
        result = await send(generator, params)
    except BaseException as error:
        _settle_failure(budget, hold, error)
        raise
    if cost_of is not None:
        budget.commit(hold, cost_of(result))
    return result
