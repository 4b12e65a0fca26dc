"""The models list the test server serves at ``GET .../models`` (OpenRouter's shape: prices in USD per token,
as decimal strings), so that catalog prices can be tried with no network. The figures are examples in the
published shape, not anyone's current prices."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MODELS", "model_entry"]


def model_entry(
    model_id: str,
    *,
    prompt_per_mtok: float | None,
    completion_per_mtok: float | None,
    cache_read_per_mtok: float | None = None,
    cache_write_per_mtok: float | None = None,
    context_length: int = 128_000,
    name: str | None = None,
) -> dict[str, Any]:
    """One entry of a models list, with prices given per million tokens (None: ``"-1"``, a varying price)."""

    def per_token(value: float | None) -> str:
        return "-1" if value is None else f"{value / 1_000_000:.12f}".rstrip("0").rstrip(".") or "0"

    pricing = {"prompt": per_token(prompt_per_mtok), "completion": per_token(completion_per_mtok)}
    if cache_read_per_mtok is not None:
        pricing["input_cache_read"] = per_token(cache_read_per_mtok)
    if cache_write_per_mtok is not None:
        pricing["input_cache_write"] = per_token(cache_write_per_mtok)
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name or model_id,
        "context_length": context_length,
        "pricing": pricing,
    }


DEFAULT_MODELS: list[dict[str, Any]] = [
    model_entry("mock-model", prompt_per_mtok=1.0, completion_per_mtok=2.0, context_length=32_000, name="Mock model"),
    model_entry("openai/gpt-4o-mini", prompt_per_mtok=0.15, completion_per_mtok=0.6, cache_read_per_mtok=0.075),
    model_entry("openai/gpt-4o", prompt_per_mtok=2.5, completion_per_mtok=10.0, cache_read_per_mtok=1.25),
    model_entry(
        "anthropic/claude-haiku-4.5",
        prompt_per_mtok=1.0,
        completion_per_mtok=5.0,
        cache_read_per_mtok=0.1,
        cache_write_per_mtok=1.25,
        context_length=200_000,
    ),
    model_entry("google/gemini-2.5-flash-lite", prompt_per_mtok=0.1, completion_per_mtok=0.4, context_length=1_048_576),
    model_entry("openrouter/auto", prompt_per_mtok=None, completion_per_mtok=None, context_length=2_000_000),
]
"""What a fresh server lists; replace it with ``MockLLMServer.set_models``."""
