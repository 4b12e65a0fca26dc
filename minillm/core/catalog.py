"""Model prices that nobody has to type: OpenRouter's public models list, cached on disk, and offline data.

OpenRouter publishes every model it serves at ``GET /api/v1/models`` (no key needed): ``{"data": [{"id",
"name", "context_length", "pricing": {"prompt", "completion", "input_cache_read", "input_cache_write", ...}}]}``,
prices in USD **per token** as decimal strings (``"-1"`` marks a price that varies, which is no price). The list is
fetched on first use and kept under the cache folder (``MINILLM_CACHE_DIR``, else
``platformdirs.user_cache_dir("minillm")``) for ``CATALOG_TTL`` seconds, written atomically (a temporary file in
the same folder, then a rename). When a fresh copy cannot be fetched the stale one is used and says how old it is;
an unreadable cache file is ignored and replaced by the next successful fetch.

For the direct OpenAI and Anthropic APIs the optional ``genai-prices`` package (``minillm-sdk[prices]``) gives
prices with no network at all; it is asked first when installed.

A model is found only under an exact id (the generator's ``openrouter_name``, its model id, and the id OpenRouter
gives the same model: ``openai/<model>``, ``anthropic/<model>`` without a date suffix, with version dots); a model
found nowhere has no price, never a guessed one.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import MiniLLMError
from minillm.core.http import HTTPRequest, decode_json_body
from minillm.core.usage import TokenPrice

if TYPE_CHECKING:
    from minillm.core.generator import GeneratorInfo
    from minillm.core.tokens import Flow

__all__ = [
    "CATALOG_TTL",
    "OPENROUTER_MODELS_URL",
    "Catalog",
    "CatalogModel",
    "PriceQuote",
    "cache_dir",
    "cached_price",
    "catalog_flow",
    "catalog_url",
    "known_price",
    "model_candidates",
    "offline_price",
    "parse_models",
    "price_flow",
    "resolve_flow",
    "wants_catalog",
]

CATALOG_TTL = 24 * 3600.0
"""How long a fetched models list is used before it is fetched again (seconds)."""

OPENROUTER_MODELS_URL = "https://openrouter.ai/api/v1/models"
_PER_MILLION = 1_000_000.0
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_VERSION_DASH = re.compile(r"(\d)-(\d)(?=\D|$)")


def cache_dir() -> str:
    """The folder minillm caches in: ``MINILLM_CACHE_DIR`` when set, else ``platformdirs.user_cache_dir("minillm")``."""
    override = os.environ.get("MINILLM_CACHE_DIR")
    if override:
        return override
    import platformdirs

    return platformdirs.user_cache_dir("minillm")


@attrs.frozen
class CatalogModel:
    """One model in the catalog: its id, display name, context length and price (None when not fixed)."""

    id: str
    name: str = ""
    context_length: int | None = None
    price: TokenPrice | None = None


@attrs.frozen
class Catalog:
    """The models list as fetched at ``fetched_at`` (Unix time) from ``url``; ``stale`` when it is older than the
    TTL and a fresh copy could not be had."""

    models: Mapping[str, CatalogModel]
    fetched_at: float
    url: str
    stale: bool = False

    @property
    def date(self) -> str:
        """When the list was fetched, as an ISO 8601 UTC timestamp (seconds)."""
        moment = datetime.datetime.fromtimestamp(self.fetched_at, tz=datetime.timezone.utc)
        return moment.isoformat(timespec="seconds")

    def age(self, now: float | None = None) -> float:
        """Seconds since the list was fetched."""
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)

    def find(self, ids: Iterator[str] | list[str]) -> CatalogModel | None:
        """The first of ``ids`` the catalog holds, else None."""
        for model_id in ids:
            found = self.models.get(model_id)
            if found is not None:
                return found
        return None

    def search(self, word: str | None = None) -> list[CatalogModel]:
        """Models whose id or name contains ``word`` (any case), sorted by id; all of them without a word."""
        lowered = (word or "").lower()
        hits = [m for m in self.models.values() if lowered in m.id.lower() or lowered in m.name.lower()]
        return sorted(hits, key=lambda m: m.id)


def _per_token(value: Any) -> float | None:
    """A per-token USD price (a decimal string or number) as USD per million tokens; None when absent or varying."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not number >= 0 or number == float("inf"):
        return None  # OpenRouter writes "-1" for a price that varies by request
    return round(number * _PER_MILLION, 9)


def _price(pricing: Any) -> TokenPrice | None:
    if not isinstance(pricing, Mapping):
        return None
    prompt, completion = _per_token(pricing.get("prompt")), _per_token(pricing.get("completion"))
    if prompt is None or completion is None:
        return None
    read = _per_token(pricing.get("input_cache_read"))
    write = _per_token(pricing.get("input_cache_write"))
    # A zero cache rate in the list means "no separate cache price", not "cached tokens are free".
    return TokenPrice(prompt, completion, cache_read_per_mtok=read or None, cache_write_per_mtok=write or None)


def parse_models(data: Any) -> dict[str, CatalogModel]:
    """The models of a ``/models`` answer by id (each also under its ``canonical_slug``); entries of the wrong
    shape are skipped. Raises ``ValueError`` when ``data`` is not a models list at all."""
    items = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise ValueError("a models list is a JSON object with a 'data' array")
    models: dict[str, CatalogModel] = {}
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            continue
        length = item.get("context_length")
        name = item.get("name")
        model = CatalogModel(
            id=item["id"],
            name=name if isinstance(name, str) else "",
            context_length=length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None,
            price=_price(item.get("pricing")),
        )
        models[model.id] = model
        slug = item.get("canonical_slug")
        if isinstance(slug, str) and slug not in models:
            models[slug] = model
    return models


# ----- the cache file -----------------------------------------------------------------------------------------


def _cache_file(url: str) -> str:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return os.path.join(cache_dir(), f"models-{digest}.json")


def _read_cache(url: str) -> Catalog | None:
    """The cached list for ``url``, or None when there is none or it cannot be read (a corrupt file is ignored)."""
    try:
        with open(_cache_file(url), "rb") as f:
            stored = json.loads(f.read())
        fetched_at = float(stored["fetched_at"])
        if stored.get("url") != url:
            return None
        return Catalog(parse_models(stored["models"]), fetched_at, url)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _write_cache(url: str, data: Any, fetched_at: float) -> None:
    """Store the list atomically; a folder that cannot be written only means no cache (never an error)."""
    target = _cache_file(url)
    text = json.dumps({"url": url, "fetched_at": fetched_at, "models": data}, ensure_ascii=False)
    tmp = None
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".minillm-", suffix=".tmp", dir=os.path.dirname(target))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def catalog_flow(url: str = OPENROUTER_MODELS_URL, *, ttl: float = CATALOG_TTL, refresh: bool = False) -> Flow:
    """The models list at ``url``: the cached copy while younger than ``ttl``, else fetched (and cached); when the
    fetch fails, the stale copy marked ``stale``; with neither, None. Returns a ``Catalog`` or None."""
    cached = _read_cache(url)
    now = time.time()
    if cached is not None and not refresh and 0 <= now - cached.fetched_at < ttl:
        return cached
    try:
        status, _headers, body = yield HTTPRequest("GET", url, (("Accept", "application/json"),))
        if not 200 <= status < 300:
            raise ValueError(f"status {status}")
        data = decode_json_body(body)
        models = parse_models(data)
    except (MiniLLMError, ValueError):
        return None if cached is None else attrs.evolve(cached, stale=True)
    _write_cache(url, data, now)
    return Catalog(models, now, url)


# ----- finding a generator's price -------------------------------------------------------------------------------


@attrs.frozen
class PriceQuote:
    """A price found for a model, where it came from (``"catalog"``) and as of when (ISO date or version)."""

    price: TokenPrice
    source: str = "catalog"
    date: str | None = None


def model_candidates(generator: GeneratorInfo) -> list[str]:
    """The exact ids the catalog may list ``generator``'s model under, most specific first."""
    model = generator.model
    ids: list[str] = []
    if generator.openrouter_name:
        ids.append(generator.openrouter_name)
    ids.append(model)
    prefix = {"openai": "openai/", "anthropic": "anthropic/"}.get(generator.provider.name)
    if prefix is not None and "/" not in model:
        base = _DATE_SUFFIX.sub("", model)
        ids.extend([prefix + model, prefix + base, prefix + _VERSION_DASH.sub(r"\1.\2", base)])
    return list(dict.fromkeys(ids))


def catalog_url(generator: GeneratorInfo) -> str:
    """Where ``generator``'s catalog lives: its own ``catalog_url``; an OpenRouter generator's own ``/models``;
    else OpenRouter's public list."""
    if generator.catalog_url:
        return generator.catalog_url
    if generator.provider.name == "openrouter":
        return generator.base_url.rstrip("/") + "/models"
    return OPENROUTER_MODELS_URL


def _rate(value: Any) -> float | None:
    """A flat per-million rate from genai-prices (a Decimal), else None (absent, or priced in tiers)."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def offline_price(generator: GeneratorInfo) -> PriceQuote | None:
    """The price in the optional ``genai-prices`` data for the direct OpenAI and Anthropic APIs, or None (the
    package missing, or the model not in it). Needs no network."""
    provider = generator.provider.name
    if provider not in ("openai", "anthropic"):
        return None
    try:
        import genai_prices
        from genai_prices import Usage as PricesUsage
    except ImportError:
        return None
    million = 1_000_000
    try:
        calc = genai_prices.calc_price(
            PricesUsage(input_tokens=million, output_tokens=million), model_ref=generator.model, provider_id=provider
        )
        price = TokenPrice(
            float(calc.input_price),
            float(calc.output_price),
            cache_read_per_mtok=_rate(getattr(calc.model_price, "cache_read_mtok", None)),
            cache_write_per_mtok=_rate(getattr(calc.model_price, "cache_write_mtok", None)),
        )
    except Exception:  # genai-prices raises LookupError (and others) for a model it does not know
        return None
    version = getattr(genai_prices, "__version__", None)
    return PriceQuote(price, "catalog", f"genai-prices {version}" if version else "genai-prices")


def price_flow(generator: GeneratorInfo) -> Flow:
    """The catalog price of ``generator``: offline data first, then the models list (fetched when needed).
    Returns a ``PriceQuote`` or None; never raises for a missing model or an unreachable catalog."""
    quote = offline_price(generator)
    if quote is not None:
        return quote
    catalog = yield from catalog_flow(catalog_url(generator))
    if catalog is None:
        return None
    found = catalog.find(model_candidates(generator))
    if found is None or found.price is None:
        return None
    return PriceQuote(found.price, "catalog", catalog.date)


def wants_catalog(generator: GeneratorInfo) -> bool:
    """Whether ``generator`` is priced from the catalog: as set by ``with_catalog_price``; by default only on
    OpenRouter, whose list is the provider's own (other generators never call a third party unasked)."""
    if generator.catalog_price is not None:
        return generator.catalog_price
    return generator.provider.name == "openrouter"


def cached_price(generator: GeneratorInfo) -> PriceQuote | None:
    """The catalog price from what is already on this machine (offline data, the cache file, stale or not);
    never a request."""
    quote = offline_price(generator)
    if quote is not None:
        return quote
    catalog = _read_cache(catalog_url(generator))
    found = None if catalog is None else catalog.find(model_candidates(generator))
    if catalog is None or found is None or found.price is None:
        return None
    return PriceQuote(found.price, "catalog", catalog.date)


def known_price(generator: GeneratorInfo, request_price: TokenPrice | None) -> PriceQuote | None:
    """The price a completion is charged at, and its source, without any request: the request's ``token_price``,
    else the generator's, else a catalog price already resolved on the generator or on this machine."""
    if request_price is not None:
        return PriceQuote(request_price, "request")
    if generator.token_price is not None:
        return PriceQuote(generator.token_price, "generator")
    if generator.catalog_quote is not None:
        return generator.catalog_quote
    return cached_price(generator) if wants_catalog(generator) else None


def resolve_flow(generator: GeneratorInfo, request_price: TokenPrice | None) -> Flow:
    """``known_price``, fetching the catalog when the generator wants it and nothing closer priced it. Returns a
    ``PriceQuote`` or None."""
    quote = known_price(generator, None if request_price is None else request_price)
    if quote is not None and quote.source != "catalog":
        return quote
    if not wants_catalog(generator):
        return None
    fetched = yield from price_flow(generator)
    return fetched if fetched is not None else quote
