"""The benchmark suite: minillm against bare httpx (the floor) and the official openai and anthropic SDKs.

Run (from the repository root, with the ``bench`` extra installed)::

    python bench/suite.py             # the full run, about 6 minutes on 2 cores
    python bench/suite.py --smoke     # a few seconds: every workload, tiny sizes (CI keeps it working)
    python bench/suite.py --only requests,stream --trials 7

It starts ``bench/server.py`` in its own process (pinned to the last CPU when there are two or more; the
workers get the others), then measures, in one run, with the contenders interleaved (A B C A B C ...) and the
median of several trials, each trial in a fresh interpreter (``bench/work.py``):

- import time (fresh interpreter; the bare interpreter's start subtracted);
- per-request time, sequential non-streaming requests on one kept-alive client, blocking and async;
- streaming chunks per second on one long stream, blocking and async;
- a burst of 500 concurrent async requests, twice on the same client (cold, warm), and 200 concurrent
  streams: wall time and peak memory growth;
- the SSE decoder alone (``bench/bench_sse.py``), against the SDKs' decoders;
- tree scale: a 100,000-node tree, a 100,000-deep chain's ``thread()``, ``save_thread`` and loading it back.

It prints every figure with its ratio to the floor and to the peers, then the goals of issue 7 with PASS or
FAIL. ``--json FILE`` also writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
FLOOR = "httpx"
SEQUENTIAL = ["httpx", "minillm", "openai", "minillm-anthropic", "anthropic"]
CONCURRENT = ["httpx", "httpx2", "minillm", "minillm-httpx2", "openai", "anthropic"]
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
    "minillm": "import minillm; minillm.SyncClient()",
    "openai": "import openai; openai.OpenAI(api_key='k')",
    "anthropic": "import anthropic; anthropic.Anthropic(api_key='k')",
}


class Sizes:
    """How much work each measurement does."""

    def __init__(self, smoke: bool, trials: int | None) -> None:
        self.smoke = smoke
        self.trials = trials or (1 if smoke else 5)
        self.heavy_trials = trials or (1 if smoke else 3)  # the concurrent workloads
        self.import_runs = 2 if smoke else 7
        self.requests = 30 if smoke else 1000
        self.chunks = 100 if smoke else 5000
        self.burst = 20 if smoke else 500
        self.streams = 10 if smoke else 200
        self.stream_chunks = 10 if smoke else 50
        self.tree = 2_000 if smoke else 100_000


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

    def __init__(self, cpu: int | None) -> None:
        cmd = [sys.executable, str(HERE / "server.py")]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise SystemExit(f"the benchmark server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

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
    """Median wall time (ms) of a fresh interpreter running each statement, interleaved."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for code in statements.values():  # compile and cache every module's bytecode first, so all start equal
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(runs):
        for name, code in statements.items():
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


# ----------------------------------------------------------------------------------------------------------
# Printing


def _title(text: str) -> None:
    print(f"\n{text}\n" + "-" * len(text))


def _table(
    figures: dict[str, dict[str, float]],
    columns: Sequence[tuple[str, str, str]],
    higher_is_better: bool,
    versus: dict[str, str] | None = None,
) -> None:
    """One row per contender: each column's value and its ratio to the floor; then minillm against each peer.

    ``columns`` are (key, heading, format). A ratio above 1 always means "slower or bigger than the floor"
    for times and memory, "faster than the floor" for rates.
    """
    head = f"  {'':18}" + "".join(f"{heading:>22}" for _, heading, _ in columns)
    print(head)
    for name, values in figures.items():
        cells = []
        for key, _, fmt in columns:
            value = values[key]
            floor = figures.get(FLOOR, {}).get(key)
            ratio = f" ({value / floor:4.2f}x)" if floor else ""
            cells.append(f"{format(value, fmt) + ratio:>22}")
        print(f"  {name:18}" + "".join(cells))
    for mine, peer in (versus or {}).items():
        if mine not in figures or peer not in figures:
            continue
        parts = []
        for key, heading, _ in columns:
            a, b = figures[mine][key], figures[peer][key]
            better = a / b if higher_is_better else b / a
            parts.append(f"{heading.strip()} {better:.2f}x")
        print(f"  {mine} vs {peer}: " + ", ".join(parts) + (" (higher is better for minillm)"))


# ----------------------------------------------------------------------------------------------------------
# Sections


def imports_section(sizes: Sizes, results: dict[str, Any]) -> None:
    _title(f"Import time (ms, median of {sizes.import_runs} fresh interpreters; 'over bare' subtracts the bare start)")
    for label, statements in (("import", IMPORTS), ("import + make a client", READY)):
        times = _import_times(statements, sizes.import_runs)
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


def requests_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    _title(f"Sequential requests on one kept-alive client (us per request, median of {sizes.trials})")
    figures = _interleaved(
        SEQUENTIAL,
        sizes.trials,
        lambda c: _work(["requests", c, server.url, "--n", str(sizes.requests)], cpu),
    )
    columns = [("sync_us", "blocking us", ".0f"), ("async_us", "async us", ".0f")]
    _table(figures, columns, higher_is_better=False, versus={"minillm": "openai", "minillm-anthropic": "anthropic"})
    floor = figures[FLOOR]
    for mine, peer in (("minillm", "openai"), ("minillm-anthropic", "anthropic")):
        for key in ("sync_us", "async_us"):
            ours, theirs = figures[mine][key] - floor[key], figures[peer][key] - floor[key]
            print(
                f"  overhead over the floor, {key[:-3]}: {mine} {ours:6.0f} us, {peer} {theirs:6.0f} us"
                f" ({ours / theirs if theirs > 0 else float('nan'):.2f} of {peer}'s)"
            )
    results["requests"] = figures


def stream_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    _title(f"One long stream of {sizes.chunks:,} chunks (chunks per second, median of {sizes.trials})")
    figures = _interleaved(
        SEQUENTIAL,
        sizes.trials,
        lambda c: _work(["stream", c, server.url, "--chunks", str(sizes.chunks)], cpu),
    )
    columns = [("sync_chunks_per_s", "blocking chunks/s", ",.0f"), ("async_chunks_per_s", "async chunks/s", ",.0f")]
    _table(figures, columns, higher_is_better=True, versus={"minillm": "openai", "minillm-anthropic": "anthropic"})
    results["stream"] = figures


def concurrency_section(sizes: Sizes, server: Server, cpu: int | None, results: dict[str, Any]) -> None:
    _title(f"{sizes.burst} concurrent async requests, twice on one client (median of {sizes.heavy_trials})")
    figures = _interleaved(
        CONCURRENT,
        sizes.heavy_trials,
        lambda c: _work(["burst", c, server.url, "--concurrency", str(sizes.burst)], cpu),
    )
    columns = [("cold_s", "cold burst s", ".2f"), ("warm_s", "warm burst s", ".2f"), ("peak_mb", "peak MB", ".1f")]
    _table(figures, columns, higher_is_better=False, versus={"minillm": "openai", "minillm-httpx2": "httpx2"})
    results["burst"] = figures

    _title(f"{sizes.streams} concurrent async streams of {sizes.stream_chunks} chunks (median of {sizes.heavy_trials})")
    figures = _interleaved(
        CONCURRENT,
        sizes.heavy_trials,
        lambda c: _work(
            ["streams", c, server.url, "--concurrency", str(sizes.streams), "--chunks", str(sizes.stream_chunks)],
            cpu,
        ),
    )
    columns = [("wall_s", "wall s", ".2f"), ("peak_mb", "peak MB", ".1f")]
    _table(figures, columns, higher_is_better=False, versus={"minillm": "openai", "minillm-httpx2": "httpx2"})
    results["streams"] = figures


def sse_section(sizes: Sizes, results: dict[str, Any]) -> None:
    sys.path.insert(0, str(HERE))
    import bench_sse

    found = bench_sse.decoders()
    mib = 1 if sizes.smoke else 64
    count = 1_000 if sizes.smoke else 100_000
    _title(f"The SSE decoder alone (best of {bench_sse.RUNS})")
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


_TREE = """
import json, sys, tempfile, time, os
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
    _title(f"Tree scale: {sizes.tree:,} nodes (median of {sizes.trials}; default recursion limit)")
    runs = []
    for _ in range(sizes.trials):
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
    results["tree"] = figures


# ----------------------------------------------------------------------------------------------------------
# Goals


def goals(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """The goals of issue 7 that this run measured, each with PASS/FAIL and the figures behind it."""
    out: list[tuple[str, bool, str]] = []
    if "requests" in results:
        r = results["requests"]
        for key, label in (("sync_us", "blocking"), ("async_us", "async")):
            ratio = r["minillm"][key] / r[FLOOR][key]
            out.append((f"per-request {label} <= 1.10x bare httpx", ratio <= 1.10, f"{ratio:.3f}x"))
            ours = r["minillm"][key] - r[FLOOR][key]
            theirs = r["openai"][key] - r[FLOOR][key]
            share = ours / theirs if theirs > 0 else float("inf")
            out.append((f"per-request {label} overhead <= 1/10 of openai's", share <= 0.10, f"{share:.3f}"))
    if "stream" in results:
        s = results["stream"]
        for key, label in (("sync_chunks_per_s", "blocking"), ("async_chunks_per_s", "async")):
            ratio = s["minillm"][key] / s[FLOOR][key]
            out.append((f"streaming {label} >= 0.75x bare httpx", ratio >= 0.75, f"{ratio:.3f}x"))
            peer = s["minillm"][key] / s["openai"][key]
            out.append((f"streaming {label} >= 5x openai", peer >= 5, f"{peer:.2f}x"))
    imports = results.get("imports/import")
    if imports:
        ratio = (imports["minillm"] - imports["bare"]) / (imports[FLOOR] - imports["bare"])
        out.append(("import minillm <= 2x import httpx (over bare)", ratio <= 2, f"{ratio:.2f}x"))
    if "burst" in results:
        b = results["burst"]["minillm"]
        out.append(
            (
                "warm 500-burst no slower than cold",
                b["warm_s"] <= b["cold_s"] * 1.05,
                f"cold {b['cold_s']:.2f} s, warm {b['warm_s']:.2f} s (5% noise allowed)",
            )
        )
        ratio = b["peak_mb"] / max(results["burst"][FLOOR]["peak_mb"], 0.1)
        out.append(("500-burst peak memory <= 1.2x bare httpx", ratio <= 1.2, f"{ratio:.2f}x"))
    if "streams" in results:
        s = results["streams"]
        ratio = s["minillm"]["wall_s"] / s[FLOOR]["wall_s"]
        out.append(("200 concurrent streams <= 1.2x bare httpx", ratio <= 1.2, f"{ratio:.2f}x"))
        mem = s["minillm"]["peak_mb"] / max(s[FLOOR]["peak_mb"], 0.1)
        out.append(("200 streams peak memory <= 1.2x bare httpx", mem <= 1.2, f"{mem:.2f}x"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one trial: seconds, for CI")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--only", default="imports,requests,stream,concurrency,sse,tree")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    sizes = Sizes(args.smoke, args.trials)
    only = set(args.only.split(","))
    server_cpu, worker_cpu = _cpus()
    started = time.perf_counter()
    print(
        f"minillm benchmark suite: python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs"
        + (f", server pinned to CPU {server_cpu}, workers to CPU {worker_cpu}" if server_cpu is not None else "")
    )
    results: dict[str, Any] = {}
    if "imports" in only:
        imports_section(sizes, results)
    server = Server(server_cpu)
    try:
        if "requests" in only:
            requests_section(sizes, server, worker_cpu, results)
        if "stream" in only:
            stream_section(sizes, server, worker_cpu, results)
        if "concurrency" in only:
            concurrency_section(sizes, server, worker_cpu, results)
    finally:
        server.close()
    if "sse" in only:
        sse_section(sizes, results)
    if "tree" in only:
        tree_section(sizes, results)
    _title("Goals (issue 7)")
    for label, ok, detail in goals(results):
        print(f"  {'PASS' if ok else 'FAIL'}  {label:50} {detail}")
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
