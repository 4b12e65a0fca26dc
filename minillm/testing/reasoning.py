"""Reasoning in scripted replies, and the test server's check of Anthropic's thinking rules.

A scripted reply carries ``Thought`` values: readable thinking with a signature, or a redacted (encrypted)
item. Each wire writes them, and refusals, its own way: see its renderer (``minillm.testing.renderers.openai``:
``reasoning_content``, or OpenRouter's ``reasoning`` and ``reasoning_details`` under ``/api/v1``;
``minillm.testing.renderers.anthropic``: ``thinking`` and ``redacted_thinking`` blocks).

Signatures the server makes are a digest of the thought's text, so ``anthropic_rule_violation`` can tell a
thinking block that came back changed, as the real API does. It also answers, like the real API, that a
tool-result turn must follow an assistant turn that kept its thinking blocks while thinking is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from minillm.core.errors import InvalidParameterError

__all__ = ["Thought", "anthropic_rule_violation", "to_thoughts"]

_SIGNATURE_PREFIX = "mlt1"
_OPENROUTER_FORMAT = "anthropic-claude-v1"


def make_signature(text: str) -> str:
    """The signature the server gives a thought with this text (a digest, so a changed text shows)."""
    return _SIGNATURE_PREFIX + hashlib.sha256(("minillm-testing\0" + text).encode("utf-8")).hexdigest()[:40]


@attrs.frozen
class Thought:
    """One reasoning item of a scripted reply: readable ``text`` with a ``signature`` (made from the text
    when None), or, with ``redacted=True``, an encrypted item whose ``data`` is opaque."""

    text: str = ""
    signature: str | None = None
    redacted: bool = False
    data: str = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPkNRj2YfWXGmKDxH4mPnZ5sQ7vB5URj"

    @property
    def signed(self) -> str:
        """The signature sent with the text."""
        return self.signature if self.signature is not None else make_signature(self.text)


def to_thoughts(value: str | Thought | Iterable[str | Thought] | None) -> tuple[Thought, ...]:
    """Scripted reasoning as thoughts: a string is one readable thought."""
    if value is None:
        return ()
    if isinstance(value, (str, Thought)):
        value = (value,)
    out: list[Thought] = []
    for item in value:
        if isinstance(item, str):
            out.append(Thought(item))
        elif isinstance(item, Thought):
            out.append(item)
        else:
            raise InvalidParameterError(f"scripted reasoning must be text or Thought values, got {item!r}")
    return tuple(out)


# ----- the server's check of Anthropic's rules ----------------------------------------------------------


def _blocks(turn: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = turn.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, Mapping)]


def anthropic_rule_violation(body: Any) -> str | None:
    """What the real Messages API would refuse with a 400 in this request body, or None.

    With ``thinking`` enabled: the budget must be at least 1024 and below ``max_tokens``; a user turn holding
    tool results must follow an assistant turn that starts with its thinking blocks; and a thinking block the
    server signed must come back with the text it was signed for.
    """
    if not isinstance(body, Mapping):
        return None
    messages = body.get("messages")
    turns = [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []
    for turn in turns:
        for block in _blocks(turn):
            signature = block.get("signature")
            if block.get("type") != "thinking" or not isinstance(signature, str):
                continue
            if signature.startswith(_SIGNATURE_PREFIX) and make_signature(str(block.get("thinking"))) != signature:
                return "messages: Invalid `signature` in `thinking` block"
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return None
    budget, max_tokens = thinking.get("budget_tokens"), body.get("max_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if isinstance(max_tokens, int) and budget >= max_tokens:
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    if not turns or turns[-1].get("role") != "user":
        return None
    if not any(b.get("type") == "tool_result" for b in _blocks(turns[-1])):
        return None
    previous = next((t for t in reversed(turns[:-1]) if t.get("role") == "assistant"), None)
    first = _blocks(previous)[:1] if previous is not None else []
    if not first or first[0].get("type") not in ("thinking", "redacted_thinking"):
        return (
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `"
            + (str(first[0].get("type")) if first else "text")
            + "`. When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
            "thinking blocks from previous turns."
        )
    return None
