"""What a completion returns, independent of the wire it came over."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.messages import ContentPart, Media, Message, MessageContent, ReasoningPart, TextPart
from minillm.core.tools import ToolCall

if TYPE_CHECKING:
    from minillm.core.usage import Usage

__all__ = ["CompletionResponse"]


class _Headers(Mapping[str, str]):
    """A response's HTTP headers under lower-case names, read from the transport's own mapping only when
    first used: most programs never look at them, and a provider sends twenty or more with every reply."""

    __slots__ = ("_lowered", "_source")

    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source
        self._lowered: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._lowered is None:
            self._lowered = {k.lower(): v for k, v in self._source.items()}
        return self._lowered

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


def _lower_keys(headers: Mapping[str, str]) -> Mapping[str, str]:
    return headers if isinstance(headers, _Headers) else _Headers(headers)


def _to_tuple(value: Iterable[Any] | None) -> tuple[Any, ...]:
    return () if value is None else tuple(value)


@attrs.frozen
class CompletionResponse:
    """A finished completion: its text, why it stopped, token usage, tool calls and the HTTP headers.

    ``headers`` has lower-case names, so ``response.headers["x-ratelimit-remaining-requests"]`` works
    whatever case the server used. ``reasoning`` is the model's readable reasoning (None when it sent none);
    ``refusal`` the text of a refusal (``""`` when the model refused without a reason, None when it did not
    refuse); ``reasoning_parts`` the provider's reasoning items that must go back with the turn.
    ``unknown_tool_calls`` keeps, as raw JSON text, tool-call entries of a type minillm does not know (OpenAI's
    ``"type": "custom"`` calls; in a stream, each piece as it came): they cannot be called back as
    ``ToolCall``s, but are not lost.
    """

    id: str
    model: str
    content: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tuple)
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    media: tuple[Media, ...] = attrs.field(default=(), converter=_to_tuple)
    reasoning: str | None = None
    refusal: str | None = None
    reasoning_parts: tuple[ReasoningPart, ...] = attrs.field(default=(), converter=_to_tuple)
    unknown_tool_calls: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)

    def _with_headers(self, headers: Mapping[str, str]) -> CompletionResponse:
        # attrs.evolve, written out: it runs once per request, and evolve's generic copy costs three times this.
        return CompletionResponse(
            self.id,
            self.model,
            self.content,
            self.finish_reason,
            self.usage,
            self.tool_calls,
            headers,
            self.media,
            self.reasoning,
            self.refusal,
            self.reasoning_parts,
            self.unknown_tool_calls,
        )

    def _headers_set(self, headers: Mapping[str, str]) -> CompletionResponse:
        """This response, just built by a wire's parser and not yet seen by anyone, given the HTTP headers in
        place: ``_with_headers`` without building a second response, once per request."""
        object.__setattr__(self, "headers", _lower_keys(headers))
        return self

    def is_complete(self) -> bool:
        """True when the model stopped on its own (``finish_reason == "stop"``)."""
        return self.finish_reason == "stop"

    def is_truncated(self) -> bool:
        """True when the token limit cut the text short (``finish_reason == "length"``)."""
        return self.finish_reason == "length"

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def is_refusal(self) -> bool:
        """True when the model refused (``refusal`` is set, even to ``""``)."""
        return self.refusal is not None

    def to_assistant_message(self, text: str | None = None) -> Message:
        """The assistant message for this response (``text`` replaces the content, e.g. after post-processing),
        with returned media as parts when there are any, and the reasoning, refusal and reasoning parts."""
        calls = self.tool_calls or None
        content: str | MessageContent = self.content if text is None else text
        if self.media:
            parts: list[ContentPart] = [TextPart(str(content))] if content else []
            parts.extend(ContentPart.from_media(m) for m in self.media)
            content = MessageContent(tuple(parts))
        return Message(
            "assistant",
            content,
            tool_calls=calls,
            reasoning=self.reasoning,
            refusal=self.refusal,
            reasoning_parts=self.reasoning_parts,
        )
