"""Text to UTF-8 bytes when it may hold lone surrogates: pairs joined, lone halves replaced by U+FFFD."""

from __future__ import annotations

import pytest

from minillm.core.utf8 import utf8_bytes, well_formed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain ✓ 日本 \U0001f600", "plain ✓ 日本 \U0001f600"),
        ("\ud83d", "\ufffd"),
        ("\ude00", "\ufffd"),
        ("a\ud83d\ude00b", "a\U0001f600b"),  # a pair written as two halves: joined
        ("\ude00\ud83d", "\ufffd\ufffd"),  # the wrong order is no pair
        ("\ud83d\ud83d\ude00", "\ufffd\U0001f600"),
        ("x\udfffy\ud800", "x\ufffdy\ufffd"),
        ("", ""),
    ],
)
def test_well_formed(text: str, expected: str) -> None:
    assert well_formed(text) == expected
    assert utf8_bytes(text) == expected.encode("utf-8")


def test_text_without_surrogates_is_returned_as_is() -> None:
    text = "nothing to fix " * 100
    assert well_formed(text) is text
