"""Generate ``minillm/transport/sync_client.py`` from ``minillm/transport/async_client.py``.

The async client is the source; the blocking one is the same code with each async name put back to its
blocking twin, by the substitution table below (the shape of httpcore's ``scripts/unasync.py``). Every
pattern matches whole words only, so ``aclose`` becomes ``close`` but ``_aclose_all`` would stay as it is.
Where the two worlds really differ, the source calls a helper of ``minillm/transport/_concurrency.py``
whose blocking twin the table names.

    python scripts/unasync.py          # write sync_client.py
    python scripts/unasync.py --check  # exit 1, showing the difference, when sync_client.py is out of date
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "minillm" / "transport" / "async_client.py"
TARGET = ROOT / "minillm" / "transport" / "sync_client.py"

HEADER = (
    "# Generated from minillm/transport/async_client.py by scripts/unasync.py: do not edit it by hand.\n"
    "# Change async_client.py, then run `python scripts/unasync.py` (CI runs it with --check).\n"
)

# (pattern, replacement), applied in this order to each line. The patterns are regular expressions; each
# name is bounded by \b, so only whole words are replaced.
SUBSTITUTIONS: list[tuple[str, str]] = [
    # The exported names, kept sorted (before the names in them are replaced one by one).
    (r'^__all__ = \["AsyncClient", "AsyncCompletionStream"\]$', '__all__ = ["CompletionStream", "SyncClient"]'),
    (r"^from collections\.abc import AsyncIterator, Awaitable, ", "from collections.abc import "),
    # Syntax.
    (r"\basync def\b", "def"),
    (r"\basync for\b", "for"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    # Types.
    (r"\bAwaitable\[(\w+)\]", r"\1"),
    (r"\bAwaitable, ", ""),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\b(httpx2?)\.AsyncClient\b", r"\1.Client"),
    (r"\bAsyncClient\b", "SyncClient"),
    (r"\bAsyncCompletionStream\b", "CompletionStream"),
    (r"\bAsyncRetrying\b", "Retrying"),
    # httpx's async methods.
    (r"\baiter_raw\b", "iter_raw"),
    (r"\baiter_bytes\b", "iter_bytes"),
    (r"\baread\b", "read"),
    (r"\baclose\b", "close"),
    # minillm's public async names.
    (r"\bacomplete\b", "complete"),
    (r"\bacomplete_streaming\b", "complete_streaming"),
    (r"\bacomplete_costed\b", "complete_costed"),
    (r"\baensure_cached\b", "ensure_cached"),
    (r"\bacost\b", "cost"),
    (r"\bapartial\b", "partial"),
    (r"\basend_request\b", "send_request"),
    # The twin helpers of minillm/transport/_concurrency.py.
    (r"\basleep\b", "sleep"),
    (r"\bacall_within\b", "call_within"),
    (r"\bareport_cost\b", "report_cost"),
    (r"\baemit\b", "emit"),
    (r"\basync_hooks\b", "sync_hooks"),
    (r"\basync_http_client\b", "sync_http_client"),
    (r"\bLoopCheck\b", "NoLoopCheck"),
    (r"\basync_cancellation\b", "sync_cancellation"),
    # Prose in docstrings and comments that cannot be said for both worlds.
    (r"\bAn async client: ", "A blocking client: "),
    (r"\bIt belongs to one event loop\.", "Safe to share between threads."),
    (r"\bthe async transport\b", "the blocking transport"),
    (r"\bAn async streamed completion\b", "A streamed completion"),
    (r"``for`` it\b", "iterate it"),
    (r" \(and its event loop\)", ""),
]

_COMPILED = [(re.compile(pattern), replacement) for pattern, replacement in SUBSTITUTIONS]


def unasync_line(line: str) -> str:
    """``line`` of the async source as it reads in the blocking client."""
    for pattern, replacement in _COMPILED:
        line = pattern.sub(replacement, line)
    return line


def unasync(source: str) -> str:
    """The blocking client for the async client ``source``: the header, then every line translated."""
    return HEADER + "".join(unasync_line(line) for line in source.splitlines(keepends=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is out of date")
    args = parser.parse_args(argv)
    wanted = unasync(SOURCE.read_text(encoding="utf-8"))
    if not args.check:
        TARGET.write_text(wanted, encoding="utf-8")
        return 0
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if current == wanted:
        return 0
    name = str(TARGET.relative_to(ROOT))
    old, new = current.splitlines(keepends=True), wanted.splitlines(keepends=True)
    diff = difflib.unified_diff(old, new, f"{name} (committed)", f"{name} (generated)")
    sys.stdout.writelines(diff)
    print(f"\n{name} is out of date with its source: run `python scripts/unasync.py` and commit the result.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
