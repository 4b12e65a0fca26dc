"""Extended thinking on the native Anthropic wire: the ``thinking`` request object and the refusal text.

A ``ReasoningConfig`` becomes ``{"type": "enabled", "budget_tokens": N}``. An explicit token budget is sent as
it is; an effort is a share of ``max_tokens`` (``EFFORT_SHARES``, the scheme OpenRouter documents for Claude
models), at least 1024 and at most ``MAX_EFFORT_BUDGET``. Anthropic's own rules are checked before anything is
sent: the budget is at least 1024 and below ``max_tokens``; ``top_k`` is unset, ``top_p`` at least 0.95 and the
tool choice ``auto`` or ``none``. Temperature is the one rule minillm adjusts instead of refusing: with thinking
on it is left out (Anthropic then uses 1, the only value it accepts), so the default 0.7 does not break every
thinking request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from minillm.core.errors import InvalidParameterError

if TYPE_CHECKING:
    from minillm.core.params import CompletionParameters, ReasoningConfig

__all__ = [
    "EFFORT_SHARES",
    "MAX_EFFORT_BUDGET",
    "MIN_THINKING_BUDGET",
    "refusal_text",
    "thinking_budget",
    "thinking_json",
]

# Anthropic's smallest thinking budget.
MIN_THINKING_BUDGET = 1024
# An effort's thinking budget, as a share of max_tokens (the scheme OpenRouter documents for Claude), capped.
EFFORT_SHARES: dict[str, float] = {"minimal": 0.1, "low": 0.2, "medium": 0.5, "high": 0.8, "xhigh": 0.9}
MAX_EFFORT_BUDGET = 32_000


def thinking_budget(reasoning: ReasoningConfig, max_tokens: int) -> int | None:
    """The ``budget_tokens`` for ``reasoning`` under ``max_tokens``, or None for no thinking (effort "none").

    An explicit ``max_tokens`` budget is taken as it is; an effort is a share of ``max_tokens``
    (``EFFORT_SHARES``), at least ``MIN_THINKING_BUDGET`` and at most ``MAX_EFFORT_BUDGET``. Anthropic refuses a
    budget under 1024 or not below ``max_tokens``, so those raise ``InvalidParameterError`` here, before sending.
    """
    if reasoning.max_tokens is not None:
        budget = reasoning.max_tokens
        if budget < MIN_THINKING_BUDGET:
            raise InvalidParameterError(
                f"a thinking budget of {budget} tokens is too small: Anthropic needs at least "
                f"{MIN_THINKING_BUDGET}; use ReasoningConfig(max_tokens={MIN_THINKING_BUDGET}) or more"
            )
    elif reasoning.effort is None or reasoning.effort == "none":
        return None
    else:
        share = EFFORT_SHARES.get(reasoning.effort)
        if share is None:
            known = ", ".join(repr(e) for e in ("none", *EFFORT_SHARES))
            raise InvalidParameterError(
                f"unknown reasoning effort {reasoning.effort!r} for the Anthropic wire; use one of {known}, or "
                "a token budget with ReasoningConfig(max_tokens=...)"
            )
        budget = min(max(int(max_tokens * share), MIN_THINKING_BUDGET), MAX_EFFORT_BUDGET)
    if budget >= max_tokens:
        raise InvalidParameterError(
            f"the thinking budget ({budget} tokens) must be below max_tokens ({max_tokens}), which covers the "
            f"thinking and the answer together; raise max_tokens (with_max_tokens({budget * 2}), say) or lower "
            "the budget"
        )
    return budget


def thinking_json(params: CompletionParameters, max_tokens: int) -> dict[str, Any] | None:
    """The ``thinking`` object for the parameters' reasoning, None when thinking stays off.

    With thinking on, Anthropic accepts only temperature 1 (its default), no ``top_k``, ``top_p`` of at least
    0.95, and a tool choice of ``auto`` or ``none``. minillm adjusts the temperature (it is left out, so the
    default of 0.7 does not make every thinking request fail) and refuses the others, which a caller sets on
    purpose.
    """
    if params.reasoning is None:
        return None
    budget = thinking_budget(params.reasoning, max_tokens)
    if budget is None:
        return None
    if params.top_k is not None:
        raise InvalidParameterError("Anthropic does not accept top_k with extended thinking; unset top_k")
    if params.top_p is not None and params.top_p < 0.95:
        raise InvalidParameterError(
            f"Anthropic accepts top_p only from 0.95 to 1 with extended thinking, not {params.top_p}; unset top_p"
        )
    choice = params.tool_choice
    if choice is not None and choice.kind in ("required", "tool"):
        raise InvalidParameterError(
            "Anthropic does not allow forcing a tool (ToolChoice.required() or .tool(name)) with extended "
            "thinking; use ToolChoice.auto() or turn thinking off for this request"
        )
    return {"type": "enabled", "budget_tokens": budget}


def refusal_text(stop: object, details: object) -> str | None:
    """The refusal text for ``stop_reason: "refusal"``: ``stop_details.explanation`` when given, else ``""``;
    None for any other stop reason."""
    if stop != "refusal":
        return None
    explanation = details.get("explanation") if isinstance(details, Mapping) else None
    return explanation if isinstance(explanation, str) else ""
