"""Throughput of the SSE decoder (minillm.core.sse) alone, against the official SDKs' decoders, and a check that
it stays linear.

Run with ``python bench/bench_sse.py`` (``bench/suite.py`` runs it too). It times, best of a few runs with
``time.perf_counter``:

- one 64 MiB event fed in 1 KiB pieces (a quadratic decoder would take hours here; a linear one, about a
  second), printed in MB/s, with a 16 MiB run to show that the cost per byte does not grow;
- 100,000 small OpenAI-style chunk events, fed in 1 KiB pieces and one piece per event, printed in events/s.

The pieces are cut before the clock starts, so only the decoder is measured. The peers (``openai`` and
``anthropic``, when installed) decode the same pieces with their own ``SSEDecoder().iter_bytes``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from minillm.core.sse import SSEDecoder

__all__ = ["decoders", "huge_event", "huge_event_figures", "main", "small_event_figures", "small_events"]

RUNS = 5
KIB = 1024
MIB = 1024 * KIB

Decoder = Callable[[list[bytes]], int]
"""Decodes the pieces of one body and returns how many events came out."""


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


def _minillm(pieces: list[bytes]) -> int:
    decoder = SSEDecoder()
    count = 0
    for piece in pieces:
        count += len(decoder.feed(piece))
    return count + len(decoder.finish())


def _peer(module: str) -> Decoder | None:
    """The ``iter_bytes`` decoder of an official SDK, or None when it is not installed."""
    try:
        streaming = __import__(f"{module}._streaming", fromlist=["SSEDecoder"])
    except ImportError:
        return None

    def decode(pieces: list[bytes]) -> int:
        return sum(1 for _ in streaming.SSEDecoder().iter_bytes(iter(pieces)))

    return decode


def decoders() -> dict[str, Decoder]:
    """minillm's decoder and every installed peer's."""
    found: dict[str, Decoder] = {"minillm": _minillm}
    for name in ("openai", "anthropic"):
        peer = _peer(name)
        if peer is not None:
            found[name] = peer
    return found


def huge_event(mib: int, decode: Decoder, runs: int = RUNS) -> float:
    """Seconds to decode one ``mib`` MiB event fed in 1 KiB pieces."""
    body = b"data: " + b"x" * (mib * MIB) + b"\n\n"
    pieces = _pieces(body, KIB)
    seconds, events = _best_of(runs, lambda: decode(pieces))
    assert events == 1, events
    return seconds


def _small_body(count: int) -> tuple[bytes, bytes]:
    chunk = {
        "id": "gen-1234567890",
        "object": "chat.completion.chunk",
        "model": "google/gemini-2.5-flash-lite",
        "choices": [{"index": 0, "delta": {"content": "token"}, "finish_reason": None}],
    }
    event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    return event, b": OPENROUTER PROCESSING\n\n" + event * count


def small_events(count: int, decode: Decoder, per_event: bool, runs: int = RUNS) -> float:
    """Seconds to decode ``count`` small chunk events, in 1 KiB pieces or one piece per event."""
    event, body = _small_body(count)
    pieces = [event] * count if per_event else _pieces(body, KIB)
    seconds, events = _best_of(runs, lambda: decode(pieces))
    assert events == count, events
    return seconds


def huge_event_figures(found: dict[str, Decoder], mib: int = 64) -> dict[str, tuple[float, str]]:
    """MB/s on one ``mib`` MiB event per decoder, with a note. A decoder whose cost per byte grows from 1 MiB
    to 4 MiB is quadratic: it is not run at full size (that would take minutes or hours) and its figure is
    extrapolated from 4 MiB, said as such."""
    out: dict[str, tuple[float, str]] = {}
    for name, decode in found.items():
        small, large = huge_event(1, decode, runs=2), huge_event(4, decode, runs=2)
        growth = (large / 4) / small
        if growth > 2.0:
            estimate = large * (mib / 4) ** 2
            out[name] = (
                mib * MIB / estimate / 1e6,
                f"quadratic: cost per byte x{growth:.1f} from 1 to 4 MiB; {mib} MiB estimated at {estimate:,.0f} s",
            )
        else:
            out[name] = (mib * MIB / huge_event(mib, decode, runs=2) / 1e6, "")
    return out


def small_event_figures(found: dict[str, Decoder], per_event: bool, count: int = 100_000) -> dict[str, float]:
    """Events/s on ``count`` small events per decoder."""
    return {name: count / small_events(count, decode, per_event) for name, decode in found.items()}


def main() -> None:
    found = decoders()
    per_byte: dict[int, float] = {}
    for mib in (16, 64):
        seconds = huge_event(mib, _minillm)
        per_byte[mib] = seconds / (mib * MIB)
        print(
            f"minillm, one {mib} MiB event in 1 KiB pieces: {seconds * 1000:8.1f} ms  "
            f"{mib * MIB / seconds / 1e6:8.1f} MB/s"
        )
    # Linear time means the same cost per byte at both sizes; quadratic would make 64 MiB 4x slower per byte.
    print(f"cost per byte, 64 MiB / 16 MiB: {per_byte[64] / per_byte[16]:.2f} (about 1 when linear)")
    print("one 64 MiB event in 1 KiB pieces (MB/s):")
    huge = huge_event_figures(found)
    for name, (rate, note) in huge.items():
        print(f"    {name:10} {rate:12,.1f}  x{huge['minillm'][0] / rate:5.2f} {note}")
    for per_event, label in ((False, "1 KiB pieces"), (True, "one piece per event")):
        print(f"100,000 small events, {label} (events/s):")
        small = small_event_figures(found, per_event)
        for name, rate in small.items():
            print(f"    {name:10} {rate:12,.0f}  x{small['minillm'] / rate:5.2f}")


if __name__ == "__main__":
    main()
