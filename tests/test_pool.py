"""The connection pool of an ``AsyncClient`` that makes its own HTTP client (minillm.transport._pool).

Bounded, first come first served, and nothing leaked by cancellation or pool timeouts. Nothing here measures
time: ``bench/`` does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from minillm import AsyncClient, ChatNode, GeneratorInfo, InvalidParameterError
from minillm.testing import MockLLMServer, Reply
from minillm.transport._pool import ConnectionPerPoolTransport


def _gen(server: MockLLMServer) -> GeneratorInfo:
    return GeneratorInfo.openai("test-model").with_api_key("sk-test").with_base_url(server.openai_base_url)


# ----- bounded, first come first served, nothing leaked ---------------------------------------------------


def _pool(client: AsyncClient) -> Any:
    return client._http._transport  # the pool minillm made (private, test-only)


def test_the_pool_never_opens_more_connections_than_allowed(llm_server: MockLLMServer) -> None:
    async def go() -> list[str | None]:
        async with AsyncClient(max_connections=3) as client:
            tasks = [ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client) for i in range(60)]
            texts = [node.text for node in await asyncio.gather(*tasks)]
            pool = _pool(client)
            assert len(pool._pools) <= 3 and len(pool._free) == len(pool._pools)  # every connection given back
            return texts

    assert asyncio.run(go()) == [f"Echo: q{i}" for i in range(60)]
    assert llm_server.connection_count <= 3


def test_a_second_burst_reuses_the_kept_alive_connections(llm_server: MockLLMServer) -> None:
    async def go() -> None:
        async with AsyncClient(max_connections=4) as client:
            for _ in range(2):
                tasks = [ChatNode.user("q").acomplete(_gen(llm_server), client=client) for _ in range(20)]
                await asyncio.gather(*tasks)

    asyncio.run(go())
    assert llm_server.connection_count <= 4


def test_sequential_requests_reuse_one_connection(llm_server: MockLLMServer) -> None:
    async def go() -> None:
        async with AsyncClient() as client:
            for i in range(5):
                await ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client)

    asyncio.run(go())
    assert {r.connection for r in llm_server.requests} == {1}


def test_waiters_are_served_first_come_first_served(llm_server: MockLLMServer) -> None:
    order: list[int] = []

    async def one(client: AsyncClient, i: int) -> None:
        await ChatNode.user(f"q{i}").acomplete(_gen(llm_server), client=client)
        order.append(i)

    async def go() -> None:
        async with AsyncClient(max_connections=1) as client:
            tasks = []
            for i in range(6):
                tasks.append(asyncio.ensure_future(one(client, i)))
                await asyncio.sleep(0)  # each request starts (and queues) in turn
            await asyncio.gather(*tasks)

    asyncio.run(go())
    assert order == list(range(6))


def test_a_cancelled_waiter_leaks_nothing(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.stall(Reply.text("slow answer"), after_bytes=0))

    async def go() -> None:
        async with AsyncClient(max_connections=1) as client:
            gen = _gen(llm_server)
            stuck = asyncio.ensure_future(ChatNode.user("stuck").acomplete(gen, client=client))
            await asyncio.sleep(0.2)  # holds the only connection
            waiting = asyncio.ensure_future(ChatNode.user("waiting").acomplete(gen, client=client))
            await asyncio.sleep(0.05)
            waiting.cancel()
            stuck.cancel()
            for task in (waiting, stuck):
                with pytest.raises(asyncio.CancelledError):
                    await task
            pool = _pool(client)
            assert not [w for w in pool._waiters if not w.done()]
            assert len(pool._free) == len(pool._pools) == 1
            llm_server.enqueue(Reply.text("fine"))
            assert (await ChatNode.user("after").acomplete(gen, client=client)).text == "fine"

    asyncio.run(go())


def test_the_pool_timeout_bounds_the_wait_for_a_connection(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.stall(Reply.text("slow answer"), after_bytes=0))

    async def go() -> None:
        pool = ConnectionPerPoolTransport(1)
        async with httpx.AsyncClient(transport=pool) as http:
            url = llm_server.openai_base_url + "/chat/completions"
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            stuck = asyncio.ensure_future(http.post(url, json=body, timeout=httpx.Timeout(30.0)))
            await asyncio.sleep(0.2)
            with pytest.raises(httpx.PoolTimeout):
                await http.post(url, json=body, timeout=httpx.Timeout(30.0, pool=0.1))
            stuck.cancel()
            with pytest.raises(asyncio.CancelledError):
                await stuck
            assert len(pool._free) == 1 and not [w for w in pool._waiters if not w.done()]

    asyncio.run(go())


def test_max_connections_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="max_connections"):
        AsyncClient(max_connections=0)
