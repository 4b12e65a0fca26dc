"""Throughput of the SSE decoder (minillm.core.sse), and a check that it stays linear.

Run with ``python bench/bench_sse.py``. It times, best of a few runs with ``time.perf_counter``:

- one 64 MiB event fed in 1 KiB pieces (a quadratic decoder would take hours here; this one, well under a
  second or two), printed in MB/s, with a 16 MiB run to show the cost per byte does not grow;
- 100,000 small OpenAI-style chunk events, fed in 1 KiB pieces and one piece per event, printed in events/s.

The pieces are cut before the clock starts, so only the decoder is measured.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from minillm.core.sse import SSEDecoder

RUNS = 5
KIB = 1024
MIB = 1024 * KIB


def _best_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """The shortest wall time of ``runs`` calls, with what the last call returned."""
    best = float("inf")
    result = 0
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def _pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _decode(pieces: list[bytes]) -> Callable[[], int]:
    def work() -> int:
        decoder = SSEDecoder()
        count = 0
        for piece in pieces:
            count += len(decoder.feed(piece))
        return count + len(decoder.finish())

    return work


def bench_huge_event() -> None:
    per_byte: dict[int, float] = {}
    for mib in (16, 64):
        body = b"data: " + b"x" * (mib * MIB) + b"\n\n"
        pieces = _pieces(body, KIB)
        seconds, events = _best_of(RUNS, _decode(pieces))
        assert events == 1, events
        per_byte[mib] = seconds / len(body)
        print(
            f"{mib} MiB single event, 1 KiB pieces ({len(pieces):,} feeds): {seconds * 1000:8.1f} ms"
            f"  {len(body) / seconds / 1e6:8.1f} MB/s"
        )
    # Linear time means the same cost per byte at both sizes; quadratic would make 64 MiB 4x slower per byte.
    print(f"cost per byte, 64 MiB / 16 MiB: {per_byte[64] / per_byte[16]:.2f} (about 1 when linear)")


def bench_small_events(count: int = 100_000) -> None:
    chunk = {
        "id": "gen-1234567890",
        "object": "chat.completion.chunk",
        "model": "google/gemini-2.5-flash-lite",
        "choices": [{"index": 0, "delta": {"content": "token"}, "finish_reason": None}],
    }
    event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    body = b": OPENROUTER PROCESSING\n\n" + event * count
    for label, pieces in [("1 KiB pieces", _pieces(body, KIB)), ("one piece per event", [event] * count)]:
        seconds, events = _best_of(RUNS, _decode(pieces))
        assert events == count, events
        print(
            f"{count:,} small events ({len(event)} B), {label + ':':20} {seconds * 1000:8.1f} ms"
            f"  {events / seconds:12,.0f} events/s  {len(body) / seconds / 1e6:6.1f} MB/s"
        )


def main() -> None:
    bench_huge_event()
    bench_small_events()


if __name__ == "__main__":
    main()
