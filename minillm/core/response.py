"""What a completion returns, independent of the wire it came over."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.messages import ContentPart, Media, Message, MessageContent, TextPart
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
    whatever case the server used. ``unknown_tool_calls`` keeps, as raw JSON text, tool-call entries of a
    type minillm does not know (OpenAI's ``"type": "custom"`` calls; in a stream, each piece as it came):
    they cannot be called back as ``ToolCall``s, but are not lost.
    """

    id: str
    model: str
    content: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=_to_tuple)
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)
    media: tuple[Media, ...] = attrs.field(default=(), converter=_to_tuple)
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
            self.unknown_tool_calls,
        )

    def is_complete(self) -> bool:
        """True when the model stopped on its own (``finish_reason == "stop"``)."""
        return self.finish_reason == "stop"

    def is_truncated(self) -> bool:
        """True when the token limit cut the text short (``finish_reason == "length"``)."""
        return self.finish_reason == "length"

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def to_assistant_message(self) -> Message:
        """The assistant message for this response, with returned media as parts when there are any."""
        calls = self.tool_calls or None
        if not self.media:
            return (
                Message.assistant(self.content)
                if calls is None
                else Message("assistant", self.content, tool_calls=calls)
            )
        parts: list[ContentPart] = [TextPart(self.content)] if self.content else []
        parts.extend(ContentPart.from_media(m) for m in self.media)
        return Message("assistant", MessageContent(tuple(parts)), tool_calls=calls)
