"""Fixtures of the reliability suite: the ``api`` runner on a one-connection pool, recorded waits, and the
checks that a fault left the client usable.

``api`` here overrides the shared one (``tests/conftest.py``) with ``max_connections=1`` and a 5 s deadline,
kept for a whole module: a fault that kept its connection checked out would make the next request on the
same client fail with a pool timeout instead of passing, so "the connection was released" is proven by that
next request (and by every later test on the same client).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from minillm import ChatNode, GeneratorInfo, NodeCompletionParameters
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API

TIMEOUT = 5.0
"""The client's default deadline in this suite: long enough for any healthy request, short enough that a
leaked connection shows up as a failure within seconds rather than a hang."""

NO_RETRY = NodeCompletionParameters(retry=0, back_off_time=0.0)


@pytest.fixture(scope="module", params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[API]:
    """The blocking or the async world, each on a client with a single connection. One client serves a whole
    module, as one serves a whole service: each test's fault comes after all the earlier ones, and
    ``assert_released`` checks that the client still works after it."""
    runner = API(request.param, timeout=TIMEOUT, max_connections=1)
    yield runner
    runner.close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry waits, recorded instead of slept (both transports' sleeps are patched).

    Do not combine with replies that make the server wait (``delay``, ``chunk_delay``, trickles): the server's
    ``asyncio.sleep`` is the same function and would be recorded (and skipped) too.
    """
    recorded: list[float] = []
    real_async_sleep = asyncio.sleep

    def sleep(seconds: float) -> None:
        recorded.append(seconds)

    async def async_sleep(seconds: float, result: Any = None) -> Any:
        recorded.append(seconds)
        await real_async_sleep(0)  # still a point where other tasks run
        return result

    # The transports call time.sleep / asyncio.sleep through their modules, so patching those is enough.
    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(asyncio, "sleep", async_sleep)
    return recorded


def openai_gen(server: MockLLMServer, key: str = "sk-test-key") -> GeneratorInfo:
    return GeneratorInfo.openai("gpt-test").with_api_key(key).with_base_url(server.openai_base_url)


def anthropic_gen(server: MockLLMServer, key: str = "sk-ant-test-key") -> GeneratorInfo:
    return GeneratorInfo.anthropic("claude-test").with_api_key(key).with_base_url(server.anthropic_base_url)


def closed_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def busy_connections(api: API) -> int:
    """Connections of the client's pool that are checked out (neither idle nor closed).

    Reads httpx's and httpcore's pools (private structures, test-only): the pool minillm makes is an httpx
    transport, or for ``AsyncClient`` one that keeps each connection in an httpx transport of its own.
    """
    http: Any = api.sync_client._http if api.mode == "sync" else api.async_client._http
    transport = http._transport
    pools = getattr(transport, "_pools", None)
    transports = list(pools) if pools is not None else [transport]
    busy = 0
    for item in transports:
        for connection in item._pool.connections:
            if not (connection.is_idle() or connection.is_closed()):
                busy += 1
    return busy


def assert_released(api: API, server: MockLLMServer) -> None:
    """The client still works after a fault: nothing is checked out of its pool, and the next request (on
    its single connection) succeeds. Forgets the server's script and records first."""
    assert busy_connections(api) == 0
    server.reset()
    server.enqueue(Reply.text("still fine"))
    assert api.complete(ChatNode.user("after the fault"), openai_gen(server), NO_RETRY).text == "still fine"
    assert busy_connections(api) == 0
