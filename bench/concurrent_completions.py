"""1,000 concurrent ``acomplete()`` calls on one event loop against the benchmark server: all must succeed.

Run: ``python bench/concurrent_completions.py [N] [--httpx2]``. It starts ``bench/server.py`` in its own
process (so the server never competes with the client for the GIL, as the in-process ``minillm.testing``
server would) and prints the wall time of a cold and a warm burst of ``N`` calls on one ``AsyncClient``
(``--httpx2``: over an injected ``httpx2.AsyncClient`` instead of the client's own pool).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from minillm import AsyncClient, ChatNode, GeneratorInfo

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from suite import Server  # bench/ is not a package: its own folder is put on the path above

TEXT = "Hello! How can I help you today?"


async def burst(client: AsyncClient, gen: GeneratorInfo, n: int) -> float:
    started = time.perf_counter()
    replies = await asyncio.gather(*(ChatNode.user(f"q{i}").acomplete(gen, client=client) for i in range(n)))
    elapsed = time.perf_counter() - started
    wrong = [i for i, node in enumerate(replies) if node.text != TEXT]
    if wrong:
        raise SystemExit(f"{len(wrong)} of {n} replies were wrong (first: #{wrong[0]})")
    return elapsed


async def main(url: str, n: int, httpx2: bool) -> None:
    gen = GeneratorInfo.openai("bench").with_api_key("bench").with_base_url(url + "/v1")
    http: Any = None
    if httpx2:
        import httpx2 as hx

        http = hx.AsyncClient(limits=hx.Limits(max_connections=100, max_keepalive_connections=100), timeout=600.0)
    async with AsyncClient(http_client=http) as client:
        cold = await burst(client, gen, n)
        warm = await burst(client, gen, n)
    if http is not None:
        await http.aclose()
    over = "an injected httpx2 client" if httpx2 else "minillm's own pool"
    print(f"{n} concurrent acomplete() calls over {over}, all correct: cold {cold:.2f} s, warm {warm:.2f} s")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    server = Server(None)
    try:
        asyncio.run(main(server.url, int(args[0]) if args else 1000, "--httpx2" in sys.argv))
    finally:
        server.close()
