"""Reasoning and refusals in scripted replies, and the test server's check of Anthropic's thinking rules.

A scripted reply carries ``Thought`` values: readable thinking with a signature, or a redacted (encrypted)
item. Each wire writes them its own way:

- Anthropic (``/v1/messages``): ``thinking`` blocks (``thinking`` + ``signature``) and ``redacted_thinking``
  blocks (``data``) before the text; streamed as ``thinking_delta`` then ``signature_delta`` events.
- OpenRouter (requests under ``/api/v1``, the server's ``openrouter_base_url``): ``message.reasoning`` plus
  ``reasoning_details`` (``reasoning.text`` with its ``signature``, ``reasoning.encrypted`` with its
  ``data``); streamed as ``delta.reasoning`` and ``delta.reasoning_details`` pieces, the signature last.
- Any other chat-completions path: ``reasoning_content``, the field DeepSeek and vLLM use (OpenAI itself
  sends no reasoning text on this API); redacted thoughts have no form there and are left out.

A refusal is ``message.refusal`` (``delta.refusal`` in streams) on the chat-completions wires, where an empty
one reads as no refusal (OpenAI always says why), and ``stop_reason: "refusal"`` with ``stop_details`` on
Anthropic's, where it may have no text.

Signatures the server makes are a digest of the thought's text, so ``anthropic_rule_violation`` can tell a
thinking block that came back changed, as the real API does. It also answers, like the real API, that a
tool-result turn must follow an assistant turn that kept its thinking blocks while thinking is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
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


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


# ----- Anthropic -------------------------------------------------------------------------------------


def anthropic_blocks(thoughts: Iterable[Thought]) -> list[dict[str, Any]]:
    """The thinking and redacted_thinking blocks of a Messages response."""
    out: list[dict[str, Any]] = []
    for t in thoughts:
        if t.redacted:
            out.append({"type": "redacted_thinking", "data": t.data})
        else:
            out.append({"type": "thinking", "thinking": t.text, "signature": t.signed})
    return out


def anthropic_stream(thoughts: Iterable[Thought], chunk_size: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, event)`` pairs streaming the thoughts as content blocks 0, 1, ...; events without an index
    are not produced."""
    for index, t in enumerate(thoughts):
        if t.redacted:
            block = {"type": "redacted_thinking", "data": t.data}
            yield index, {"type": "content_block_start", "index": index, "content_block": block}
        else:
            start = {"type": "thinking", "thinking": "", "signature": ""}
            yield index, {"type": "content_block_start", "index": index, "content_block": start}
            for piece in _pieces(t.text, chunk_size):
                delta = {"type": "thinking_delta", "thinking": piece}
                yield index, {"type": "content_block_delta", "index": index, "delta": delta}
            signature = {"type": "signature_delta", "signature": t.signed}
            yield index, {"type": "content_block_delta", "index": index, "delta": signature}
        yield index, {"type": "content_block_stop", "index": index}


def anthropic_stop_details(refusal: str) -> dict[str, Any]:
    """The ``stop_details`` of a refusal (``explanation`` null when the refusal has no text)."""
    return {"type": "refusal", "category": None, "explanation": refusal or None}


# ----- chat completions --------------------------------------------------------------------------------


def is_openrouter_path(path: str) -> bool:
    """True for requests under ``/api/v1``, where the server speaks OpenRouter's reasoning fields."""
    return "/api/v1/" in path


def _detail(t: Thought, index: int) -> dict[str, Any]:
    if t.redacted:
        return {"type": "reasoning.encrypted", "data": t.data, "format": _OPENROUTER_FORMAT, "index": index}
    return {
        "type": "reasoning.text",
        "text": t.text,
        "signature": t.signed,
        "format": _OPENROUTER_FORMAT,
        "index": index,
    }


def message_fields(thoughts: tuple[Thought, ...], refusal: str | None, openrouter: bool) -> dict[str, Any]:
    """Keys to add to a chat-completions ``message``: reasoning, reasoning details, refusal."""
    out: dict[str, Any] = {}
    text = "".join(t.text for t in thoughts if not t.redacted)
    if openrouter and thoughts:
        out["reasoning"] = text or None
        out["reasoning_details"] = [_detail(t, i) for i, t in enumerate(thoughts)]
    elif text:
        out["reasoning_content"] = text
    if refusal is not None:
        out["refusal"] = refusal
    return out


def stream_deltas(
    thoughts: tuple[Thought, ...], refusal: str | None, openrouter: bool, size: int
) -> Iterator[dict[str, Any]]:
    """The ``delta`` objects that stream the thoughts (before the content) and the refusal."""
    for index, t in enumerate(thoughts):
        if not openrouter:
            if not t.redacted:
                yield from ({"reasoning_content": piece} for piece in _pieces(t.text, size))
            continue
        if t.redacted:
            yield {"reasoning": None, "reasoning_details": [_detail(t, index)]}
            continue
        for piece in _pieces(t.text, size):
            detail = {"type": "reasoning.text", "text": piece, "format": _OPENROUTER_FORMAT, "index": index}
            yield {"reasoning": piece, "reasoning_details": [detail]}
        last = {"type": "reasoning.text", "signature": t.signed, "format": _OPENROUTER_FORMAT, "index": index}
        yield {"reasoning": None, "reasoning_details": [last]}
    if refusal == "":
        yield {"refusal": ""}
    elif refusal is not None:
        yield from ({"refusal": piece} for piece in _pieces(refusal, size))


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
