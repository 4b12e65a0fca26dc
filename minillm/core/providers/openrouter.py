"""The OpenRouter wire (``GeneratorInfo.openrouter``): the ``/chat/completions`` dialect plus routing,
attribution headers, prompt-cache markers for Claude models and native cost.

Differences from the shared dialect: reasoning goes as OpenRouter's ``reasoning`` object, and the
``reasoning_details`` of an assistant turn go back with it (encrypted items included); usage is asked for,
streamed or not, whenever costs are tracked (``"usage": {"include": true}``); the generator's app attribution
goes out as ``HTTP-Referer`` / ``X-Title``; media size hints stay in the parts; routing preferences go under
``provider``; cache marks become ``cache_control`` markers (the last four) when the model is a Claude model; the
usage parse adds OpenRouter's ``cost`` and ``cost_details.upstream_inference_cost``.

For streams that ended without usage, the cost can be looked up afterwards at ``/generation``
(reference §12.5): ``generation_request`` builds that request and ``parse_generation_record`` reads the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import attrs

from minillm.core.http import HTTPRequest
from minillm.core.providers.base import join_url
from minillm.core.providers.openai_wire import OpenAIDialect, ReasoningShape, UsageOptIn, parse_openai_usage

if TYPE_CHECKING:
    from minillm.core.auth import ResolvedCredential
    from minillm.core.usage import Usage

__all__ = ["OpenRouterProvider", "generation_request", "parse_generation_record"]

_CACHE_MODEL_MARKERS = ("claude", "anthropic")


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _count(value: object) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 0 and number.is_integer() else 0


@attrs.frozen
class OpenRouterProvider(OpenAIDialect):
    """OpenRouter's OpenAI-compatible API."""

    usage_opt_in: ClassVar[UsageOptIn] = "usage_include"
    keeps_estimation_metadata: ClassVar[bool] = True
    max_cache_breakpoints: ClassVar[int | None] = 4
    sends_attribution: ClassVar[bool] = True
    sends_routing: ClassVar[bool] = True
    reasoning_wire: ClassVar[str | None] = "openrouter"

    @property
    def name(self) -> str:
        return "openrouter"

    def reasoning_shape(self) -> ReasoningShape:
        """OpenRouter's ``reasoning`` object: ``effort`` or ``max_tokens``, and ``exclude``."""
        return "openrouter"

    def emits_cache_markers(self, model: str) -> bool:
        """Markers only for Claude models (the model id contains ``claude`` or ``anthropic``, any case)."""
        lowered = model.lower()
        return any(marker in lowered for marker in _CACHE_MODEL_MARKERS)

    def parse_usage(self, data: object) -> Usage | None:
        """The dialect's usage plus OpenRouter's ``cost`` and, for bring-your-own-key requests, the upstream
        charge ``cost_details.upstream_inference_cost``.

        OpenRouter also fills the upstream figure on requests paid with its credits (``is_byok: false``),
        where it is already part of ``cost``; it is dropped there so that cost + upstream is the real charge.
        """
        usage = parse_openai_usage(data)
        if usage is None or not isinstance(data, Mapping):
            return usage
        details = data.get("cost_details")
        upstream = _number(details.get("upstream_inference_cost")) if isinstance(details, Mapping) else None
        if data.get("is_byok") is False:
            upstream = None
        return attrs.evolve(usage, cost=_number(data.get("cost")), upstream_inference_cost=upstream)

    def cost_lookup_request(
        self, base_url: str, response_id: str, credential: ResolvedCredential | None
    ) -> HTTPRequest | None:
        """The out-of-band cost query for a reply that came without usage (``/generation``)."""
        return generation_request(base_url, response_id, credential) if response_id else None

    def parse_cost_lookup(self, data: Any) -> Usage | None:
        """The usage and cost in a ``/generation`` answer, or None while the record is not there yet."""
        return parse_generation_record(data)


def generation_request(base_url: str, generation_id: str, credential: ResolvedCredential | None) -> HTTPRequest:
    """The ``GET <base_url>/generation?id=<id>`` request that looks up a finished generation's cost.

    ``credential`` is sent as ``Authorization: Bearer``; without one the request carries no auth header (and
    OpenRouter will refuse it, which the caller counts as "not found yet").
    """
    url = join_url(base_url, "/generation") + "?" + urlencode({"id": generation_id})
    headers: list[tuple[str, str]] = []
    if credential is not None:
        headers.append(("Authorization", f"Bearer {credential.secret}"))
    return HTTPRequest("GET", url, headers)


def parse_generation_record(data: Any) -> Usage | None:
    """The usage and cost in a ``/generation`` answer (``{"data": {...record...}}``), or None when the record
    is not there yet.

    None when ``data`` or its numeric ``total_cost`` is missing. Otherwise: uncached =
    ``tokens_prompt - native_tokens_cached`` (at least 0), cache read = ``native_tokens_cached``, completion =
    ``tokens_completion``, reasoning = ``native_tokens_reasoning``, and cost = ``total_cost`` plus any
    ``upstream_inference_cost`` (a bring-your-own-key request costs its upstream charge, not $0); the
    upstream figure is folded into ``cost``, so ``upstream_inference_cost`` is None. A record marked
    ``is_byok: false`` was paid with OpenRouter credits, so its upstream figure is already inside
    ``total_cost`` and is not added again.
    """
    from minillm.core.usage import Usage

    record = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(record, Mapping):
        return None
    total_cost = _number(record.get("total_cost"))
    if total_cost is None:
        return None
    prompt = _count(record.get("tokens_prompt"))
    cached = _count(record.get("native_tokens_cached"))
    reasoning = record.get("native_tokens_reasoning")
    upstream = None if record.get("is_byok") is False else _number(record.get("upstream_inference_cost"))
    return Usage(
        uncached_input_tokens=max(prompt - cached, 0),
        cache_read_tokens=cached,
        cache_write_tokens=0,
        completion_tokens=_count(record.get("tokens_completion")),
        cost=total_cost + (upstream or 0.0),
        upstream_inference_cost=None,
        reasoning_tokens=None if _number(reasoning) is None else _count(reasoning),
    )
