"""Text to UTF-8 bytes when the text may hold lone surrogates.

A Python ``str`` can hold a surrogate code point on its own (JSON's ``"\\ud83d"`` escape decodes to one, and
a provider that splits an emoji's escaped surrogate pair across two stream events leaves two), but no UTF-8
encoder accepts one. Wherever minillm turns text into bytes (request bodies, saved threads, pretty
printing), a surrogate pair written as two code points is joined into its character and a lone surrogate
is replaced by U+FFFD, the replacement character. Escaping it as ``\\ud83d`` instead would keep it, but
strict JSON readers refuse such text (I-JSON forbids it; Anthropic's API answers 400 "no low surrogate in
string"), so the conversation could be saved and never sent again; the replacement keeps both working and
shows where a character was broken.
"""

from __future__ import annotations

import re

__all__ = ["utf8_bytes", "well_formed"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> str:
    """``text`` with surrogate pairs joined and every lone surrogate replaced by U+FFFD (unchanged if none)."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def utf8_bytes(text: str) -> bytes:
    """``text`` as UTF-8, through ``well_formed`` only when the plain encoding fails (the usual text pays
    nothing extra)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return well_formed(text).encode("utf-8")
