"""The benchmark suite: minillm against bare httpx (the floor) and the official openai and anthropic SDKs.

Run (from the repository root, with the ``bench`` extra installed)::

    python bench/suite.py                     # the full run, about 8 minutes on 2 cores
    python bench/suite.py --smoke             # seconds: every workload, tiny sizes, minillm and the floor only
    python bench/suite.py --only requests,stream --trials 7 --json figures.json

It starts ``bench/server.py`` in its own process (pinned to the last CPU when there are two or more, the
workers to the first), then measures, in one run, with the contenders interleaved (A B C A B C ...) and the
median of several trials, each trial in a fresh interpreter (``bench/work.py``):

- import time (fresh interpreters; the bare interpreter's start subtracted);
- per-request time, sequential non-streaming requests on one kept-alive client, blocking and async;
- streaming chunks per second on one long stream, blocking and async;
- the same two against bare httpx *paired*: both in one process, in alternating blocks, the ratio taken
  block by block (the goals use these: a drifting machine moves both sides alike);
- a burst of 500 concurrent async requests, twice on the same client (cold, warm): wall time, peak memory;
- 200 concurrent streams, the server writing each body at once, and again paced like a model (one chunk
  every 20 ms): wall time, the client's CPU time, peak memory;
- the SSE decoder alone (``bench/bench_sse.py``), against the SDKs' decoders;
- tree scale: a 100,000-node tree, a 100,000-deep chain's ``thread()``, ``save_thread`` and loading it back;
- TLS: 100 sequential short streams over HTTPS (a self-signed certificate made at run time): ms per stream and
  connections opened, against bare httpx reading each body to its end and openai-python.

It prints every figure with its ratio to the floor (and minillm's against the peers), then the goals of
issue 7 with PASS or FAIL. A contender whose package is not installed is left out.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
FLOOR = "httpx"
PACKAGES = {
    "httpx": "httpx",
    "httpx2": "httpx2",
    "minillm": "minillm",
    "minillm-httpx2": "httpx2",
    "minillm-anthropic": "minillm",
    "openai": "openai",
    "anthropic": "anthropic",
}
SEQUENTIAL = ["httpx", "minillm", "openai", "minillm-anthropic", "anthropic"]
TLS = ["httpx", "minillm", "openai"]
CONCURRENT = ["httpx", "httpx2", "minillm", "minillm-httpx2", "openai", "anthropic"]
SMOKE = {"httpx", "minillm", "minillm-httpx2", "minillm-anthropic"}
IMPORTS = {
    "bare": "pass",
    "httpx": "import httpx",
    "minillm": "import minillm",
    "openai": "import openai",
    "anthropic": "import anthropic",
}
READY = {
    "bare": "pass",
    "httpx": "import httpx; httpx.Client()",
    "minillm": "from minillm import ChatNode, GeneratorInfo, SyncClient; SyncClient()",
    "openai": "import openai; openai.OpenAI(api_key='k')",
    "anthropic": "import anthropic; anthropic.Anthropic(api_key='k')",
}
READY_ASYNC = {
    "bare": "pass",
    "httpx": "import asyncio, httpx; httpx.AsyncClient()",
    "minillm": "import asyncio; from minillm import ChatNode, GeneratorInfo, AsyncClient; AsyncClient()",
    "openai": "import asyncio, openai; openai.AsyncOpenAI(api_key='k')",
    "anthropic": "import asyncio, anthropic; anthropic.AsyncAnthropic(api_key='k')",
}
PACE_MS = 20


class Sizes:
    """How much work each measurement does."""

    def __init__(self, smoke: bool, trials: int | None) -> None:
        self.smoke = smoke
        self.trials = trials or (1 if smoke else 5)
        self.heavy_trials = trials or (1 if smoke else 3)  # the tables no goal depends on alone
        self.import_runs = 1 if smoke else 3
        self.requests = 30 if smoke else 500
        self.rounds = 2 if smoke else 10  # paired: alternating blocks of each contender per process
        self.paired_requests = 30 if smoke else 1000
        self.paired_chunks = 100 if smoke else 2000
        self.chunks = 100 if smoke else 5000
        self.burst = 20 if smoke else 500
        self.streams = 10 if smoke else 200
        self.stream_chunks = 10 if smoke else 50
        self.tree = 2_000 if smoke else 100_000
        self.tls_streams = 10 if smoke else 100
        self.tls_chunks = 15


def _installed(contender: str) -> bool:
    return importlib.util.find_spec(PACKAGES.get(contender, contender)) is not None


def _contenders(names: Sequence[str], sizes: Sizes) -> list[str]:
    return [c for c in names if _installed(c) and (not sizes.smoke or c in SMOKE)]


# ----------------------------------------------------------------------------------------------------------
# Running things


def _cpus() -> tuple[int | None, int | None]:
    """(server CPU, worker CPU): the last CPU for the server, the first for the workers, when there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[-1], cpus[0]


class Server:
    """``bench/server.py`` in a child process."""

    def __init__(self, cpu: int | None, tls: tuple[Path, Path] | None = None) -> None:
        cmd = [sys.executable, str(HERE / "server.py")]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        if tls is not None:
            cmd += ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise SystemExit(f"the benchmark server did not start: {line!r}")
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{int(line.split()[1])}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _work(args: Sequence[str], cpu: int | None) -> dict[str, float]:
    cmd = [sys.executable, str(HERE / "work.py"), *args]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise SystemExit(f"worker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def _interleaved(
    contenders: Sequence[str], trials: int, run: Callable[[str], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Run every contender once per trial, in turn (A B C A B C ...); the median of each figure."""
    raw: dict[str, list[dict[str, float]]] = {c: [] for c in contenders}
    for trial in range(trials):
        for contender in contenders:
            raw[contender].append(run(contender))
        print(f"  trial {trial + 1}/{trials} done", file=sys.stderr, flush=True)
    return {c: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for c, runs in raw.items()}


def _import_times(statements: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall time (ms) of a fresh interpreter running each statement, interleaved.

    Every statement runs once first with bytecode caching allowed, so that no contender pays for compiling
    its modules (an editable install has no bytecode until something writes it)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for code in statements.values():
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=HERE)
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, code in statements.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=HERE)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


# ----------------------------------------------------------------------------------------------------------
# Printing


_SECTION_STARTED = [time.perf_counter()]


def _title(text: str) -> None:
    print(f"\n{text}\n" + "-" * len(text), flush=True)
    _SECTION_STARTED[0] = time.perf_counter()


def _took() -> None:
    print(f"  ({time.perf_counter() - _SECTION_STARTED[0]:.0f} s)", flush=True)


def _table(
    figures: dict[str, dict[str, float]],
    columns: Sequence[tuple[str, str, str]],
    higher_is_better: bool,
    versus: dict[str, str] | None = None,
) -> None:
    """One row per contender: each column's value and, in brackets, its ratio to the floor. Then minillm
    against each peer, as "how many times better" (above 1: minillm is faster or smaller)."""
    print(f"  {'':18}" + "".join(f"{heading:>24}" for _, heading, _ in columns))
    for name, values in figures.items():
        cells = []
        for key, _, fmt in columns:
            value = values[key]
            floor = figures.get(FLOOR, {}).get(key)
            ratio = f" ({value / floor:4.2f}x)" if floor else ""
            cells.append(f"{format(value, fmt) + ratio:>24}")
        print(f"  {name:18}" + "".join(cells))
    for mine, peer in (versus or {}).items():
        if mine not in figures or peer not in figures:
            continue
        parts = []
        for key, heading, _ in columns:
            a, b = figures[mine][key], figures[peer][key]
            better = a / b if higher_is_better else b / a
            parts.append(f"{heading.strip()} {better:.2f}x")
        print(f"  {mine} against {peer} (above 1: minillm better): " + ", ".join(parts))


# ----------------------------------------------------------------------------------------------------------
# Sections


def imports_section(sizes: Sizes, results: dict[str, Any]) -> None:
    _title(f"Import time (ms, median of {sizes.import_runs} fresh interpreters)")
    print("  'over bare' subtracts the bare interpreter's start; the ratio is against httpx's")
    started = time.perf_counter()
    rows = (
        ("import the package", IMPORTS),
        ("import what a blocking program uses, and make a client", READY),
        ("the same for an async program (asyncio included for everyone)", READY_ASYNC),
    )
    for label, statements in rows:
        wanted = {k: v for k, v in statements.items() if k == "bare" or _installed(k)}
        if sizes.smoke:
            wanted = {k: v for k, v in wanted.items() if k in ("bare", "httpx", "minillm")}
        times = _import_times(wanted, sizes.import_runs)
        bare = times["bare"]
        print(f"  {label}:")
        for name, ms in times.items():
            if name == "bare":
                print(f"    {'bare interpreter':18}{ms:10.1f}")
                continue
            over = ms - bare
            floor = times[FLOOR] - bare
            print(f"    {name:18}{ms:10.1f}   over bare {over:8.1f}  ({over / floor:5.2f}x httpx)")
        results[f"imports/{label}"] = times
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def requests_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    contenders = _contenders(SEQUENTIAL, sizes)
    trials = sizes.heavy_trials
    _title(f"{sizes.requests:,} sequential requests on one kept-alive client (us per request, median of {trials})")
    figures = _interleaved(
        contenders, sizes.heavy_trials, lambda c: _work(["requests", c, server.url, "--n", str(sizes.requests)], cpu)
    )
    columns = [
        ("sync_us", "blocking us", ".0f"),
        ("async_us", "async us", ".0f"),
        ("sync_cpu_us", "blocking CPU us", ".0f"),
        ("async_cpu_us", "async CPU us", ".0f"),
    ]
    _table(figures, columns, higher_is_better=False, versus={"minillm": "openai", "minillm-anthropic": "anthropic"})
    floor = figures[FLOOR]
    for mine, peer in (("minillm", "openai"), ("minillm-anthropic", "anthropic")):
        if mine not in figures or peer not in figures:
            continue
        for key in ("sync_us", "async_us"):
            ours, theirs = figures[mine][key] - floor[key], figures[peer][key] - floor[key]
            share = f"{ours / theirs:.2f} of {peer}'s" if theirs > 0 else "n/a"
            print(f"  time over the floor, {key[:-3]:5}: {mine} {ours:6.0f} us, {peer} {theirs:6.0f} us ({share})")
    results["requests"] = figures
    _took()


def stream_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    contenders = _contenders(SEQUENTIAL, sizes)
    _title(f"One long stream of {sizes.chunks:,} chunks (chunks per second, median of {sizes.heavy_trials})")
    figures = _interleaved(
        contenders, sizes.heavy_trials, lambda c: _work(["stream", c, server.url, "--chunks", str(sizes.chunks)], cpu)
    )
    columns = [("sync_chunks_per_s", "blocking chunks/s", ",.0f"), ("async_chunks_per_s", "async chunks/s", ",.0f")]
    _table(figures, columns, higher_is_better=True, versus={"minillm": "openai", "minillm-anthropic": "anthropic"})
    results["stream"] = figures
    _took()


def paired_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    _title(f"minillm against bare httpx in one process, alternating blocks (median of {sizes.trials} processes)")
    print("  the goals below use these: both share each moment of the machine, so its drift cancels out")
    runs = []
    for trial in range(sizes.trials):
        args = ["paired", "minillm", server.url, "--n", str(sizes.paired_requests), "--rounds", str(sizes.rounds)]
        runs.append(_work([*args, "--chunks", str(sizes.paired_chunks)], cpu))
        print(f"  trial {trial + 1}/{sizes.trials} done", file=sys.stderr, flush=True)
    figures = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    labels = {
        "sync_request_ratio": "per-request time, blocking (minillm / httpx)",
        "async_request_ratio": "per-request time, async (minillm / httpx)",
        "sync_stream_ratio": "chunks per second, blocking (minillm / httpx)",
        "async_stream_ratio": "chunks per second, async (minillm / httpx)",
    }
    for key, label in labels.items():
        spread = ", ".join(f"{r[key]:.3f}" for r in runs)
        print(f"  {label:50}{figures[key]:7.3f}x   (trials: {spread})")
    results["paired"] = figures
    _took()


def concurrency_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    contenders = _contenders(CONCURRENT, sizes)
    versus = {"minillm": "openai", "minillm-httpx2": "httpx2"}
    _title(f"{sizes.burst} concurrent async requests, twice on one client (median of {sizes.heavy_trials})")
    print("  the bare clients have 100 connections, as minillm by default; the SDKs keep their own defaults")
    figures = _interleaved(
        contenders,
        sizes.heavy_trials,
        lambda c: _work(["burst", c, server.url, "--concurrency", str(sizes.burst)], cpu),
    )
    columns = [("cold_s", "cold burst s", ".2f"), ("warm_s", "warm burst s", ".2f"), ("peak_mb", "peak MB", ".1f")]
    _table(figures, columns, higher_is_better=False, versus=versus)
    results["burst"] = figures
    _took()

    for pace in (0, PACE_MS):
        how = f"one chunk every {pace} ms" if pace else "each body written at once"
        _title(
            f"{sizes.streams} concurrent async streams of {sizes.stream_chunks} chunks, {how}"
            f" (median of {sizes.heavy_trials})"
        )
        args = ["--concurrency", str(sizes.streams), "--chunks", str(sizes.stream_chunks), "--pace", str(pace)]

        def run(contender: str, args: list[str] = args) -> dict[str, float]:
            return _work(["streams", contender, server.url, *args], cpu)

        figures = _interleaved(contenders, sizes.heavy_trials, run)
        columns = [("wall_s", "wall s", ".2f"), ("cpu_s", "client CPU s", ".2f"), ("peak_mb", "peak MB", ".1f")]
        _table(figures, columns, higher_is_better=False, versus=versus)
        results["streams" if not pace else "paced streams"] = figures
        _took()


def sse_section(sizes: Sizes, results: dict[str, Any]) -> None:
    sys.path.insert(0, str(HERE))
    import bench_sse

    found = bench_sse.decoders()
    mib = 1 if sizes.smoke else 64
    count = 1_000 if sizes.smoke else 100_000
    _title(f"The SSE decoder alone (best of {bench_sse.RUNS}; 'minillm Nx' is minillm's speed over the decoder's)")
    huge = bench_sse.huge_event_figures(found, mib)
    print(f"  one {mib} MiB event in 1 KiB pieces, MB/s:")
    for name, (rate, note) in huge.items():
        print(f"    {name:18}{rate:12,.1f}   minillm {huge['minillm'][0] / rate:6.2f}x  {note}")
    small: dict[str, dict[str, float]] = {}
    for per_event, label in ((False, "1 KiB pieces"), (True, "one piece per event")):
        figures = bench_sse.small_event_figures(found, per_event, count)
        small[label] = figures
        print(f"  {count:,} small events, {label}, events/s:")
        for name, rate in figures.items():
            print(f"    {name:18}{rate:12,.0f}   minillm {figures['minillm'] / rate:6.2f}x")
    results["sse"] = {"huge": {k: v[0] for k, v in huge.items()}, "small": small}
    _took()


def tls_section(sizes: Sizes, server_cpu: int | None, cpu: int | None, results: dict[str, Any]) -> None:
    sys.path.insert(0, str(HERE))
    from tls_setup import certificate

    n, chunks = sizes.tls_streams, sizes.tls_chunks
    _title(f"{n} sequential streams of {chunks} chunks over HTTPS, one client (median of {sizes.heavy_trials})")
    print("  a fresh self-signed certificate, trusted through SSL_CERT_FILE; the first handshake is included")
    with tempfile.TemporaryDirectory() as directory:
        try:
            cert, key = certificate(Path(directory))
        except RuntimeError as e:
            print(f"  skipped: {e}")
            return
        server = Server(server_cpu, (cert, key))
        try:
            args = ["--n", str(n), "--chunks", str(chunks), "--cafile", str(cert), "--rounds", str(sizes.rounds)]
            figures = _interleaved(
                _contenders(TLS, sizes), sizes.heavy_trials, lambda c: _work(["tls", c, server.url, *args], cpu)
            )
        finally:
            server.close()
    columns = [("sync_ms", "blocking ms/stream", ".2f"), ("async_ms", "async ms/stream", ".2f")]
    _table(figures, columns, higher_is_better=False, versus={"minillm": "openai"})
    for name, values in figures.items():
        sync, async_ = values["sync_connections"], values["async_connections"]
        print(f"  connections opened, {name:10} blocking {sync:.0f}, async {async_:.0f}")
    for name, values in figures.items():
        if "sync_paired_ratio" in values:
            sync, async_ = values["sync_paired_ratio"], values["async_paired_ratio"]
            print(f"  paired with httpx in one process, {name:10} blocking {sync:.3f}x, async {async_:.3f}x")
    results["tls"] = figures
    _took()


_TREE = """
import json, sys, tempfile, time
from pathlib import Path
from minillm import ChatNode
n = int(sys.argv[1])
out = {}
t = time.perf_counter()
root = ChatNode.root("system")
nodes = [root]
for i in range(1, n):
    parent = nodes[(i - 1) // 3]
    nodes.append(parent.add_user(f"u{i}") if parent.role.value != "user" else parent.add_assistant(f"a{i}"))
out["build_tree_s"] = time.perf_counter() - t
assert root.node_count() == n
t = time.perf_counter()
leaf = ChatNode.root("system")
for i in range(1, n):
    leaf = leaf.add_user(f"u{i}") if i % 2 else leaf.add_assistant(f"a{i}")
out["build_chain_s"] = time.perf_counter() - t
t = time.perf_counter()
thread = leaf.thread()
out["thread_s"] = time.perf_counter() - t
assert len(thread) == n
path = Path(tempfile.mkdtemp()) / "chain.json"
t = time.perf_counter()
leaf.save_thread(path)
out["save_s"] = time.perf_counter() - t
t = time.perf_counter()
_root, loaded = ChatNode.from_thread_file(path)
out["load_s"] = time.perf_counter() - t
assert loaded.depth() == n - 1 and loaded.text == leaf.text
out["file_mb"] = path.stat().st_size / 2**20
print("RESULT " + json.dumps(out))
"""


def tree_section(sizes: Sizes, results: dict[str, Any]) -> None:
    _title(f"Tree scale: {sizes.tree:,} nodes (median of {sizes.heavy_trials}; the default recursion limit)")
    runs = []
    for _ in range(sizes.heavy_trials):
        done = subprocess.run([sys.executable, "-c", _TREE, str(sizes.tree)], capture_output=True, text=True)
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            raise SystemExit(f"the tree benchmark failed:\n{done.stderr}")
        runs.append(json.loads(line[-1][len("RESULT ") :]))
    figures = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    labels = {
        "build_tree_s": f"build a {sizes.tree:,}-node tree (3 children each)",
        "build_chain_s": f"build a {sizes.tree:,}-deep chain",
        "thread_s": "the chain's thread()",
        "save_s": "save_thread() of the chain",
        "load_s": "from_thread_file() of the chain",
    }
    for key, label in labels.items():
        print(f"  {label:45}{figures[key] * 1000:10.1f} ms")
    print(f"  {'saved file':45}{figures['file_mb']:10.1f} MB")
    _took()
    results["tree"] = figures


# ----------------------------------------------------------------------------------------------------------
# Goals


def goals(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The goals of issues 7 and 17 that this run measured, each with PASS/FAIL and the figures behind it."""
    out: list[tuple[str, bool, str]] = []
    paired = results.get("paired")
    for key, label in (("sync", "blocking"), ("async", "async")):
        if paired:
            ratio = paired[f"{key}_request_ratio"]
            out.append((f"per-request {label} <= 1.05x bare httpx (paired)", ratio <= 1.05, f"{ratio:.3f}x"))
        if paired and "requests" in results and "openai" in results["requests"]:
            # minillm's overhead from the paired ratio; openai's (ten times larger) from the separate runs.
            r = results["requests"]
            floor = r[FLOOR][f"{key}_us"]
            ours = (paired[f"{key}_request_ratio"] - 1) * floor
            theirs = r["openai"][f"{key}_us"] - floor
            share = ours / theirs if theirs > 0 else float("inf")
            detail = f"{share:.3f} ({ours:.0f} us against {theirs:.0f} us)"
            out.append((f"per-request {label}: overhead <= 1/10 of openai's", share <= 0.10, detail))
    for key, label in (("sync", "blocking"), ("async", "async")):
        if paired:
            ratio = paired[f"{key}_stream_ratio"]
            out.append((f"streaming {label} >= 0.85x bare httpx (paired)", ratio >= 0.85, f"{ratio:.3f}x"))
        if "stream" in results and "openai" in results["stream"]:
            st = results["stream"]
            peer = st["minillm"][f"{key}_chunks_per_s"] / st["openai"][f"{key}_chunks_per_s"]
            out.append((f"streaming {label} >= 5x openai", peer >= 5, f"{peer:.2f}x"))
    imports = results.get("imports/import the package")
    if imports:
        ratio = (imports["minillm"] - imports["bare"]) / (imports[FLOOR] - imports["bare"])
        out.append(("import minillm <= 2x import httpx (over bare)", ratio <= 2, f"{ratio:.2f}x"))
    if "burst" in results:
        b = results["burst"]["minillm"]
        ok = b["warm_over_cold"] <= 1.05
        detail = f"warm/cold {b['warm_over_cold']:.2f} (medians: cold {b['cold_s']:.2f} s, warm {b['warm_s']:.2f} s)"
        out.append(("warm 500-burst no slower than cold (5% noise)", ok, detail))
        ratio = b["peak_mb"] / max(results["burst"][FLOOR]["peak_mb"], 0.1)
        out.append(("500-burst peak memory <= 1.2x bare httpx", ratio <= 1.2, f"{ratio:.2f}x"))
    for key, label in (("streams", "200 streams"), ("paced streams", "200 paced streams")):
        if key in results:
            s = results[key]
            ratio = s["minillm"]["wall_s"] / s[FLOOR]["wall_s"]
            out.append((f"{label}: time <= 1.2x bare httpx", ratio <= 1.2, f"{ratio:.2f}x"))
            mem = s["minillm"]["peak_mb"] / max(s[FLOOR]["peak_mb"], 0.1)
            out.append((f"{label}: peak memory <= 1.2x bare httpx", mem <= 1.2, f"{mem:.2f}x"))
    tls = results.get("tls")
    if tls and "minillm" in tls:
        for key, label in (("sync", "blocking"), ("async", "async")):
            ratio = tls["minillm"][f"{key}_paired_ratio"]
            alone = tls["minillm"][f"{key}_ms"] / tls[FLOOR][f"{key}_ms"]
            detail = f"{ratio:.3f}x (separate processes: {alone:.2f}x)"
            out.append((f"TLS streams {label} <= 1.15x bare httpx (paired)", ratio <= 1.15, detail))
            conns = tls["minillm"][f"{key}_connections"]
            out.append((f"TLS streams {label}: one connection", conns == 1, f"{conns:.0f}"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one trial, minillm and the floor only")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--only", default="imports,requests,stream,paired,concurrency,sse,tree,tls")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = Sizes(args.smoke, args.trials)
    only = set(args.only.split(","))
    server_cpu, worker_cpu = _cpus()
    started = time.perf_counter()
    pinned = f", server on CPU {server_cpu}, workers on CPU {worker_cpu}" if server_cpu is not None else ""
    print(f"minillm benchmark suite: Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs{pinned}")
    results: dict[str, Any] = {}
    if "imports" in only:
        imports_section(sizes, results)
    if only & {"requests", "stream", "paired", "concurrency"}:
        server = Server(server_cpu)
        try:
            if "requests" in only:
                requests_section(sizes, server, worker_cpu, results)
            if "stream" in only:
                stream_section(sizes, server, worker_cpu, results)
            if "paired" in only:
                paired_section(sizes, server, worker_cpu, results)
            if "concurrency" in only:
                concurrency_section(sizes, server, worker_cpu, results)
        finally:
            server.close()
    if "sse" in only:
        sse_section(sizes, results)
    if "tree" in only:
        tree_section(sizes, results)
    if "tls" in only:
        tls_section(sizes, server_cpu, worker_cpu, results)
    _title("Goals (issues 7 and 17)")
    for label, ok, detail in goals(results):
        print(f"  {'PASS' if ok else 'FAIL'}  {label:52} {detail}")
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
