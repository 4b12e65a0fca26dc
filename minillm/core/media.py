"""Media a message can carry: images, audio, video and PDF documents.

Each kind holds either base64 data or a URL (``is_url``), never guessing which from the format string.
Parts for the wire are built from these in ``minillm.core.messages``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar, TypeVar

import attrs

from minillm.core.errors import FileAccessError, InvalidParameterError

__all__ = ["AudioData", "DocumentData", "ImageData", "VideoData"]

_IMAGE_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "svg": "image/svg+xml",
}
_AUDIO_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "webm": "audio/webm",
    "m4a": "audio/aac",
    "aac": "audio/aac",
}
_VIDEO_MIME = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "mkv": "video/x-matroska",
    "flv": "video/x-flv",
    "wmv": "video/x-ms-wmv",
    "m4v": "video/x-m4v",
    "3gp": "video/3gpp",
    "ogv": "video/ogg",
}
_PDF_MIME = "application/pdf"
# Reprs show at most about this many characters of a URL (a data URL can be megabytes long).
_URL_REPR_LIMIT = 120


def _read_file(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FileAccessError(f"cannot read media file {os.fspath(path)!r}: {e.strerror or e}") from e


def _extension(path: str | os.PathLike[str]) -> str:
    """The text after the last dot of the file name, or "" when there is none."""
    name = os.path.basename(os.fspath(path))
    stem, dot, ext = name.rpartition(".")
    return ext if dot and stem else ""


def _decode(data: str) -> bytes:
    """The bytes of base64 text in its one canonical spelling (standard alphabet, padded), or an error."""
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidParameterError(f"media data is not valid base64: {e}") from e
    # b64decode lets extra padding and non-zero trailing bits through; standard base64 has one spelling.
    if base64.b64encode(decoded) != data.encode("ascii"):
        raise InvalidParameterError(
            "media data is not valid base64: it is not in canonical padded form (extra '=' or stray trailing bits)"
        )
    return decoded


def _check_base64(kind: str, data: str) -> None:
    """Refuse text that ``to_bytes`` could never decode, naming the constructor to use instead."""
    if not isinstance(data, str):
        raise InvalidParameterError(
            f"{kind}.from_base64 takes base64 text, got {type(data).__name__}; use {kind}.from_bytes for raw bytes"
        )
    try:
        _decode(data)
    except InvalidParameterError as e:
        looks_like_url = ":" in data[:12]
        hint = (
            f"use {kind}.from_url for a URL or data URL" if looks_like_url else f"use {kind}.from_bytes for raw bytes"
        )
        raise InvalidParameterError(f"{kind}.from_base64: {e}; {hint}") from e


def _short(data: str, limit: int = 40) -> str:
    """``data`` cut to about ``limit`` characters for a repr, saying how long it really is."""
    return data if len(data) <= limit else f"{data[: limit - 16]}...({len(data)} chars)"


def _clip_repr(data: str) -> str:
    """The repr of a URL or data URL, shortened so that inline media (megabytes of base64) stays readable."""
    return repr(_short(data, _URL_REPR_LIMIT))


_M = TypeVar("_M", bound="_Media")
_C = TypeVar("_C", bound="_Clip")


class _Media:
    """What every kind of media does alike: build from base64, bytes or a URL, give a data URL or the bytes
    back, and a repr that never dumps megabytes of base64.

    Each subclass is an attrs class whose first three fields are ``base64_data``, its MIME type or format,
    and ``is_url``, in that order; the constructors here rely on it. Subclasses keep their other fields,
    their MIME table and their ``with_*`` builders.
    """

    __slots__ = ()

    if TYPE_CHECKING:
        __attrs_attrs__: ClassVar[tuple[attrs.Attribute[object], ...]]
        base64_data: str
        is_url: bool

        def __init__(self, base64_data: str, kind: str = ..., is_url: bool = ..., /) -> None: ...

        @property
        def mime_type(self) -> str: ...

    @classmethod
    def _inline(cls: type[_M], data: str, kind: str) -> _M:
        """Inline media from base64 text, refused at once when the text is not base64."""
        _check_base64(cls.__name__, data)
        return cls(data, kind)

    @classmethod
    def _encoded(cls: type[_M], data: bytes, kind: str) -> _M:
        return cls(base64.b64encode(data).decode("ascii"), kind)

    @classmethod
    def from_url(cls: type[_M], url: str) -> _M:
        """Media by URL (a data URL too); it is sent as given and never downloaded."""
        return cls(url, "", True)

    def to_data_url(self) -> str:
        """The URL itself for URL media, else a ``data:`` URL of the inline bytes."""
        return self.base64_data if self.is_url else f"data:{self.mime_type};base64,{self.base64_data}"

    def to_bytes(self) -> bytes:
        """The inline bytes; URL media has none (download it first)."""
        if self.is_url:
            raise InvalidParameterError("this media is a URL; there are no bytes to decode (download it first)")
        return _decode(self.base64_data)

    def __repr__(self) -> str:
        fields = []
        for a in attrs.fields(type(self)):
            value = getattr(self, a.name)
            if a.name == "base64_data":
                # A URL may itself be a data URL (returned images are), so it is shortened too, just less.
                value = _short(value, _URL_REPR_LIMIT) if self.is_url else _short(value)
            elif value is None or (a.name == "is_url" and not value):
                continue
            fields.append(f"{a.name}={value!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


class _ByMimeType(_Media):
    """Media described by a MIME type such as "image/png"."""

    __slots__ = ()

    @classmethod
    def from_base64(cls: type[_M], data: str, mime_type: str) -> _M:
        """Inline media from base64 text (standard alphabet, padded), kept verbatim."""
        return cls._inline(data, mime_type)

    @classmethod
    def from_bytes(cls: type[_M], data: bytes, mime_type: str) -> _M:
        return cls._encoded(data, mime_type)


@attrs.frozen(repr=False)
class _Clip(_Media):
    """Audio or video: described by a format such as "wav" or "mp4" (the MIME type comes from the class's
    table), with an optional duration. The fields here come first in each subclass, in this order."""

    _MIME: ClassVar[tuple[str, Mapping[str, str]]]
    """The MIME family ("audio") and the table of known formats; an unknown format is "<family>/<format>"."""

    base64_data: str
    format: str = ""
    is_url: bool = False
    duration_secs: float | None = None

    @classmethod
    def from_base64(cls: type[_M], data: str, format: str) -> _M:
        """Inline media from base64 text (standard alphabet, padded), kept verbatim."""
        return cls._inline(data, format)

    @classmethod
    def from_bytes(cls: type[_M], data: bytes, format: str) -> _M:
        return cls._encoded(data, format)

    @classmethod
    def from_file(cls: type[_M], path: str | os.PathLike[str]) -> _M:
        """Read a clip; its format is the lower-cased file extension."""
        ext = _extension(path).lower()
        if not ext:
            raise InvalidParameterError(
                f"cannot determine media format for {os.fspath(path)!r}: the file has no extension; "
                f"use {cls.__name__}.from_bytes(data, format) instead"
            )
        return cls._encoded(_read_file(path), ext)

    @property
    def mime_type(self) -> str:
        family, known = self._MIME
        return known.get(self.format, f"{family}/{self.format}")

    def with_duration(self: _C, seconds: float) -> _C:
        return attrs.evolve(self, duration_secs=seconds)


@attrs.frozen(repr=False)
class ImageData(_ByMimeType):
    """An image, inline (base64 plus a MIME type) or by URL; ``detail`` and size are optional hints."""

    base64_data: str
    mime_type: str = ""
    is_url: bool = False
    detail: str | None = None
    width: int | None = None
    height: int | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ImageData:
        """Read an image; the MIME type comes from the extension (unknown ones: application/octet-stream)."""
        mime = _IMAGE_MIME.get(_extension(path), "application/octet-stream")
        return cls.from_bytes(_read_file(path), mime)

    def with_detail(self, detail: str) -> ImageData:
        return attrs.evolve(self, detail=detail)

    def with_dimensions(self, width: int, height: int) -> ImageData:
        return attrs.evolve(self, width=width, height=height)


@attrs.frozen(repr=False)
class AudioData(_Clip):
    """An audio clip, inline (base64 plus a format such as "wav" or "mp3") or by URL."""

    _MIME: ClassVar[tuple[str, Mapping[str, str]]] = ("audio", _AUDIO_MIME)

    sample_rate: int | None = None
    channels: int | None = None

    def with_sample_rate(self, hz: int) -> AudioData:
        return attrs.evolve(self, sample_rate=hz)

    def with_channels(self, channels: int) -> AudioData:
        return attrs.evolve(self, channels=channels)


@attrs.frozen(repr=False)
class VideoData(_Clip):
    """A video clip, inline (base64 plus a format such as "mp4") or by URL."""

    _MIME: ClassVar[tuple[str, Mapping[str, str]]] = ("video", _VIDEO_MIME)

    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None

    def with_dimensions(self, width: int, height: int) -> VideoData:
        return attrs.evolve(self, width=width, height=height)

    def with_frame_rate(self, fps: float) -> VideoData:
        return attrs.evolve(self, frame_rate=fps)


@attrs.frozen(repr=False)
class DocumentData(_ByMimeType):
    """A PDF document, inline (base64) or by URL, with an optional file name and page count."""

    base64_data: str
    mime_type: str = _PDF_MIME
    is_url: bool = False
    filename: str | None = None
    page_count: int | None = None

    @classmethod
    def from_base64(cls, data: str, mime_type: str = _PDF_MIME) -> DocumentData:
        """An inline document from base64 text (standard alphabet, padded), PDF unless told otherwise."""
        return cls._inline(data, mime_type)

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str = _PDF_MIME) -> DocumentData:
        return cls._encoded(data, mime_type)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DocumentData:
        """Read a PDF (extension ``.pdf`` in any case); the file name is kept for the wire."""
        if _extension(path).lower() != "pdf":
            raise InvalidParameterError(
                f"cannot determine media format for {os.fspath(path)!r}: only PDF documents (.pdf) are supported"
            )
        return attrs.evolve(cls._encoded(_read_file(path), _PDF_MIME), filename=os.path.basename(os.fspath(path)))

    def with_filename(self, filename: str) -> DocumentData:
        return attrs.evolve(self, filename=filename)

    def with_page_count(self, pages: int) -> DocumentData:
        return attrs.evolve(self, page_count=pages)

    def resolved_filename(self) -> str:
        """The name sent on the wire: the explicit one, else the URL's last path segment, else document.pdf."""
        if self.filename is not None and self.filename.strip():
            return self.filename.strip()
        if self.is_url:
            derived = _filename_from_url(self.base64_data)
            if derived:
                return derived
        return "document.pdf"


def _filename_from_url(url: str) -> str | None:
    """The last path segment of a URL, or None when there is no usable one: a data URL, a URL with neither a
    scheme nor a leading ``//``, a bare host, a path ending in ``/``, or a segment holding ``\\`` or ``:``."""
    if url[:5].lower() == "data:":
        return None
    for stop in ("?", "#"):
        cut = url.find(stop)
        if cut != -1:
            url = url[:cut]
    if url.startswith("//"):
        rest = url[2:]
    else:
        scheme_end = url.find("://")
        if scheme_end == -1:
            return None
        rest = url[scheme_end + 3 :]
    slash = rest.find("/")
    if slash == -1:
        return None
    segment = rest[slash + 1 :].rpartition("/")[2]
    if not segment or "\\" in segment or ":" in segment:
        return None
    return segment
