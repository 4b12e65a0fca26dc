"""The price catalog: OpenRouter's models list fetched from the local server, cached on disk under a temporary
folder (``MINILLM_CACHE_DIR``), its TTL, the stale copy when offline, recovery from a corrupt file, and where
each cost's price came from."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    CostEstimate,
    CostResolution,
    GeneratorInfo,
    NodeCompletionParameters,
    TokenPrice,
)
from minillm.core import catalog as catalog_mod
from minillm.core.catalog import Catalog, catalog_flow, model_candidates, parse_models
from minillm.core.seam import run_flow
from minillm.testing import MockLLMServer, Reply, model_entry
from minillm.testing.replies import Wire

PARAMS = NodeCompletionParameters(params=CompletionParameters(max_tokens=100))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MINILLM_CACHE_DIR", str(folder))
    return folder


def estimate(
    api: Any, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = PARAMS
) -> CostEstimate:
    if api.mode == "sync":
        return node.estimate_cost(gen, params, client=api.sync_client)
    return api.run(node.aestimate_cost(gen, params, client=api.async_client))


def model_fetches(server: MockLLMServer) -> int:
    return sum(1 for r in server.requests if r.wire is Wire.MODELS)


def openrouter(server: MockLLMServer, model: str = "mock-model") -> GeneratorInfo:
    return GeneratorInfo.openrouter(model).with_api_key("sk-or-test").with_base_url(server.openrouter_base_url)


def custom(server: MockLLMServer, model: str = "mock-model") -> GeneratorInfo:
    return GeneratorInfo.custom("local", server.openai_base_url, model).with_catalog_price(
        url=server.openrouter_base_url + "/models"
    )


def read_catalog(url: str) -> Catalog | None:
    result: Catalog | None = run_flow(catalog_flow(url), None)  # type: ignore[arg-type]
    return result


# ----- parsing -----------------------------------------------------------------------------------------------------


def test_models_list_prices_are_per_token_strings() -> None:
    models = parse_models(
        {
            "data": [
                model_entry(
                    "a/priced",
                    prompt_per_mtok=3.0,
                    completion_per_mtok=15.0,
                    cache_read_per_mtok=0.3,
                    cache_write_per_mtok=3.75,
                ),
                model_entry("a/varies", prompt_per_mtok=None, completion_per_mtok=None),
                {"id": "a/bare"},
                "not a model",
            ]
        }
    )
    priced = models["a/priced"].price
    assert priced == TokenPrice(3.0, 15.0).with_cache_rates(0.3, 3.75)
    assert models["a/varies"].price is None  # "-1": a price that varies is no price
    assert models["a/bare"].price is None
    with pytest.raises(ValueError):
        parse_models({"models": []})


def test_catalog_ids_are_exact_never_fuzzy() -> None:
    gen = GeneratorInfo.anthropic("claude-3-5-sonnet-20241022")
    assert model_candidates(gen) == [
        "claude-3-5-sonnet-20241022",
        "anthropic/claude-3-5-sonnet-20241022",
        "anthropic/claude-3-5-sonnet",
        "anthropic/claude-3.5-sonnet",
    ]
    assert model_candidates(GeneratorInfo.openai("gpt-4o").with_openrouter_name("openai/gpt-4o-2024-08-06"))[:3] == [
        "openai/gpt-4o-2024-08-06",
        "gpt-4o",
        "openai/gpt-4o",
    ]


# ----- fetch, cache, TTL, offline, corruption -------------------------------------------------------------------------


def test_fetched_on_first_use_then_read_from_the_cache(api: Any, llm_server: MockLLMServer, cache_dir: Path) -> None:
    node = ChatNode.user("Hello")
    first = estimate(api, node, openrouter(llm_server))
    assert first.price_source == "catalog" and first.price_date is not None
    assert model_fetches(llm_server) == 1
    files = list(cache_dir.iterdir())
    assert len(files) == 1 and files[0].name.startswith("models-")  # no temporary file left behind
    stored = json.loads(files[0].read_text())
    assert stored["url"] == llm_server.openrouter_base_url + "/models"
    again = estimate(api, node, openrouter(llm_server))
    assert again == first
    assert model_fetches(llm_server) == 1


def test_a_cache_older_than_the_ttl_is_fetched_again(llm_server: MockLLMServer) -> None:
    url = llm_server.openrouter_base_url + "/models"
    first = read_catalog(url)
    assert first is not None and not first.stale
    path = Path(catalog_mod._cache_file(url))
    stored = json.loads(path.read_text())
    stored["fetched_at"] -= catalog_mod.CATALOG_TTL + 1
    path.write_text(json.dumps(stored))
    llm_server.set_models([model_entry("mock-model", prompt_per_mtok=7.0, completion_per_mtok=8.0)])
    fresh = read_catalog(url)
    assert fresh is not None and not fresh.stale
    assert fresh.models["mock-model"].price == TokenPrice(7.0, 8.0)
    assert sum(1 for r in llm_server.requests if r.wire is Wire.MODELS) == 2


def test_offline_uses_the_stale_cache_and_says_how_old(llm_server: MockLLMServer) -> None:
    url = llm_server.openrouter_base_url + "/models"
    assert read_catalog(url) is not None
    path = Path(catalog_mod._cache_file(url))
    stored = json.loads(path.read_text())
    stored["fetched_at"] = time.time() - 3 * 24 * 3600
    path.write_text(json.dumps(stored))
    llm_server.set_models(Reply.error(503, "catalog down"))
    stale = read_catalog(url)
    assert stale is not None and stale.stale
    assert 3 * 24 * 3600 - 60 < stale.age() < 3 * 24 * 3600 + 60
    assert stale.models["mock-model"].price == TokenPrice(1.0, 2.0)


def test_unreachable_catalog_without_a_cache_leaves_the_request_unpriced(api: Any, llm_server: MockLLMServer) -> None:
    gen = GeneratorInfo.custom("local", llm_server.openai_base_url, "mock-model").with_catalog_price(
        url="http://127.0.0.1:9/models"  # the discard port: nothing listens there
    )
    result = estimate(api, ChatNode.user("Hello"), gen)
    assert (result.low, result.high, result.price_source) == (None, None, None)
    assert not result.is_priced


def test_a_corrupt_cache_is_ignored_and_replaced(llm_server: MockLLMServer) -> None:
    url = llm_server.openrouter_base_url + "/models"
    path = Path(catalog_mod._cache_file(url))
    path.parent.mkdir(parents=True)
    for garbage in (b"{not json", b'{"url": 3}', b"\xff\xfe", b"[]"):
        path.write_bytes(garbage)
        recovered = read_catalog(url)
        assert recovered is not None and "mock-model" in recovered.models
        assert json.loads(path.read_text())["url"] == url
        path.write_bytes(garbage)


def test_an_unwritable_cache_folder_only_means_no_cache(
    llm_server: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MINILLM_CACHE_DIR", str(blocker / "cache"))
    result = read_catalog(llm_server.openrouter_base_url + "/models")
    assert result is not None and "mock-model" in result.models


def test_cache_dir_defaults_to_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("MINILLM_CACHE_DIR")
    assert catalog_mod.cache_dir() == platformdirs.user_cache_dir("minillm")


# ----- price sources on real costs ----------------------------------------------------------------------------------


def costed(api: Any, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters = PARAMS) -> Any:
    return api.complete_costed(node, gen, params)[1]


def test_a_catalog_price_resolves_a_cost_that_was_unpriced(api: Any, llm_server: MockLLMServer) -> None:
    node = ChatNode.user("Hello there")
    plain = GeneratorInfo.custom("local", llm_server.openai_base_url, "mock-model")
    assert costed(api, node, plain).resolution is CostResolution.UNPRICED
    info = costed(api, node, custom(llm_server))
    assert info.resolution is CostResolution.RESOLVED
    assert info.price_source == "catalog" and info.price_date
    assert info.cost == pytest.approx((info.prompt_tokens * 1.0 + info.completion_tokens * 2.0) / 1e6)


def test_a_request_price_wins_then_the_generators(api: Any, llm_server: MockLLMServer) -> None:
    node = ChatNode.user("Hello there")
    gen = custom(llm_server)
    info = costed(api, node, gen, PARAMS.with_token_price(TokenPrice(100.0, 100.0)))
    assert info.price_source == "request" and info.price_date is None
    assert info.cost == pytest.approx(info.total_tokens * 100.0 / 1e6)
    info = costed(api, node, gen.with_token_price(TokenPrice(50.0, 50.0)))
    assert info.price_source == "generator"
    assert info.cost == pytest.approx(info.total_tokens * 50.0 / 1e6)


def test_a_model_absent_everywhere_stays_unpriced(api: Any, llm_server: MockLLMServer) -> None:
    info = costed(api, ChatNode.user("Hello"), custom(llm_server, "no-such-model"))
    assert info.resolution is CostResolution.UNPRICED and info.price_source is None and info.cost == 0.0


def test_openrouters_own_cost_is_the_providers(api: Any, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("hi", usage=(10, 2), cost=0.00042))
    info = costed(api, ChatNode.user("Hello"), openrouter(llm_server))
    assert (info.cost, info.price_source, info.price_date) == (0.00042, "provider", None)


def test_the_catalog_is_off_by_default_except_on_openrouter(api: Any, llm_server: MockLLMServer) -> None:
    gen = GeneratorInfo.custom("local", llm_server.openai_base_url, "mock-model")
    assert not estimate(api, ChatNode.user("Hello"), gen).is_priced
    assert model_fetches(llm_server) == 0
    off = openrouter(llm_server).with_catalog_price(False)
    assert not estimate(api, ChatNode.user("Hello"), off).is_priced
    assert model_fetches(llm_server) == 0


def test_offline_price_data_for_direct_apis_needs_no_request(api: Any, llm_server: MockLLMServer) -> None:
    pytest.importorskip("genai_prices")
    gen = GeneratorInfo.openai("gpt-4o").with_api_key("sk-test").with_base_url(llm_server.openai_base_url)
    result = estimate(api, ChatNode.user("Hello"), gen.with_catalog_price())
    assert result.price_source == "catalog" and result.price_date is not None
    assert result.price_date.startswith("genai-prices")
    assert result.low is not None and result.low > 0
    assert llm_server.requests == []


def test_cache_file_is_named_for_its_url(llm_server: MockLLMServer) -> None:
    a = catalog_mod._cache_file("https://one.example/models")
    b = catalog_mod._cache_file("https://two.example/models")
    assert a != b and os.path.dirname(a) == os.path.dirname(b)
