"""One measurement in a fresh interpreter: one contender, one workload. ``bench/suite.py`` runs it.

``python bench/work.py WORKLOAD CONTENDER URL [--n N] [--chunks N] [--concurrency N]`` prints one line
``RESULT {json}`` at the end. Only the contender's own library is imported, so no contender pays for
another's imports, memory or garbage collector.

Workloads (all against ``bench/server.py``; every reply is checked, so nothing fast-but-wrong counts):

- ``requests``: sequential non-streaming requests on one kept-alive client, blocking then async;
  microseconds per request (after a warm-up).
- ``stream``: one long stream of ``--chunks`` text chunks, blocking then async; chunks per second.
- ``paired``: bare httpx and the contender in this one process, in ``--rounds`` alternating blocks:
  per-request time over ``--n`` requests and chunks per second over streams of ``--chunks``, each as
  the median of the block-by-block ratios to the floor.
- ``burst``: ``--concurrency`` concurrent async requests, twice on the same client (cold, then warm);
  wall time of each and the peak memory growth.
- ``tls``: ``--n`` sequential short streams of ``--chunks`` chunks over HTTPS (``--cafile``: the server's
  self-signed certificate, trusted through ``SSL_CERT_FILE``, which every contender's httpx reads), blocking
  then async, each on one fresh client; milliseconds per stream and the connections the server accepted;
  then, for a contender other than the floor, the paired ratio to the floor (alternating blocks, as above).
- ``streams``: ``--concurrency`` concurrent async streams of ``--chunks`` chunks; wall time, the client's CPU
  time and peak memory growth. ``--pace MS`` has the server send one chunk every ``MS`` milliseconds, as a
  model generating text does (0: each body written at once).

Contenders: ``httpx`` (bare httpx: the floor; it builds the JSON body, posts it, parses the answer, and for a
stream splits events and parses each one), ``httpx2`` (the same over httpx2), ``minillm`` (its own client),
``minillm-httpx2`` (an injected ``httpx2.AsyncClient``), ``minillm-anthropic`` (minillm on the Anthropic
wire), ``openai`` and ``anthropic`` (the official SDKs, with their default clients).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["main"]

PROMPT = [{"role": "user", "content": "hi"}]
TEXT = "Hello! How can I help you today?"
TOKEN = "tok "
FLOOR = "httpx"  # the floor every contender is compared with
CONNECTIONS = 100  # the bare clients get minillm's default pool size, so all use the same number of sockets

# ----------------------------------------------------------------------------------------------------------
# Memory


def _rss_bytes() -> int:
    """The resident set size now (Linux), else 0."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _reset_peak() -> None:
    """Start the peak resident set size afresh from now (Linux: ``clear_refs``), so the peak a workload
    reports is its own, not the import's or an earlier workload's. Elsewhere the lifetime peak stays."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    """The peak resident set size since ``_reset_peak`` (Linux ``VmHWM``), else the lifetime peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# ----------------------------------------------------------------------------------------------------------
# Bare httpx / httpx2: the floor


def _floor_module(name: str) -> Any:
    return __import__(name)


def _floor_body(model: str, stream: bool = False) -> bytes:
    body: dict[str, Any] = {"model": model, "messages": PROMPT}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


_FLOOR_HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json"}


class _FloorSSE:
    """The least a correct-enough client does per stream piece: split events, parse each ``data`` line."""

    def __init__(self) -> None:
        self.buffer = b""
        self.texts: list[str] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *events, self.buffer = self.buffer.split(b"\n\n")
        for event in events:
            if event.startswith(b"data: ") and event != b"data: [DONE]":
                choices = json.loads(event[6:])["choices"]
                if choices:
                    text = choices[0]["delta"].get("content")
                    if text:
                        self.texts.append(text)


def floor_sync(module: str, url: str) -> tuple[Callable[[], str], Callable[[int], int]]:
    hx = _floor_module(module)
    client = hx.Client(timeout=hx.Timeout(600.0, connect=10.0))
    endpoint = url + "/v1/chat/completions"

    def one() -> str:
        response = client.post(endpoint, content=_floor_body("bench"), headers=_FLOOR_HEADERS)
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    def stream(chunks: int) -> int:
        sse = _FloorSSE()
        body = _floor_body(f"bench-chunks-{chunks}", stream=True)
        with client.stream("POST", endpoint, content=body, headers=_FLOOR_HEADERS) as response:
            for data in response.iter_raw():
                sse.feed(data)
        return len(sse.texts)

    return one, stream


def floor_async(module: str, url: str) -> tuple[Callable[[], Awaitable[str]], Callable[[int], Awaitable[int]]]:
    hx = _floor_module(module)
    limits = hx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    client = hx.AsyncClient(timeout=hx.Timeout(600.0, connect=10.0), limits=limits)
    endpoint = url + "/v1/chat/completions"

    async def one() -> str:
        response = await client.post(endpoint, content=_floor_body("bench"), headers=_FLOOR_HEADERS)
        return str(json.loads(response.content)["choices"][0]["message"]["content"])

    async def stream(chunks: int) -> int:
        sse = _FloorSSE()
        body = _floor_body(f"bench-chunks-{chunks}", stream=True)
        async with client.stream("POST", endpoint, content=body, headers=_FLOOR_HEADERS) as response:
            async for data in response.aiter_raw():
                sse.feed(data)
        return len(sse.texts)

    return one, stream


# ----------------------------------------------------------------------------------------------------------
# minillm


@functools.cache
def _minillm_gen(url: str, wire: str, model: str) -> Any:
    """One generator per model, made once, as a program would."""
    from minillm import GeneratorInfo

    if wire == "anthropic":
        return GeneratorInfo.anthropic(model).with_api_key("bench").with_base_url(url)
    return GeneratorInfo.openai(model).with_api_key("bench").with_base_url(url + "/v1")


def minillm_sync(url: str, wire: str) -> tuple[Callable[[], str], Callable[[int], int]]:
    from minillm import ChatNode, SyncClient

    client = SyncClient()
    gen = _minillm_gen(url, wire, "bench")

    def one() -> str:
        return str(ChatNode.user("hi").complete(gen, client=client).text)

    def stream(chunks: int) -> int:
        count = 0
        node = ChatNode.user("hi")
        with node.complete_streaming(_minillm_gen(url, wire, f"bench-chunks-{chunks}"), client=client) as s:
            for chunk in s:
                if chunk.delta:
                    count += 1
        return count

    return one, stream


def minillm_async(
    url: str, wire: str, httpx2: bool
) -> tuple[Callable[[], Awaitable[str]], Callable[[int], Awaitable[int]]]:
    from minillm import AsyncClient, ChatNode

    if httpx2:
        import httpx2 as hx

        limits = hx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        http: Any = hx.AsyncClient(limits=limits, timeout=hx.Timeout(600.0, connect=10.0))
        client = AsyncClient(http_client=http)  # an httpx2 client: same API as httpx's
    else:
        client = AsyncClient()
    gen = _minillm_gen(url, wire, "bench")

    async def one() -> str:
        return str((await ChatNode.user("hi").acomplete(gen, client=client)).text)

    async def stream(chunks: int) -> int:
        count = 0
        node = ChatNode.user("hi")
        async with await node.acomplete_streaming(
            _minillm_gen(url, wire, f"bench-chunks-{chunks}"), client=client
        ) as s:
            async for chunk in s:
                if chunk.delta:
                    count += 1
        return count

    return one, stream


# ----------------------------------------------------------------------------------------------------------
# The official SDKs


def openai_sync(url: str) -> tuple[Callable[[], str], Callable[[int], int]]:
    import openai

    client: Any = openai.OpenAI(api_key="bench", base_url=url + "/v1")

    def one() -> str:
        return str(client.chat.completions.create(model="bench", messages=PROMPT).choices[0].message.content)

    def stream(chunks: int) -> int:
        count = 0
        for chunk in client.chat.completions.create(model=f"bench-chunks-{chunks}", messages=PROMPT, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    return one, stream


def openai_async(url: str) -> tuple[Callable[[], Awaitable[str]], Callable[[int], Awaitable[int]]]:
    import openai

    client: Any = openai.AsyncOpenAI(api_key="bench", base_url=url + "/v1")

    async def one() -> str:
        answer = await client.chat.completions.create(model="bench", messages=PROMPT)
        return str(answer.choices[0].message.content)

    async def stream(chunks: int) -> int:
        count = 0
        answer = await client.chat.completions.create(model=f"bench-chunks-{chunks}", messages=PROMPT, stream=True)
        async for chunk in answer:
            if chunk.choices and chunk.choices[0].delta.content:
                count += 1
        return count

    return one, stream


def anthropic_sync(url: str) -> tuple[Callable[[], str], Callable[[int], int]]:
    import anthropic

    client: Any = anthropic.Anthropic(api_key="bench", base_url=url)

    def one() -> str:
        return str(client.messages.create(model="bench", max_tokens=64, messages=PROMPT).content[0].text)

    def stream(chunks: int) -> int:
        count = 0
        events = client.messages.create(model=f"bench-chunks-{chunks}", max_tokens=64, messages=PROMPT, stream=True)
        for event in events:
            if event.type == "content_block_delta" and event.delta.text:
                count += 1
        return count

    return one, stream


def anthropic_async(url: str) -> tuple[Callable[[], Awaitable[str]], Callable[[int], Awaitable[int]]]:
    import anthropic

    client: Any = anthropic.AsyncAnthropic(api_key="bench", base_url=url)

    async def one() -> str:
        answer = await client.messages.create(model="bench", max_tokens=64, messages=PROMPT)
        return str(answer.content[0].text)

    async def stream(chunks: int) -> int:
        count = 0
        events = await client.messages.create(
            model=f"bench-chunks-{chunks}", max_tokens=64, messages=PROMPT, stream=True
        )
        async for event in events:
            if event.type == "content_block_delta" and event.delta.text:
                count += 1
        return count

    return one, stream


def sync_pair(contender: str, url: str) -> tuple[Callable[[], str], Callable[[int], int]]:
    if contender in ("httpx", "httpx2"):
        return floor_sync(contender, url)
    if contender in ("minillm", "minillm-httpx2"):
        return minillm_sync(url, "openai")
    if contender == "minillm-anthropic":
        return minillm_sync(url, "anthropic")
    if contender == "openai":
        return openai_sync(url)
    if contender == "anthropic":
        return anthropic_sync(url)
    raise SystemExit(f"unknown contender {contender!r}")


def async_pair(contender: str, url: str) -> tuple[Callable[[], Awaitable[str]], Callable[[int], Awaitable[int]]]:
    if contender in ("httpx", "httpx2"):
        return floor_async(contender, url)
    if contender == "minillm":
        return minillm_async(url, "openai", httpx2=False)
    if contender == "minillm-httpx2":
        return minillm_async(url, "openai", httpx2=True)
    if contender == "minillm-anthropic":
        return minillm_async(url, "anthropic", httpx2=False)
    if contender == "openai":
        return openai_async(url)
    if contender == "anthropic":
        return anthropic_async(url)
    raise SystemExit(f"unknown contender {contender!r}")


# ----------------------------------------------------------------------------------------------------------
# Workloads


def _check(text: str) -> None:
    if text != TEXT:
        raise SystemExit(f"wrong reply: {text!r}")


def requests_workload(contender: str, url: str, n: int) -> dict[str, float]:
    """Wall and CPU microseconds per request. The CPU time is the client's own work (the server runs in
    another process), so it is the steadier figure on a busy machine."""
    warm = max(n // 10, 5)
    one, _ = sync_pair(contender, url)
    for _ in range(warm):
        _check(one())
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        _check(one())
    out = {
        "sync_us": (time.perf_counter() - wall) / n * 1e6,
        "sync_cpu_us": (time.process_time() - cpu) / n * 1e6,
    }

    async def run() -> None:
        aone, _ = async_pair(contender, url)
        for _ in range(warm):
            _check(await aone())
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            _check(await aone())
        out["async_us"] = (time.perf_counter() - wall) / n * 1e6
        out["async_cpu_us"] = (time.process_time() - cpu) / n * 1e6

    asyncio.run(run())
    return out


def stream_workload(contender: str, url: str, chunks: int) -> dict[str, float]:
    _, stream = sync_pair(contender, url)
    stream(10)
    started = time.perf_counter()
    got = stream(chunks)
    sync_rate = chunks / (time.perf_counter() - started)
    if got != chunks:
        raise SystemExit(f"{contender}: {got} chunks of {chunks}")

    async def run() -> float:
        _, astream = async_pair(contender, url)
        await astream(10)
        started = time.perf_counter()
        got = await astream(chunks)
        if got != chunks:
            raise SystemExit(f"{contender}: {got} chunks of {chunks}")
        return chunks / (time.perf_counter() - started)

    return {"sync_chunks_per_s": sync_rate, "async_chunks_per_s": asyncio.run(run())}


def paired_workload(contender: str, url: str, n: int, chunks: int, rounds: int) -> dict[str, float]:
    """The floor and ``contender`` in ONE process, in alternating blocks (floor, contender, floor, ...):
    per-request time over ``n`` requests and chunks per second over ``rounds`` streams of ``chunks``, blocking
    and async. Each figure is the median over the rounds of the contender's block against the floor block
    just before it, so a machine that speeds up or slows down during the run moves both alike. (The separate
    processes of the other workloads keep each contender's imports apart; this one only compares minillm with
    the httpx it runs on, which it imports anyway.)"""
    block = max(n // rounds, 1)

    def ratios(times: list[tuple[float, float]]) -> float:
        return statistics.median(mine / floor for floor, mine in times)

    def requests(one: Callable[[], str]) -> float:
        started = time.perf_counter()
        for _ in range(block):
            _check(one())
        return time.perf_counter() - started

    def streamed(stream: Callable[[int], int]) -> float:
        started = time.perf_counter()
        if stream(chunks) != chunks:
            raise SystemExit("a stream lost chunks")
        return time.perf_counter() - started

    async def arequests(one: Callable[[], Awaitable[str]]) -> float:
        started = time.perf_counter()
        for _ in range(block):
            _check(await one())
        return time.perf_counter() - started

    async def astreamed(stream: Callable[[int], Awaitable[int]]) -> float:
        started = time.perf_counter()
        if await stream(chunks) != chunks:
            raise SystemExit("a stream lost chunks")
        return time.perf_counter() - started

    floor_one, floor_stream = floor_sync(FLOOR, url)
    one, stream = sync_pair(contender, url)
    for _ in range(max(block // 2, 5)):
        _check(floor_one())
        _check(one())
    floor_stream(10)
    stream(10)
    sync_requests = [(requests(floor_one), requests(one)) for _ in range(rounds)]
    sync_streams = [(streamed(floor_stream), streamed(stream)) for _ in range(rounds)]

    async def run() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        afloor_one, afloor_stream = floor_async(FLOOR, url)
        aone, astream = async_pair(contender, url)
        for _ in range(max(block // 2, 5)):
            _check(await afloor_one())
            _check(await aone())
        await afloor_stream(10)
        await astream(10)
        timed_requests = [(await arequests(afloor_one), await arequests(aone)) for _ in range(rounds)]
        timed_streams = [(await astreamed(afloor_stream), await astreamed(astream)) for _ in range(rounds)]
        return timed_requests, timed_streams

    async_requests, async_streams = asyncio.run(run())
    # Time ratios: for requests, the contender's time over the floor's; for streams, the floor's time over
    # the contender's, which is the contender's chunks per second over the floor's.
    return {
        "sync_request_ratio": ratios(sync_requests),
        "async_request_ratio": ratios(async_requests),
        "sync_stream_ratio": 1 / ratios(sync_streams),
        "async_stream_ratio": 1 / ratios(async_streams),
    }


def burst_workload(contender: str, url: str, concurrency: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        one, _ = async_pair(contender, url)
        _check(await one())
        gc.collect()
        _reset_peak()
        before = _rss_bytes()
        walls = []
        for _ in range(2):
            started = time.perf_counter()
            texts = await asyncio.gather(*(one() for _ in range(concurrency)))
            walls.append(time.perf_counter() - started)
            for text in texts:
                _check(text)
            del texts
        peak_mb = (_peak_rss_bytes() - before) / 2**20
        return {"cold_s": walls[0], "warm_s": walls[1], "warm_over_cold": walls[1] / walls[0], "peak_mb": peak_mb}

    return asyncio.run(run())


def streams_workload(contender: str, url: str, concurrency: int, chunks: int, pace: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        _, stream = async_pair(contender, url)
        await stream(10)
        gc.collect()
        _reset_peak()
        before = _rss_bytes()
        # The model name carries the pace to the server (see bench/server.py); stream() puts it after "-chunks-".
        length: Any = f"{chunks}-pace-{pace}" if pace else chunks
        wall, cpu = time.perf_counter(), time.process_time()
        counts = await asyncio.gather(*(stream(length) for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if any(c != chunks for c in counts):
            raise SystemExit(f"{contender}: a stream lost chunks")
        return {"wall_s": wall, "cpu_s": cpu, "peak_mb": (_peak_rss_bytes() - before) / 2**20}

    return asyncio.run(run())


def tls_workload(contender: str, url: str, n: int, chunks: int, cafile: str, rounds: int) -> dict[str, float]:
    """``n`` short streams over HTTPS, one after the other on one client, blocking then async: ms per stream
    (the first stream's handshake included) and how many connections they opened (1 when they are reused).
    A contender other than the floor then runs against the floor in ``rounds`` alternating blocks of
    ``n / rounds`` streams each (both clients warm), for the ratio of the two, as the paired workload does."""
    os.environ["SSL_CERT_FILE"] = cafile  # before any client is made: httpx reads it when it makes one
    from tls_setup import opened

    def check(got: int) -> None:
        if got != chunks:
            raise SystemExit(f"{contender}: {got} chunks of {chunks}")

    out: dict[str, float] = {}
    _, stream = sync_pair(contender, url)
    before = opened(url, cafile)
    started = time.perf_counter()
    for _ in range(n):
        check(stream(chunks))
    out["sync_ms"] = (time.perf_counter() - started) / n * 1000
    out["sync_connections"] = opened(url, cafile) - before - 1  # less the count request's own connection
    if contender != FLOOR:
        # Paired, as in the paired workload: the floor's client and this one, warm, in alternating blocks.
        _, floor_stream = sync_pair(FLOOR, url)
        ratios = []
        for _ in range(rounds):
            times = []
            for run_one in (floor_stream, stream):
                started = time.perf_counter()
                for _ in range(max(n // rounds, 1)):
                    check(run_one(chunks))
                times.append(time.perf_counter() - started)
            ratios.append(times[1] / times[0])
        out["sync_paired_ratio"] = statistics.median(ratios)

    async def run() -> None:
        _, astream = async_pair(contender, url)
        before = opened(url, cafile)
        started = time.perf_counter()
        for _ in range(n):
            check(await astream(chunks))
        out["async_ms"] = (time.perf_counter() - started) / n * 1000
        out["async_connections"] = opened(url, cafile) - before - 1
        if contender == FLOOR:
            return
        _, floor_astream = async_pair(FLOOR, url)
        ratios = []
        for _ in range(rounds):
            times = []
            for run_one in (floor_astream, astream):
                started = time.perf_counter()
                for _ in range(max(n // rounds, 1)):
                    check(await run_one(chunks))
                times.append(time.perf_counter() - started)
            ratios.append(times[1] / times[0])
        out["async_paired_ratio"] = statistics.median(ratios)

    asyncio.run(run())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["requests", "stream", "burst", "streams", "paired", "tls"])
    parser.add_argument("contender")
    parser.add_argument("url")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--pace", type=int, default=0, help="streams: milliseconds between chunks (0: none)")
    parser.add_argument("--rounds", type=int, default=10, help="paired: blocks of each contender")
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--cafile", default=None, help="tls: the server's certificate, to trust")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.workload == "requests":
        result = requests_workload(args.contender, args.url, args.n)
    elif args.workload == "stream":
        result = stream_workload(args.contender, args.url, args.chunks)
    elif args.workload == "paired":
        result = paired_workload(args.contender, args.url, args.n, args.chunks, args.rounds)
    elif args.workload == "tls":
        result = tls_workload(args.contender, args.url, args.n, args.chunks, args.cafile, args.rounds)
    elif args.workload == "burst":
        result = burst_workload(args.contender, args.url, args.concurrency)
    else:
        result = streams_workload(args.contender, args.url, args.concurrency, args.chunks, args.pace)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
