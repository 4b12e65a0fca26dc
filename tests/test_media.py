"""Media types: construction, format guessing from file names, data URLs, decoding, file names and reprs."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import attrs
import pytest

from minillm import (
    AudioData,
    ContentPart,
    DocumentData,
    FileAccessError,
    ImageData,
    InvalidParameterError,
    MiniLLMError,
    VideoData,
)

MediaClass = type[ImageData] | type[AudioData] | type[VideoData] | type[DocumentData]

# One inline constructor per kind, each with a format its kind accepts.
INLINE: list[tuple[Any, str]] = [
    (ImageData, "image/png"),
    (AudioData, "wav"),
    (VideoData, "mp4"),
    (DocumentData, "application/pdf"),
]
# A file name per kind whose extension from_file accepts.
GOOD_NAME = {ImageData: "pic.png", AudioData: "clip.wav", VideoData: "movie.mp4", DocumentData: "paper.pdf"}


def _write(tmp_path: pathlib.Path, name: str, data: bytes = b"abc") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ----- ImageData -------------------------------------------------------------------------------------


def test_image_from_bytes_is_inline_base64_with_the_given_mime() -> None:
    img = ImageData.from_bytes(b"abc", "image/png")
    assert img.base64_data == "YWJj"
    assert img.mime_type == "image/png"
    assert img.is_url is False
    assert (img.detail, img.width, img.height) == (None, None, None)
    assert img.to_data_url() == "data:image/png;base64,YWJj"
    assert img.to_bytes() == b"abc"


def test_image_from_base64_keeps_the_text_verbatim() -> None:
    img = ImageData.from_base64("AAEC", "image/gif")
    assert img.base64_data == "AAEC"
    assert img.mime_type == "image/gif"
    assert img.is_url is False
    assert img.to_data_url() == "data:image/gif;base64,AAEC"
    assert img.to_bytes() == b"\x00\x01\x02"


def test_image_from_url_is_a_url_with_empty_mime() -> None:
    img = ImageData.from_url("https://example.com/cat.png")
    assert img.is_url is True
    assert img.base64_data == "https://example.com/cat.png"
    assert img.mime_type == ""
    assert img.to_data_url() == "https://example.com/cat.png"


def test_a_data_url_given_as_url_is_passed_through_verbatim() -> None:
    img = ImageData.from_url("data:image/png;base64,YWJj")
    assert img.is_url is True
    assert img.to_data_url() == "data:image/png;base64,YWJj"


def test_the_format_string_url_does_not_make_inline_data_a_url() -> None:
    img = ImageData.from_bytes(b"abc", "url")
    assert img.is_url is False
    assert img.base64_data == "YWJj"
    assert img.to_data_url() == "data:url;base64,YWJj"
    assert img.to_bytes() == b"abc"


def test_image_builders_return_copies() -> None:
    img = ImageData.from_url("https://example.com/a.png")
    detailed = img.with_detail("low")
    sized = detailed.with_dimensions(640, 480)
    assert detailed.detail == "low"
    assert (sized.detail, sized.width, sized.height) == ("low", 640, 480)
    assert img.detail is None
    assert (detailed.width, detailed.height) == (None, None)
    assert sized.base64_data == img.base64_data


def test_media_is_frozen() -> None:
    img = ImageData.from_bytes(b"abc", "image/png")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        img.mime_type = "image/gif"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("a.webp", "image/webp"),
        ("a.bmp", "image/bmp"),
        ("a.svg", "image/svg+xml"),
        ("holiday.photo.jpeg", "image/jpeg"),
        # Exact, case-sensitive match: anything else is octet-stream, never an error.
        ("a.PNG", "application/octet-stream"),
        ("a.Jpg", "application/octet-stream"),
        ("a.JPEG", "application/octet-stream"),
        ("a.tiff", "application/octet-stream"),
        ("a.txt", "application/octet-stream"),
        ("noextension", "application/octet-stream"),
        (".png", "application/octet-stream"),
        ("a.tar.gz", "application/octet-stream"),
    ],
)
def test_image_from_file_guesses_the_mime_from_the_extension(tmp_path: pathlib.Path, name: str, mime: str) -> None:
    img = ImageData.from_file(_write(tmp_path, name, b"abc"))
    assert img.mime_type == mime
    assert img.base64_data == "YWJj"
    assert img.is_url is False
    assert img.to_data_url() == f"data:{mime};base64,YWJj"


def test_image_from_file_accepts_a_str_path(tmp_path: pathlib.Path) -> None:
    path = _write(tmp_path, "a.webp", b"\x00\x01\x02")
    img = ImageData.from_file(str(path))
    assert img == ImageData.from_bytes(b"\x00\x01\x02", "image/webp")


def test_an_extension_on_a_folder_name_does_not_count(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "pics.png"
    folder.mkdir()
    img = ImageData.from_file(_write(folder, "raw", b"abc"))
    assert img.mime_type == "application/octet-stream"


# ----- AudioData -------------------------------------------------------------------------------------


def test_audio_from_bytes_and_base64() -> None:
    clip = AudioData.from_bytes(b"RIFF", "wav")
    assert (clip.base64_data, clip.format, clip.is_url) == ("UklGRg==", "wav", False)
    assert clip.to_data_url() == "data:audio/wav;base64,UklGRg=="
    assert clip.to_bytes() == b"RIFF"
    assert AudioData.from_base64("UklGRg==", "wav") == clip


def test_audio_from_url_has_no_format() -> None:
    clip = AudioData.from_url("https://example.com/a.mp3")
    assert clip.is_url is True
    assert clip.format == ""
    assert clip.base64_data == "https://example.com/a.mp3"
    assert clip.to_data_url() == "https://example.com/a.mp3"


def test_audio_builders_return_copies() -> None:
    clip = AudioData.from_bytes(b"RIFF", "wav")
    done = clip.with_duration(2.5).with_sample_rate(16000).with_channels(2)
    assert (done.duration_secs, done.sample_rate, done.channels) == (2.5, 16000, 2)
    assert (clip.duration_secs, clip.sample_rate, clip.channels) == (None, None, None)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("wav", "audio/wav"),
        ("mp3", "audio/mpeg"),
        ("ogg", "audio/ogg"),
        ("flac", "audio/flac"),
        ("webm", "audio/webm"),
        ("m4a", "audio/aac"),
        ("aac", "audio/aac"),
        ("opus", "audio/opus"),
        ("url", "audio/url"),
    ],
)
def test_audio_mime_type_per_format(fmt: str, mime: str) -> None:
    clip = AudioData.from_bytes(b"abc", fmt)
    assert clip.mime_type == mime
    assert clip.to_data_url() == f"data:{mime};base64,YWJj"


@pytest.mark.parametrize(
    ("name", "fmt", "mime"),
    [
        ("a.wav", "wav", "audio/wav"),
        ("a.mp3", "mp3", "audio/mpeg"),
        ("a.ogg", "ogg", "audio/ogg"),
        ("a.flac", "flac", "audio/flac"),
        ("a.webm", "webm", "audio/webm"),
        ("a.m4a", "m4a", "audio/aac"),
        ("a.aac", "aac", "audio/aac"),
        ("a.opus", "opus", "audio/opus"),
        ("LOUD.MP3", "mp3", "audio/mpeg"),
        ("Mixed.Wav", "wav", "audio/wav"),
        ("take.2.FLAC", "flac", "audio/flac"),
    ],
)
def test_audio_from_file_format_is_the_lower_cased_extension(
    tmp_path: pathlib.Path, name: str, fmt: str, mime: str
) -> None:
    clip = AudioData.from_file(_write(tmp_path, name, b"abc"))
    assert clip.format == fmt
    assert clip.mime_type == mime
    assert clip.is_url is False
    assert clip.base64_data == "YWJj"


def test_an_audio_file_named_dot_url_is_inline_with_format_url(tmp_path: pathlib.Path) -> None:
    clip = AudioData.from_file(_write(tmp_path, "clip.url", b"abc"))
    assert clip.format == "url"
    assert clip.is_url is False
    assert clip.base64_data == "YWJj"
    assert clip.to_data_url() == "data:audio/url;base64,YWJj"
    assert ContentPart.from_media(clip).to_dict() == {
        "type": "input_audio",
        "input_audio": {"data": "YWJj", "format": "url"},
    }


@pytest.mark.parametrize("name", ["noextension", ".wav"])
def test_audio_from_file_without_extension_is_an_error(tmp_path: pathlib.Path, name: str) -> None:
    path = _write(tmp_path, name)
    with pytest.raises(InvalidParameterError, match="cannot determine media format") as info:
        AudioData.from_file(path)
    assert name in str(info.value)


def test_audio_url_part_has_no_format_and_inline_part_has_one() -> None:
    url_part = ContentPart.from_media(AudioData.from_url("https://example.com/a.mp3"))
    assert url_part.to_dict() == {"type": "input_audio", "input_audio": {"data": "https://example.com/a.mp3"}}
    inline_part = ContentPart.from_media(AudioData.from_bytes(b"abc", "mp3").with_duration(1.5))
    assert inline_part.to_dict() == {
        "type": "input_audio",
        "input_audio": {"data": "YWJj", "format": "mp3", "duration_secs": 1.5},
    }


# ----- VideoData -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("mp4", "video/mp4"),
        ("webm", "video/webm"),
        ("mov", "video/quicktime"),
        ("avi", "video/x-msvideo"),
        ("mkv", "video/x-matroska"),
        ("flv", "video/x-flv"),
        ("wmv", "video/x-ms-wmv"),
        ("m4v", "video/x-m4v"),
        ("3gp", "video/3gpp"),
        ("ogv", "video/ogg"),
        ("mpeg", "video/mpeg"),
    ],
)
def test_video_mime_type_per_format(fmt: str, mime: str) -> None:
    clip = VideoData.from_bytes(b"abc", fmt)
    assert clip.mime_type == mime
    assert clip.to_data_url() == f"data:{mime};base64,YWJj"


def test_video_from_file_url_and_builders(tmp_path: pathlib.Path) -> None:
    clip = VideoData.from_file(_write(tmp_path, "Holiday.MOV", b"abc"))
    assert (clip.format, clip.mime_type, clip.base64_data, clip.is_url) == ("mov", "video/quicktime", "YWJj", False)
    built = clip.with_duration(12.0).with_dimensions(1920, 1080).with_frame_rate(29.97)
    assert (built.duration_secs, built.width, built.height, built.frame_rate) == (12.0, 1920, 1080, 29.97)
    assert (clip.duration_secs, clip.width, clip.frame_rate) == (None, None, None)
    url = VideoData.from_url("https://example.com/v.mp4")
    assert (url.is_url, url.format, url.to_data_url()) == (True, "", "https://example.com/v.mp4")
    assert VideoData.from_base64("YWJj", "mov") == clip


def test_video_from_file_without_extension_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidParameterError, match="cannot determine media format"):
        VideoData.from_file(_write(tmp_path, "movie"))


def test_video_frame_rate_never_reaches_the_part() -> None:
    clip = VideoData.from_bytes(b"abc", "mp4").with_frame_rate(30.0).with_duration(3.0).with_dimensions(4, 3)
    assert ContentPart.from_media(clip).to_dict() == {
        "type": "video_url",
        "video_url": {"url": "data:video/mp4;base64,YWJj", "duration_secs": 3.0, "width": 4, "height": 3},
    }


# ----- DocumentData ----------------------------------------------------------------------------------


def test_document_from_bytes_defaults_to_pdf() -> None:
    doc = DocumentData.from_bytes(b"%PDF-1.7")
    assert (doc.base64_data, doc.mime_type, doc.is_url) == ("JVBERi0xLjc=", "application/pdf", False)
    assert (doc.filename, doc.page_count) == (None, None)
    assert doc.to_data_url() == "data:application/pdf;base64,JVBERi0xLjc="
    assert doc.to_bytes() == b"%PDF-1.7"
    assert DocumentData.from_base64("JVBERi0xLjc=") == doc


def test_document_from_url() -> None:
    doc = DocumentData.from_url("https://example.com/paper.pdf")
    assert (doc.is_url, doc.mime_type, doc.base64_data) == (True, "", "https://example.com/paper.pdf")
    assert doc.to_data_url() == "https://example.com/paper.pdf"


def test_document_builders_return_copies() -> None:
    doc = DocumentData.from_bytes(b"%PDF-1.7")
    named = doc.with_filename("a.pdf").with_page_count(7)
    assert (named.filename, named.page_count) == ("a.pdf", 7)
    assert (doc.filename, doc.page_count) == (None, None)


@pytest.mark.parametrize("name", ["report.pdf", "REPORT.PDF", "Report.Pdf", "v1.2.pdf"])
def test_document_from_file_accepts_pdf_in_any_case(tmp_path: pathlib.Path, name: str) -> None:
    doc = DocumentData.from_file(_write(tmp_path, name, b"%PDF-1.7"))
    assert doc.mime_type == "application/pdf"
    assert doc.base64_data == "JVBERi0xLjc="
    assert doc.is_url is False
    # Decision of this port: a document read from a file keeps its file name for the wire.
    assert doc.filename == name
    assert doc.resolved_filename() == name


@pytest.mark.parametrize("name", ["notes.docx", "notes.txt", "noextension", ".pdf", "pdf"])
def test_document_from_file_rejects_anything_but_pdf(tmp_path: pathlib.Path, name: str) -> None:
    path = _write(tmp_path, name, b"%PDF-1.7")
    with pytest.raises(InvalidParameterError, match="cannot determine media format"):
        DocumentData.from_file(path)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x/reports/2024-annual.pdf?dl=1#page=2", "2024-annual.pdf"),
        ("https://x/paper.pdf?dl=1", "paper.pdf"),
        ("https://x/paper.pdf#page=2", "paper.pdf"),
        ("https://example.com", "document.pdf"),
        ("https://example.com/", "document.pdf"),
        ("//example.com", "document.pdf"),
        ("//example.com/", "document.pdf"),
        ("//example.com/paper.pdf", "paper.pdf"),
        ("//example.com/x://y/c.pdf", "c.pdf"),
        ("my_app://example.com", "document.pdf"),
        ("my_app://example.com/paper.pdf", "paper.pdf"),
        ("mailto:someone@example.com", "document.pdf"),
        ("data:application/pdf;base64,JVBERi0=", "document.pdf"),
        ("DATA:application/pdf;base64,JVBERi0=", "document.pdf"),
        ("Data:application/pdf;base64,JVBERi0=", "document.pdf"),
        ("C:\\Users\\me\\report.pdf", "document.pdf"),
        ("https://x/report.pdf/", "document.pdf"),
        # More cases that follow from the same rules.
        ("https://x/a/b/c/deep.pdf", "deep.pdf"),
        ("https://x/dir\\evil.pdf", "document.pdf"),
        ("https://x/a:b.pdf", "document.pdf"),
        ("https://x?q=/fake.pdf", "document.pdf"),
        ("https://x#/fake.pdf", "document.pdf"),
        ("https://x/real.pdf?next=/other.pdf", "real.pdf"),
        ("report.pdf", "document.pdf"),
    ],
)
def test_document_url_file_name(url: str, expected: str) -> None:
    doc = DocumentData.from_url(url)
    assert doc.resolved_filename() == expected
    part = ContentPart.from_media(doc)
    # The file name is derived, but file_data always keeps the URL whole.
    assert part.to_dict() == {"type": "file", "file": {"filename": expected, "file_data": url}}


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("  report.pdf ", "report.pdf"),
        ("report.pdf", "report.pdf"),
        ("\tq3 results.pdf\n", "q3 results.pdf"),
        ("", "paper.pdf"),
        ("   ", "paper.pdf"),
    ],
)
def test_document_explicit_file_name_is_trimmed_and_blank_counts_as_unset(filename: str, expected: str) -> None:
    doc = DocumentData.from_url("https://x/paper.pdf?dl=1").with_filename(filename)
    assert doc.resolved_filename() == expected
    assert ContentPart.from_media(doc).to_dict()["file"]["filename"] == expected


@pytest.mark.parametrize("filename", [None, "", "  "])
def test_inline_document_without_a_name_is_document_pdf(filename: str | None) -> None:
    doc = DocumentData.from_bytes(b"%PDF-1.7", "application/weird")
    if filename is not None:
        doc = doc.with_filename(filename)
    assert doc.resolved_filename() == "document.pdf"
    assert ContentPart.from_media(doc).to_dict() == {
        "type": "file",
        "file": {"filename": "document.pdf", "file_data": "data:application/weird;base64,JVBERi0xLjc="},
    }


def test_document_part_carries_page_count_as_estimation_metadata() -> None:
    doc = DocumentData.from_bytes(b"%PDF-1.7").with_filename("a.pdf").with_page_count(3)
    part = ContentPart.from_media(doc)
    assert part.to_dict() == {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjc=", "page_count": 3},
    }
    assert part.to_dict(estimation_metadata=False) == {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjc="},
    }


# ----- shared behaviour: files, decoding ------------------------------------------------------------


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_bytes_round_trip_for_every_kind(cls: Any, fmt: str) -> None:
    data = bytes(range(256))
    assert cls.from_bytes(data, fmt).to_bytes() == data


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_to_bytes_of_a_url_is_an_error(cls: Any, fmt: str) -> None:
    media = cls.from_url("https://example.com/thing")
    with pytest.raises(InvalidParameterError, match="URL"):
        media.to_bytes()


BAD_BASE64 = ["abc", "!!!", "!!!!", "YW Jj", "é123", "YWJj====", "YR==", "YWJj\n"]


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
@pytest.mark.parametrize("bad", BAD_BASE64)
def test_to_bytes_of_bad_base64_is_an_error(cls: Any, fmt: str, bad: str) -> None:
    media = cls(bad, fmt)  # the constructor takes the text as it is; only to_bytes decodes it
    with pytest.raises(InvalidParameterError, match="not valid base64"):
        media.to_bytes()


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
@pytest.mark.parametrize("bad", BAD_BASE64)
def test_from_base64_refuses_text_that_is_not_base64(cls: Any, fmt: str, bad: str) -> None:
    with pytest.raises(InvalidParameterError, match="not valid base64") as info:
        cls.from_base64(bad, fmt)
    message = str(info.value)
    assert message.startswith(f"{cls.__name__}.from_base64: ")
    assert f"{cls.__name__}.from_bytes" in message  # what to do instead


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_from_base64_points_a_data_url_to_from_url(cls: Any, fmt: str) -> None:
    with pytest.raises(InvalidParameterError, match=rf"use {cls.__name__}\.from_url"):
        cls.from_base64("data:image/png;base64,YWJj", fmt)


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_from_base64_refuses_bytes(cls: Any, fmt: str) -> None:
    with pytest.raises(InvalidParameterError, match="from_bytes"):
        cls.from_base64(b"YWJj", fmt)


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
@pytest.mark.parametrize("good", ["", "YQ==", "YWI=", "YWJj", "AAEC/+9z"])
def test_from_base64_keeps_any_canonical_text(cls: Any, fmt: str, good: str) -> None:
    media = cls.from_base64(good, fmt)
    assert media.base64_data == good and media.is_url is False
    assert media.to_bytes() == base64.b64decode(good)


@pytest.mark.parametrize("cls", [ImageData, AudioData, VideoData, DocumentData])
def test_missing_file_is_a_file_access_error(tmp_path: pathlib.Path, cls: Any) -> None:
    path = tmp_path / GOOD_NAME[cls]
    with pytest.raises(FileAccessError) as info:
        cls.from_file(path)
    assert isinstance(info.value, MiniLLMError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cls", [ImageData, AudioData, VideoData, DocumentData])
def test_a_folder_is_a_file_access_error(tmp_path: pathlib.Path, cls: Any) -> None:
    folder = tmp_path / GOOD_NAME[cls]
    folder.mkdir()
    with pytest.raises(FileAccessError):
        cls.from_file(folder)


def test_invalid_parameter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        AudioData.from_url("https://example.com/a.wav").to_bytes()


# ----- reprs -----------------------------------------------------------------------------------------

ONE_MB = b"\xff" * 1_000_000


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_repr_of_inline_media_does_not_dump_the_data(cls: Any, fmt: str) -> None:
    media = cls.from_bytes(ONE_MB, fmt)
    text = repr(media)
    assert len(text) < 200
    assert text.startswith(f"{cls.__name__}(")
    assert "1333336 chars" in text
    assert fmt in text


@pytest.mark.parametrize(("cls", "fmt"), INLINE)
def test_repr_of_a_huge_data_url_given_as_url_stays_short(cls: Any, fmt: str) -> None:
    # Images a model returns arrive as data URLs in URL form; their repr must not be megabytes long.
    data_url = ImageData.from_bytes(ONE_MB, "image/png").to_data_url()
    text = repr(cls.from_url(data_url))
    assert len(text) < 300
    assert "data:image/png;base64," in text
    assert f"{len(data_url)} chars" in text


def test_repr_shows_a_short_url_whole_and_omits_unset_fields() -> None:
    assert repr(ImageData.from_url("https://example.com/a.png")) == (
        "ImageData(base64_data='https://example.com/a.png', mime_type='', is_url=True)"
    )
    assert repr(AudioData.from_bytes(b"abc", "wav").with_duration(1.0)) == (
        "AudioData(base64_data='YWJj', format='wav', duration_secs=1.0)"
    )
    assert repr(DocumentData.from_bytes(b"%PDF-1.7").with_filename("a.pdf")) == (
        "DocumentData(base64_data='JVBERi0xLjc=', mime_type='application/pdf', filename='a.pdf')"
    )


def test_equal_media_compare_equal_and_hash_alike() -> None:
    a = ImageData.from_bytes(b"abc", "image/png").with_detail("high")
    b = ImageData.from_base64("YWJj", "image/png").with_detail("high")
    assert a == b
    assert hash(a) == hash(b)
    assert a != a.with_detail("low")
