"""1,000 concurrent ``acomplete()`` calls on one event loop against the local server: all must succeed.

Run: ``python bench/concurrent_completions.py [N]``. Prints the wall time of a cold and a warm burst.
"""

from __future__ import annotations

import asyncio
import sys
import time

from minillm import AsyncClient, ChatNode, GeneratorInfo
from minillm.testing import MockLLMServer


async def burst(client: AsyncClient, gen: GeneratorInfo, n: int) -> float:
    started = time.perf_counter()
    replies = await asyncio.gather(*(ChatNode.user(f"q{i}").acomplete(gen, client=client) for i in range(n)))
    elapsed = time.perf_counter() - started
    wrong = [i for i, node in enumerate(replies) if node.text != f"Echo: q{i}"]
    if wrong:
        raise SystemExit(f"{len(wrong)} of {n} replies were wrong (first: #{wrong[0]})")
    return elapsed


async def main(n: int) -> None:
    with MockLLMServer() as server:
        gen = GeneratorInfo.openai("bench").with_api_key("test").with_base_url(server.openai_base_url)
        async with AsyncClient() as client:
            cold = await burst(client, gen, n)
            warm = await burst(client, gen, n)
        print(f"{n} concurrent acomplete() calls, all correct: cold burst {cold:.2f} s, warm burst {warm:.2f} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
