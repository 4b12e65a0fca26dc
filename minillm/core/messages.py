"""Messages and their content: roles, text, and multimodal parts.

A ``MessageContent`` is either plain text or a tuple of ``ContentPart``s. Parts serialize to the OpenAI
``/chat/completions`` part shapes, which is also how saved threads store them.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.media import AudioData, DocumentData, ImageData, VideoData, _clip_repr
from minillm.core.tools import ToolCall

__all__ = [
    "AudioPart",
    "ContentPart",
    "FilePart",
    "ImagePart",
    "Media",
    "Message",
    "MessageContent",
    "ReasoningPart",
    "Role",
    "TextPart",
    "VideoPart",
    "merge_contiguous",
]

Media = ImageData | AudioData | VideoData | DocumentData


class Role(str, enum.Enum):
    """Who speaks a message. The values are the lower-case wire strings."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"

    def __str__(self) -> str:
        return self.value


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _obj(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameterError(f"{where} must be a JSON object, not {_kind(value)}")
    return value


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    if key not in d:
        raise InvalidParameterError(f"{where} needs a {key!r} key")
    value = d[key]
    if not isinstance(value, str):
        raise InvalidParameterError(f"{where}: {key!r} must be a string, not {_kind(value)}")
    return value


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if d.get(key) is None else _str(d, key, where)


def _opt_int(d: Mapping[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidParameterError(f"{where}: {key!r} must be an integer, not {_kind(value)}")
    return value


def _opt_float(d: Mapping[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidParameterError(f"{where}: {key!r} must be a number, not {_kind(value)}")
    return value


@attrs.frozen
class ContentPart(abc.ABC):
    """One part of a multimodal message. The subclasses are the kinds; build them from media with
    ``ContentPart.from_media``."""

    type: ClassVar[str] = ""

    @abc.abstractmethod
    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        """The OpenAI-wire JSON of this part; ``estimation_metadata=False`` drops size/duration hints."""

    @staticmethod
    def of_text(text: str) -> TextPart:
        return TextPart(text)

    @staticmethod
    def from_media(media: Media) -> ContentPart:
        """The part that carries this media: an image, audio, video or file part."""
        if isinstance(media, ImageData):
            return ImagePart(media.to_data_url(), media.detail, media.width, media.height)
        if isinstance(media, AudioData):
            return AudioPart(media.base64_data, None if media.is_url else media.format, media.duration_secs)
        if isinstance(media, VideoData):
            return VideoPart(media.to_data_url(), media.duration_secs, media.width, media.height)
        if isinstance(media, DocumentData):
            return FilePart(media.resolved_filename(), media.to_data_url(), media.page_count)
        raise InvalidParameterError(f"not a media object: {type(media).__name__}")

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ContentPart:
        """Parse a part from its JSON form; an unknown ``type`` raises ``InvalidParameterError``."""
        kind = _str(_obj(data, "a content part"), "type", "a content part")
        if kind == "text":
            return TextPart(_str(data, "text", "a text part"))
        if kind not in ("image_url", "input_audio", "video_url", "file"):
            raise InvalidParameterError(
                f"unknown content part type {kind!r}; expected text, image_url, input_audio, video_url or file"
            )
        where = f"the {kind!r} object of a content part"
        if kind not in data:
            raise InvalidParameterError(f"a content part of type {kind!r} needs a {kind!r} key")
        inner = _obj(data[kind], where)
        if kind == "image_url":
            return ImagePart(
                _str(inner, "url", where),
                _opt_str(inner, "detail", where),
                _opt_int(inner, "width", where),
                _opt_int(inner, "height", where),
            )
        if kind == "input_audio":
            return AudioPart(
                _str(inner, "data", where), _opt_str(inner, "format", where), _opt_float(inner, "duration_secs", where)
            )
        if kind == "video_url":
            return VideoPart(
                _str(inner, "url", where),
                _opt_float(inner, "duration_secs", where),
                _opt_int(inner, "width", where),
                _opt_int(inner, "height", where),
            )
        return FilePart(
            _opt_str(inner, "filename", where) or "document.pdf",
            _str(inner, "file_data", where),
            _opt_int(inner, "page_count", where),
        )


@attrs.frozen
class TextPart(ContentPart):
    """Plain text inside a multimodal message."""

    type: ClassVar[str] = "text"
    text: str

    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@attrs.frozen
class ImagePart(ContentPart):
    """An image by URL or data URL, with optional ``detail`` and size hints."""

    type: ClassVar[str] = "image_url"
    url: str = attrs.field(repr=_clip_repr)
    detail: str | None = None
    width: int | None = None
    height: int | None = None

    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        inner: dict[str, Any] = {"url": self.url, "detail": self.detail}
        if estimation_metadata:
            inner.update(width=self.width, height=self.height)
        return {"type": "image_url", "image_url": _drop_none(inner)}


@attrs.frozen
class AudioPart(ContentPart):
    """Audio as base64 data (with its ``format``) or a URL (no format)."""

    type: ClassVar[str] = "input_audio"
    data: str = attrs.field(repr=_clip_repr)
    format: str | None = None
    duration_secs: float | None = None

    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        inner: dict[str, Any] = {"data": self.data, "format": self.format}
        if estimation_metadata:
            inner["duration_secs"] = self.duration_secs
        return {"type": "input_audio", "input_audio": _drop_none(inner)}


@attrs.frozen
class VideoPart(ContentPart):
    """A video by URL or data URL."""

    type: ClassVar[str] = "video_url"
    url: str = attrs.field(repr=_clip_repr)
    duration_secs: float | None = None
    width: int | None = None
    height: int | None = None

    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        inner: dict[str, Any] = {"url": self.url}
        if estimation_metadata:
            inner.update(duration_secs=self.duration_secs, width=self.width, height=self.height)
        return {"type": "video_url", "video_url": _drop_none(inner)}


@attrs.frozen
class FilePart(ContentPart):
    """A document (PDF) as a data URL or URL, with the file name the provider shows the model."""

    type: ClassVar[str] = "file"
    filename: str
    file_data: str = attrs.field(repr=_clip_repr)
    page_count: int | None = None

    def to_dict(self, *, estimation_metadata: bool = True) -> dict[str, Any]:
        inner: dict[str, Any] = {"filename": self.filename, "file_data": self.file_data}
        if estimation_metadata:
            inner["page_count"] = self.page_count
        return {"type": "file", "file": _drop_none(inner)}


def _to_value(value: str | Iterable[ContentPart]) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if not isinstance(value, Iterable) or isinstance(value, (bytes, bytearray, Mapping)):
        raise InvalidParameterError(
            f"message content must be a str or a sequence of ContentPart objects, not {type(value).__name__}"
        )
    parts = tuple(value)
    for p in parts:
        if not isinstance(p, ContentPart):
            raise InvalidParameterError(f"message content parts must be ContentPart objects, got {type(p).__name__}")
    return parts


@attrs.frozen
class MessageContent:
    """A message's content: a plain string, or a tuple of parts (text, image, audio, video, file)."""

    value: str | tuple[ContentPart, ...] = attrs.field(default="", converter=_to_value)

    @classmethod
    def text(cls, text: str) -> MessageContent:
        return cls(text)

    @classmethod
    def from_parts(cls, parts: Iterable[ContentPart]) -> MessageContent:
        return cls(tuple(parts))

    @classmethod
    def with_media(cls, text: str, media: Iterable[Media]) -> MessageContent:
        """A text part followed by one part per media item."""
        return cls((TextPart(text), *(ContentPart.from_media(m) for m in media)))

    @classmethod
    def with_images(cls, text: str, images: Iterable[ImageData]) -> MessageContent:
        return cls.with_media(text, images)

    @classmethod
    def with_audio(cls, text: str, clips: Iterable[AudioData]) -> MessageContent:
        return cls.with_media(text, clips)

    @classmethod
    def with_video(cls, text: str, videos: Iterable[VideoData]) -> MessageContent:
        return cls.with_media(text, videos)

    @classmethod
    def with_documents(cls, text: str, documents: Iterable[DocumentData]) -> MessageContent:
        return cls.with_media(text, documents)

    @property
    def is_text(self) -> bool:
        """True for plain-string content."""
        return isinstance(self.value, str)

    @property
    def parts(self) -> tuple[ContentPart, ...]:
        """The content as parts (plain text becomes one text part)."""
        return (TextPart(self.value),) if isinstance(self.value, str) else self.value

    def get_text(self) -> str | None:
        """The plain string, or the first text part; None when there is no text part."""
        if isinstance(self.value, str):
            return self.value
        for p in self.value:
            if isinstance(p, TextPart):
                return p.text
        return None

    def all_text(self) -> str:
        """The plain string, or every text part joined with newlines."""
        if isinstance(self.value, str):
            return self.value
        return "\n".join(p.text for p in self.value if isinstance(p, TextPart))

    def has_multimodal(self) -> bool:
        """True when a parts list holds anything other than text."""
        return not isinstance(self.value, str) and any(not isinstance(p, TextPart) for p in self.value)

    def merge(self, other: MessageContent) -> MessageContent:
        """Join two contents: two strings with a newline, otherwise the parts one after the other."""
        a, b = self.value, other.value
        if isinstance(a, str) and isinstance(b, str):
            return MessageContent(f"{a}\n{b}")
        return MessageContent((*_as_parts(a), *_as_parts(b)))

    def map_text(self, fn: Callable[[str], str]) -> MessageContent:
        """A copy with ``fn`` applied to the string or to every text part (other parts untouched)."""
        if isinstance(self.value, str):
            return MessageContent(fn(self.value))
        return MessageContent(tuple(TextPart(fn(p.text)) if isinstance(p, TextPart) else p for p in self.value))

    def to_json(self, *, estimation_metadata: bool = True) -> str | list[dict[str, Any]]:
        if isinstance(self.value, str):
            return self.value
        return [p.to_dict(estimation_metadata=estimation_metadata) for p in self.value]

    @classmethod
    def from_json(cls, data: object) -> MessageContent:
        """Parse content from a string or a list of part objects."""
        if isinstance(data, str):
            return cls(data)
        if isinstance(data, list):
            return cls(tuple(ContentPart.from_dict(p) for p in data))
        raise InvalidParameterError(f"message content must be a string or a list of parts, not {type(data).__name__}")


def _as_parts(value: str | tuple[ContentPart, ...]) -> tuple[ContentPart, ...]:
    return (TextPart(value),) if isinstance(value, str) else value


def _to_content(value: str | MessageContent | Sequence[ContentPart]) -> MessageContent:
    if type(value) is str:  # the usual content, checked first
        return MessageContent(value)
    if isinstance(value, MessageContent):
        return value
    if isinstance(value, str):
        return MessageContent(value)
    if isinstance(value, (list, tuple)):
        return MessageContent(tuple(value))
    raise InvalidParameterError(f"message content must be a str or a MessageContent, not {type(value).__name__}")


_ROLES: dict[object, Role] = {r.value: r for r in Role}


def _to_role(value: Role | str) -> Role:
    if type(value) is Role:
        return value
    try:
        return _ROLES[value]
    except (KeyError, TypeError):
        raise InvalidParameterError(f"unknown role {value!r}; expected one of system, user, assistant, tool") from None


def _to_tool_calls(value: Iterable[ToolCall] | None) -> tuple[ToolCall, ...] | None:
    return None if value is None else tuple(value)


def _to_block(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise InvalidParameterError(f"a reasoning block must be a JSON object with a string 'type', not {_kind(value)}")
    return dict(value)


@attrs.frozen
class ReasoningPart:
    """One reasoning item of an assistant turn, kept so the turn can be sent back to the wire that made it.

    ``wire`` names that wire (``"anthropic"`` or ``"openrouter"``); ``block`` is the item exactly as the
    provider sent it: an Anthropic ``thinking`` block with its ``signature``, a ``redacted_thinking`` block
    with its ``data``, or an OpenRouter ``reasoning_details`` entry (``reasoning.text``, ``reasoning.summary``,
    ``reasoning.encrypted``). ``after_tool_calls`` is how many of the turn's tool calls came before it, so a
    turn that interleaves thinking and tool calls is rebuilt in its original order. Only the wire that made a
    part ever sends it; every other wire leaves it out (reasoning is never sent back as text).
    """

    wire: str
    block: dict[str, Any] = attrs.field(converter=_to_block, repr=False, hash=False)
    after_tool_calls: int = 0

    @property
    def type(self) -> str:
        """The block's own type, e.g. ``"thinking"``, ``"redacted_thinking"``, ``"reasoning.encrypted"``."""
        return str(self.block["type"])

    @property
    def text(self) -> str:
        """The readable reasoning in this part (``""`` for redacted or encrypted parts)."""
        for key in ("thinking", "text", "summary"):
            value = self.block.get(key)
            if isinstance(value, str):
                return value
        return ""

    @property
    def redacted(self) -> bool:
        """True for a part whose reasoning is encrypted (no readable text)."""
        return self.type in ("redacted_thinking", "reasoning.encrypted")

    def to_dict(self) -> dict[str, Any]:
        """The saved form: ``{"wire", "block", "after_tool_calls"?}``."""
        out: dict[str, Any] = {"wire": self.wire, "block": self.block}
        if self.after_tool_calls:
            out["after_tool_calls"] = self.after_tool_calls
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReasoningPart:
        """Read the ``to_dict`` form; a malformed entry raises ``InvalidParameterError``."""
        where = "a reasoning part"
        data = _obj(data, where)
        after = _opt_int(data, "after_tool_calls", where) or 0
        return cls(_str(data, "wire", where), _obj(data.get("block"), f"{where}'s 'block'"), after)


def _to_reasoning_parts(value: Iterable[ReasoningPart]) -> tuple[ReasoningPart, ...]:
    if type(value) is tuple and not value:  # the usual message has none
        return ()
    parts = tuple(value)
    for p in parts:
        if not isinstance(p, ReasoningPart):
            raise InvalidParameterError(f"reasoning parts must be ReasoningPart objects, got {type(p).__name__}")
    return parts


@attrs.frozen
class Message:
    """One message: who speaks (``role``), what they say (``content``), and tool-call bookkeeping.

    ``cache_breakpoint`` asks providers that support prompt caching to cache up to here. An assistant message
    may also carry the model's ``reasoning`` (readable text, never sent back as text), a ``refusal`` (the text
    of a refusal; ``""`` when the model refused without saying why) and ``reasoning_parts``: the provider's own
    reasoning items, which the wire that made them re-sends with the turn.
    """

    role: Role = attrs.field(converter=_to_role)
    content: MessageContent = attrs.field(converter=_to_content)
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] | None = attrs.field(default=None, converter=_to_tool_calls)
    cache_breakpoint: bool = False
    reasoning: str | None = None
    refusal: str | None = None
    reasoning_parts: tuple[ReasoningPart, ...] = attrs.field(default=(), converter=_to_reasoning_parts)

    @classmethod
    def system(cls, content: str | MessageContent) -> Message:
        return cls(Role.SYSTEM, content)

    @classmethod
    def user(cls, content: str | MessageContent) -> Message:
        return cls(Role.USER, content)

    @classmethod
    def assistant(cls, content: str | MessageContent) -> Message:
        return cls(Role.ASSISTANT, content)

    @classmethod
    def tool(cls, call_id: str, content: str | MessageContent) -> Message:
        """The result of the tool call ``call_id``."""
        return cls(Role.TOOL, content, tool_call_id=call_id)

    def with_name(self, name: str) -> Message:
        return attrs.evolve(self, name=name)

    @property
    def text(self) -> str | None:
        """The first text of the content (the plain string, or the first text part)."""
        return self.content.get_text()

    def has_multimodal_content(self) -> bool:
        return self.content.has_multimodal()

    def _is_plain(self) -> bool:
        return not self.tool_calls and self.tool_call_id is None and not self.reasoning_parts


def merge_contiguous(messages: Iterable[Message]) -> list[Message]:
    """Merge each run of plain messages with the same role and name into one (cache marks are ORed).

    Messages carrying tool calls or a tool-call id are never merged. Only outgoing prompts are merged;
    threads keep every message as it was.
    """
    out: list[Message] = []
    for msg in messages:
        if out:
            prev = out[-1]
            if prev.role == msg.role and prev.name == msg.name and prev._is_plain() and msg._is_plain():
                out[-1] = attrs.evolve(
                    prev,
                    content=prev.content.merge(msg.content),
                    cache_breakpoint=prev.cache_breakpoint or msg.cache_breakpoint,
                )
                continue
        out.append(msg)
    return out
