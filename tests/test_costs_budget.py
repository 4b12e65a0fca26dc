"""Estimates and budgets: a request is refused before it is sent when its high estimate exceeds what is left,
actual costs are recorded after each call, and concurrent calls against one budget never overspend."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minillm import (
    AsyncClient,
    Budget,
    BudgetExceededError,
    ChatNode,
    CompletionParameters,
    CostEstimate,
    GeneratorInfo,
    InvalidParameterError,
    MiniLLMError,
    NodeCompletionParameters,
    ReasoningConfig,
    SyncClient,
    TokenCount,
    TokenCountMethod,
    TokenPrice,
)
from minillm.core.budget import make_estimate
from minillm.core.catalog import PriceQuote
from minillm.testing import MockLLMServer, Reply
from minillm.testing.replies import Wire

PRICE = TokenPrice(1000.0, 2000.0)  # $0.001 per input token, $0.002 per output token: easy sums


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINILLM_CACHE_DIR", str(tmp_path / "cache"))


def gen_for(server: MockLLMServer, price: TokenPrice | None = PRICE) -> GeneratorInfo:
    return GeneratorInfo.custom("local", server.openai_base_url, "llama-test").with_token_price(price)


def params(budget: Budget | None = None, max_tokens: int | None = 10) -> NodeCompletionParameters:
    return NodeCompletionParameters(params=CompletionParameters(max_tokens=max_tokens), retry=0).with_budget(budget)


def completions(server: MockLLMServer) -> int:
    return sum(1 for r in server.requests if r.wire is Wire.OPENAI)


# ----- estimates ----------------------------------------------------------------------------------------------------


def test_estimate_bounds_input_and_output(api: Any, llm_server: MockLLMServer) -> None:
    node = ChatNode.user("x" * 40)  # 4 + 1 + 10 + 3 = 18 tokens, estimated
    gen = gen_for(llm_server)
    if api.mode == "sync":
        result = node.estimate_cost(gen, params(), client=api.sync_client)
    else:
        result = api.run(node.aestimate_cost(gen, params(), client=api.async_client))
    assert (result.input_tokens, result.method, result.price_source) == (18, TokenCountMethod.ESTIMATE, "generator")
    assert result.input_tokens_high == 36 and result.max_output_tokens == 10
    assert result.low == pytest.approx(9 * 0.001)  # half the estimate, no output
    assert result.high == pytest.approx(36 * 0.001 + 10 * 0.002)  # twice the estimate, all of max_tokens
    assert llm_server.requests == []


def quote(price: TokenPrice = PRICE) -> PriceQuote:
    return PriceQuote(price, "generator")


def test_exact_counts_have_no_input_range_and_cache_rates_widen_the_bounds() -> None:
    gen = GeneratorInfo.anthropic("claude-haiku-4-5")
    cached = TokenPrice(1000.0, 2000.0).with_cache_rates(100.0, 1250.0)
    est = make_estimate(
        TokenCount(100, TokenCountMethod.EXACT), quote(cached), gen, CompletionParameters(max_tokens=50)
    )
    assert est.low == pytest.approx(100 * 0.0001)
    assert est.high == pytest.approx(100 * 0.00125 + 50 * 0.002)


def test_reasoning_budget_adds_to_the_output_except_on_anthropic() -> None:
    params_ = CompletionParameters(max_tokens=100).with_reasoning(ReasoningConfig(max_tokens=500))
    count = TokenCount(10, TokenCountMethod.LOCAL)
    openrouter = make_estimate(count, quote(), GeneratorInfo.openrouter("openai/o3"), params_)
    anthropic = make_estimate(count, quote(), GeneratorInfo.anthropic("claude-sonnet-4-5"), params_)
    assert openrouter.max_output_tokens == 600
    assert anthropic.max_output_tokens == 100  # Anthropic's thinking budget is part of max_tokens


def test_unbounded_output_uses_the_context_length_or_has_no_high() -> None:
    count = TokenCount(10, TokenCountMethod.LOCAL)
    unbounded = CompletionParameters(max_tokens=None)
    no_context = make_estimate(count, quote(), GeneratorInfo.openai("gpt-4o"), unbounded)
    assert no_context.high is None and no_context.low is not None
    with_context = make_estimate(count, quote(), GeneratorInfo.openai("gpt-4o").with_max_context(1000), unbounded)
    assert with_context.max_output_tokens == 990


# ----- budgets through the node ----------------------------------------------------------------------------------


def test_a_request_over_budget_is_refused_before_anything_is_sent(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=0.01)
    with pytest.raises(BudgetExceededError) as caught:
        api.complete(ChatNode.user("x" * 400), gen_for(llm_server), params(budget))
    assert caught.value.budget is budget
    assert isinstance(caught.value.estimate, CostEstimate)
    assert "raise the budget" in str(caught.value)
    assert completions(llm_server) == 0
    assert (budget.spent_usd, budget.spent_tokens, budget.reserved_usd) == (0.0, 0, 0.0)


def test_actual_costs_are_recorded_after_each_call(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=1.0)
    gen = gen_for(llm_server)
    llm_server.enqueue(Reply.text("one", usage=(10, 3)), Reply.text("two", usage=(20, 5)))
    node = api.complete(ChatNode.user("Hi"), gen, params(budget))
    assert budget.spent_usd == pytest.approx(10 * 0.001 + 3 * 0.002)
    assert budget.spent_tokens == 13
    _, info = api.complete_costed(node.add_user("Again"), gen, params(budget))
    assert budget.spent_usd == pytest.approx(10 * 0.001 + 3 * 0.002 + info.cost)
    assert budget.spent_tokens == 13 + 25
    assert budget.reserved_usd == 0.0
    assert budget.remaining_usd == pytest.approx(1.0 - budget.spent_usd)


def test_a_stream_records_its_cost_at_its_end(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=1.0)
    gen = GeneratorInfo.openai("gpt-4o").with_api_key("sk-test").with_base_url(llm_server.openai_base_url)
    llm_server.enqueue(Reply.text("streamed", usage=(7, 2)))
    api.stream(ChatNode.user("Hi"), gen.with_token_price(PRICE), params(budget))
    assert budget.spent_usd == pytest.approx(7 * 0.001 + 2 * 0.002)
    assert budget.reserved_usd == 0.0


def test_a_call_whose_cost_stays_unknown_keeps_its_high_estimate(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=1.0)
    gen = gen_for(llm_server)
    high = ChatNode.user("Hi").estimate_cost(gen, params()).high
    llm_server.enqueue(Reply.text("streamed", usage=(7, 2)))
    api.stream(ChatNode.user("Hi"), gen, params(budget))  # this server streams no usage unless asked
    assert budget.spent_usd == pytest.approx(high)
    assert budget.reserved_usd == 0.0


def test_the_users_cost_callback_still_runs(api: Any, llm_server: MockLLMServer) -> None:
    seen: list[float] = []
    budget = Budget(max_usd=1.0)
    llm_server.enqueue(Reply.text("ok", usage=(10, 1)))
    api.complete(
        ChatNode.user("Hi"), gen_for(llm_server), params(budget).with_cost_callback(lambda i: seen.append(i.cost))
    )
    assert seen == [pytest.approx(budget.spent_usd)]


def test_a_provider_error_gives_the_reservation_back(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=1.0)
    llm_server.enqueue(Reply.error(400, "bad request"), Reply.error(429, "slow down"))
    for _ in range(2):  # a 400 raised as it is, a 429 after its (zero) retries
        with pytest.raises(MiniLLMError):
            api.complete(ChatNode.user("Hi"), gen_for(llm_server), params(budget))
        assert (budget.spent_usd, budget.reserved_usd) == (0.0, 0.0)


def test_a_rejected_reply_was_paid_for_and_keeps_its_reservation(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_usd=1.0)
    llm_server.enqueue(Reply.text("   ", usage=(5, 1)))
    with pytest.raises(MiniLLMError):
        api.complete(ChatNode.user("Hi"), gen_for(llm_server), params(budget).with_crash_on_empty())
    assert budget.spent_usd > 0 and budget.reserved_usd == 0.0


def test_unpriced_requests_under_a_usd_budget(api: Any, llm_server: MockLLMServer) -> None:
    strict = Budget(max_usd=1.0)
    with pytest.raises(BudgetExceededError, match="allow_unpriced"):
        api.complete(ChatNode.user("Hi"), gen_for(llm_server, None), params(strict))
    assert completions(llm_server) == 0
    lenient = Budget(max_usd=1.0, allow_unpriced=True)
    llm_server.enqueue(Reply.text("ok", usage=(4, 2)))
    api.complete(ChatNode.user("Hi"), gen_for(llm_server, None), params(lenient))
    assert (lenient.spent_usd, lenient.spent_tokens, lenient.unpriced_calls) == (0.0, 6, 1)


def test_a_token_budget_needs_no_price(api: Any, llm_server: MockLLMServer) -> None:
    budget = Budget(max_tokens=40)
    llm_server.enqueue(Reply.text("ok", usage=(5, 2)))
    api.complete(ChatNode.user("Hi"), gen_for(llm_server, None), params(budget))
    assert budget.spent_tokens == 7
    with pytest.raises(BudgetExceededError, match="tokens"):
        api.complete(ChatNode.user("Hi"), gen_for(llm_server, None), params(budget, max_tokens=100))


def test_a_client_called_directly_refuses_a_budget(llm_server: MockLLMServer) -> None:
    with SyncClient() as client, pytest.raises(InvalidParameterError, match="ChatNode"):
        client.complete(ChatNode.user("Hi"), gen_for(llm_server), params(Budget(max_usd=1.0)))
    assert completions(llm_server) == 0


def test_budget_limits_are_checked() -> None:
    for bad in (-1, float("nan"), float("inf"), "5", True):
        with pytest.raises(InvalidParameterError):
            Budget(max_usd=bad)  # type: ignore[arg-type]


# ----- concurrency -------------------------------------------------------------------------------------------------


def _estimate(high: float, tokens: int = 0) -> CostEstimate:
    return CostEstimate(
        low=0.0,
        high=high,
        input_tokens=tokens,
        method=TokenCountMethod.EXACT,
        price_source="request",
        input_tokens_high=tokens,
        max_output_tokens=0,
    )


@settings(max_examples=200, deadline=None)
@given(
    highs=st.lists(st.integers(1, 50), min_size=1, max_size=12),
    actual_share=st.lists(st.integers(0, 100), min_size=12, max_size=12),
    order=st.randoms(use_true_random=False),
)
def test_any_interleaving_of_calls_never_overspends(highs: list[int], actual_share: list[int], order: Any) -> None:
    """Each call reserves, then later settles (records an actual cost at most its estimate, or fails); the steps of
    all calls run in every order hypothesis picks, as concurrent calls may."""
    budget = Budget(max_usd=100.0)
    steps = [(i, "reserve") for i in range(len(highs))] + [(i, "settle") for i in range(len(highs))]
    order.shuffle(steps)
    holds: dict[int, Any] = {}
    for i, step in steps:
        if step == "reserve":
            try:
                holds[i] = budget.reserve(_estimate(float(highs[i])))
            except BudgetExceededError:
                holds[i] = None
        elif i in holds and holds[i] is not None:  # settle after reserving (a call settles only once it was sent)
            from minillm import CostInfo

            if actual_share[i] % 5 == 0:
                budget.release(holds[i])
            else:
                cost = highs[i] * actual_share[i] / 100
                budget.commit(holds[i], CostInfo(cost=cost, prompt_tokens=0, completion_tokens=0, total_tokens=0))
        assert budget.spent_usd + budget.reserved_usd <= 100.0 + 1e-9
    assert budget.spent_usd <= 100.0 + 1e-9


def test_threads_sharing_a_budget_never_overspend() -> None:
    budget = Budget(max_usd=10.0)
    admitted: list[float] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(200):
            try:
                budget.reserve(_estimate(0.01))
            except BudgetExceededError:
                continue
            admitted.append(0.01)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) <= 10.0 + 1e-9
    assert len(admitted) >= 900  # refusals only happen near the limit


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(usages=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 10)), min_size=2, max_size=10))
def test_concurrent_async_calls_against_one_budget_never_overspend(
    llm_server: MockLLMServer, usages: list[tuple[int, int]]
) -> None:
    llm_server.reset()
    for prompt, completion in usages:
        llm_server.enqueue(Reply.text("ok", usage=(prompt, completion)))
    budget = Budget(max_usd=0.1)
    gen = gen_for(llm_server)

    async def main() -> list[BaseException | None]:
        async with AsyncClient() as client:

            async def one(i: int) -> None:
                await ChatNode.user(f"call {i}").acomplete(gen, params(budget), client=client)

            results = await asyncio.gather(*(one(i) for i in range(len(usages))), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    outcomes = asyncio.run(main())
    refused = sum(isinstance(o, BudgetExceededError) for o in outcomes)
    assert all(o is None or isinstance(o, BudgetExceededError) for o in outcomes)
    assert completions(llm_server) == len(usages) - refused  # a refused call sent nothing
    assert budget.spent_usd <= 0.1 + 1e-9
    assert budget.reserved_usd == 0.0


# ----- recorded replies ----------------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = [
    *(("openai", p) for p in sorted((FIXTURES / "openai").glob("*chat_completion*.json")) if "schema" not in p.name),
    *(("anthropic", p) for p in sorted((FIXTURES / "anthropic").glob("response_*.json"))),
]


@pytest.mark.parametrize(("wire", "path"), RECORDED, ids=lambda v: v.name if isinstance(v, Path) else v)
def test_estimate_bounds_hold_for_every_recorded_reply(wire: str, path: Path) -> None:
    """For each recorded reply with usage: estimated from an exact count of its prompt and a ``max_tokens`` that
    allowed its output, the reply's cost (cache buckets priced apart) lies between ``low`` and ``high``."""
    import json

    from minillm.core.providers.anthropic import AnthropicProvider
    from minillm.core.providers.openai import OpenAIProvider

    data = json.loads(path.read_text(encoding="utf-8"))
    body = data.get("body", data) if wire == "openai" else data
    provider = OpenAIProvider() if wire == "openai" else AnthropicProvider()
    usage = provider.parse_response(body).usage
    assert usage is not None and usage.prompt_tokens > 0
    gen = GeneratorInfo.openai("gpt-4o") if wire == "openai" else GeneratorInfo.anthropic("claude-sonnet-4-5")
    for price in (PRICE, TokenPrice(3.0, 15.0).with_cache_rates(0.3, 3.75), TokenPrice(0.0, 0.0)):
        count = TokenCount(usage.prompt_tokens, TokenCountMethod.EXACT)
        params_ = CompletionParameters(max_tokens=usage.completion_tokens)
        est = make_estimate(count, PriceQuote(price, "generator"), gen, params_)
        actual = price.cost_of(usage)
        assert est.low is not None and est.high is not None
        assert est.low - 1e-12 <= actual <= est.high + 1e-12
