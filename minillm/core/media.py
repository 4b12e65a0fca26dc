"""Media a message can carry: images, audio, video and PDF documents.

Each kind holds either base64 data or a URL (``is_url``), never guessing which from the format string.
Parts for the wire are built from these in ``minillm.core.messages``.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

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


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode(data: str, is_url: bool) -> bytes:
    if is_url:
        raise InvalidParameterError("this media is a URL; there are no bytes to decode (download it first)")
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


def _short(data: str, limit: int = 40) -> str:
    """``data`` cut to about ``limit`` characters for a repr, saying how long it really is."""
    return data if len(data) <= limit else f"{data[: limit - 16]}...({len(data)} chars)"


def _clip_repr(data: str) -> str:
    """The repr of a URL or data URL, shortened so that inline media (megabytes of base64) stays readable."""
    return repr(_short(data, _URL_REPR_LIMIT))


def _data_url(mime: str, data: str, is_url: bool) -> str:
    return data if is_url else f"data:{mime};base64,{data}"


def _media_repr(self: Any) -> str:
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


@attrs.frozen(repr=False)
class ImageData:
    """An image, inline (base64 plus a MIME type) or by URL; ``detail`` and size are optional hints."""

    base64_data: str
    mime_type: str = ""
    is_url: bool = False
    detail: str | None = None
    width: int | None = None
    height: int | None = None

    __repr__ = _media_repr

    @classmethod
    def from_base64(cls, data: str, mime_type: str) -> ImageData:
        return cls(base64_data=data, mime_type=mime_type)

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str) -> ImageData:
        return cls(base64_data=_encode(data), mime_type=mime_type)

    @classmethod
    def from_url(cls, url: str) -> ImageData:
        return cls(base64_data=url, is_url=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ImageData:
        """Read an image; the MIME type comes from the extension (unknown ones: application/octet-stream)."""
        mime = _IMAGE_MIME.get(_extension(path), "application/octet-stream")
        return cls.from_bytes(_read_file(path), mime)

    def with_detail(self, detail: str) -> ImageData:
        return attrs.evolve(self, detail=detail)

    def with_dimensions(self, width: int, height: int) -> ImageData:
        return attrs.evolve(self, width=width, height=height)

    def to_data_url(self) -> str:
        return _data_url(self.mime_type, self.base64_data, self.is_url)

    def to_bytes(self) -> bytes:
        return _decode(self.base64_data, self.is_url)


@attrs.frozen(repr=False)
class AudioData:
    """An audio clip, inline (base64 plus a format such as "wav" or "mp3") or by URL."""

    base64_data: str
    format: str = ""
    is_url: bool = False
    duration_secs: float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    __repr__ = _media_repr

    @classmethod
    def from_base64(cls, data: str, format: str) -> AudioData:
        return cls(base64_data=data, format=format)

    @classmethod
    def from_bytes(cls, data: bytes, format: str) -> AudioData:
        return cls(base64_data=_encode(data), format=format)

    @classmethod
    def from_url(cls, url: str) -> AudioData:
        return cls(base64_data=url, is_url=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AudioData:
        """Read a clip; its format is the lower-cased file extension."""
        ext = _extension(path).lower()
        if not ext:
            raise InvalidParameterError(
                f"cannot determine media format for {os.fspath(path)!r}: the file has no extension; "
                "use AudioData.from_bytes(data, format) instead"
            )
        return cls.from_bytes(_read_file(path), ext)

    @property
    def mime_type(self) -> str:
        return _AUDIO_MIME.get(self.format, f"audio/{self.format}")

    def with_duration(self, seconds: float) -> AudioData:
        return attrs.evolve(self, duration_secs=seconds)

    def with_sample_rate(self, hz: int) -> AudioData:
        return attrs.evolve(self, sample_rate=hz)

    def with_channels(self, channels: int) -> AudioData:
        return attrs.evolve(self, channels=channels)

    def to_data_url(self) -> str:
        return _data_url(self.mime_type, self.base64_data, self.is_url)

    def to_bytes(self) -> bytes:
        return _decode(self.base64_data, self.is_url)


@attrs.frozen(repr=False)
class VideoData:
    """A video clip, inline (base64 plus a format such as "mp4") or by URL."""

    base64_data: str
    format: str = ""
    is_url: bool = False
    duration_secs: float | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None

    __repr__ = _media_repr

    @classmethod
    def from_base64(cls, data: str, format: str) -> VideoData:
        return cls(base64_data=data, format=format)

    @classmethod
    def from_bytes(cls, data: bytes, format: str) -> VideoData:
        return cls(base64_data=_encode(data), format=format)

    @classmethod
    def from_url(cls, url: str) -> VideoData:
        return cls(base64_data=url, is_url=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> VideoData:
        """Read a clip; its format is the lower-cased file extension."""
        ext = _extension(path).lower()
        if not ext:
            raise InvalidParameterError(
                f"cannot determine media format for {os.fspath(path)!r}: the file has no extension; "
                "use VideoData.from_bytes(data, format) instead"
            )
        return cls.from_bytes(_read_file(path), ext)

    @property
    def mime_type(self) -> str:
        return _VIDEO_MIME.get(self.format, f"video/{self.format}")

    def with_duration(self, seconds: float) -> VideoData:
        return attrs.evolve(self, duration_secs=seconds)

    def with_dimensions(self, width: int, height: int) -> VideoData:
        return attrs.evolve(self, width=width, height=height)

    def with_frame_rate(self, fps: float) -> VideoData:
        return attrs.evolve(self, frame_rate=fps)

    def to_data_url(self) -> str:
        return _data_url(self.mime_type, self.base64_data, self.is_url)

    def to_bytes(self) -> bytes:
        return _decode(self.base64_data, self.is_url)


@attrs.frozen(repr=False)
class DocumentData:
    """A PDF document, inline (base64) or by URL, with an optional file name and page count."""

    base64_data: str
    mime_type: str = _PDF_MIME
    is_url: bool = False
    filename: str | None = None
    page_count: int | None = None

    __repr__ = _media_repr

    @classmethod
    def from_base64(cls, data: str, mime_type: str = _PDF_MIME) -> DocumentData:
        return cls(base64_data=data, mime_type=mime_type)

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str = _PDF_MIME) -> DocumentData:
        return cls(base64_data=_encode(data), mime_type=mime_type)

    @classmethod
    def from_url(cls, url: str) -> DocumentData:
        return cls(base64_data=url, mime_type="", is_url=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DocumentData:
        """Read a PDF (extension ``.pdf`` in any case); the file name is kept for the wire."""
        if _extension(path).lower() != "pdf":
            raise InvalidParameterError(
                f"cannot determine media format for {os.fspath(path)!r}: only PDF documents (.pdf) are supported"
            )
        data = _read_file(path)
        return cls(base64_data=_encode(data), filename=os.path.basename(os.fspath(path)))

    def with_filename(self, filename: str) -> DocumentData:
        return attrs.evolve(self, filename=filename)

    def with_page_count(self, pages: int) -> DocumentData:
        return attrs.evolve(self, page_count=pages)

    def to_data_url(self) -> str:
        return _data_url(self.mime_type, self.base64_data, self.is_url)

    def to_bytes(self) -> bytes:
        return _decode(self.base64_data, self.is_url)

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
    """The last path segment of a URL, or None when it has none usable (reference §14.5 rules)."""
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
