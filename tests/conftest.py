"""Shared fixtures: the local provider server, and a runner that drives the blocking or the async API.

Behavioural tests take ``api`` and run once per world ("sync" and "async"), so the twins are tested by the
same test, never written twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from minillm import (
    AsyncClient,
    ChatNode,
    CompletionResponse,
    CostInfo,
    GeneratorInfo,
    NodeCompletionParameters,
    StreamChunk,
    SyncClient,
)

pytest_plugins = ["minillm.testing.pytest_plugin", "pytester"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        help="talk to the real providers (keys from the environment or .env); without it nothing leaves 127.0.0.1",
    )
    parser.addoption(
        "--peers",
        action="store_true",
        help="run tests/peers against real peer servers (a LiteLLM proxy; see docs/testing.md)",
    )
    parser.addoption(
        "--record-cassettes",
        action="store_true",
        help="re-record cassettes/ (against the local server, or the real providers with --live)",
    )


_PEERS = Path(__file__).parent / "peers"


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the price catalog's cache out of the user's real cache folder for the whole run."""
    import os

    previous = os.environ.get("MINILLM_CACHE_DIR")
    os.environ["MINILLM_CACHE_DIR"] = str(tmp_path_factory.mktemp("minillm-cache"))
    yield
    if previous is None:
        os.environ.pop("MINILLM_CACHE_DIR", None)
    else:
        os.environ["MINILLM_CACHE_DIR"] = previous


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        for item in items:
            item.add_marker(pytest.mark.enable_socket)
    if not config.getoption("--peers"):
        skip = pytest.mark.skip(reason="a peer-server test: run with --peers (see docs/testing.md)")
        for item in items:
            if _PEERS in item.path.parents:
                item.add_marker(skip)


T = TypeVar("T")


class API:
    """One world's view of the network methods: ``api.complete(node, gen)`` runs ``node.complete`` with a
    ``SyncClient`` or ``node.acomplete`` with an ``AsyncClient`` on a private event loop."""

    def __init__(self, mode: str, **client_options: Any) -> None:
        self.mode = mode
        self.loop: asyncio.AbstractEventLoop | None = None
        if mode == "sync":
            self.sync_client = SyncClient(**client_options)
        else:
            self.loop = asyncio.new_event_loop()
            self.async_client = AsyncClient(**client_options)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        if self.mode == "sync":
            self.sync_client.close()
        else:
            self.run(self.async_client.aclose())
            assert self.loop is not None
            # What asyncio.run() does on the way out: let closing async generators finish.
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def complete(self, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None) -> ChatNode:
        if self.mode == "sync":
            return node.complete(gen, params, client=self.sync_client)
        return self.run(node.acomplete(gen, params, client=self.async_client))

    def chat(self, node: ChatNode, text: str, gen: GeneratorInfo) -> ChatNode:
        if self.mode == "sync":
            return node.chat(text, gen, client=self.sync_client)
        return self.run(node.achat(text, gen, client=self.async_client))

    def complete_costed(
        self, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> tuple[ChatNode, CostInfo]:
        if self.mode == "sync":
            return node.complete_costed(gen, params, client=self.sync_client)
        return self.run(node.acomplete_costed(gen, params, client=self.async_client))

    def ensure_cached(
        self, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> CostInfo:
        if self.mode == "sync":
            return node.ensure_cached(gen, params, client=self.sync_client)
        return self.run(node.aensure_cached(gen, params, client=self.async_client))

    def stream(
        self, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> tuple[list[StreamChunk], CompletionResponse]:
        """Open a stream, read it to the end, and return its chunks and final response."""
        if self.mode == "sync":
            with node.complete_streaming(gen, params, client=self.sync_client) as stream:
                chunks = list(stream)
            return chunks, stream.response

        async def go() -> tuple[list[StreamChunk], CompletionResponse]:
            async with await node.acomplete_streaming(gen, params, client=self.async_client) as stream:
                chunks = [chunk async for chunk in stream]
            return chunks, stream.response

        return self.run(go())

    def stream_collecting(
        self, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None
    ) -> tuple[list[StreamChunk], BaseException | None]:
        """Read a stream until it ends or fails; return the chunks received and the error, if any."""
        chunks: list[StreamChunk] = []
        if self.mode == "sync":
            try:
                with node.complete_streaming(gen, params, client=self.sync_client) as stream:
                    for chunk in stream:
                        chunks.append(chunk)
            except Exception as e:
                return chunks, e
            return chunks, None

        async def go() -> tuple[list[StreamChunk], BaseException | None]:
            try:
                async with await node.acomplete_streaming(gen, params, client=self.async_client) as stream:
                    async for chunk in stream:
                        chunks.append(chunk)
            except Exception as e:
                return chunks, e
            return chunks, None

        return self.run(go())


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Iterator[API]:
    runner = API(request.param)
    yield runner
    runner.close()


MakeAPI = Callable[..., API]


@pytest.fixture
def make_api(api: API) -> Iterator[MakeAPI]:
    """Make runners of ``api``'s world whose client takes the options a test needs (``hooks=``,
    ``default_params=``, an injected ``http_client`` ...); all are closed after the test."""
    made: list[API] = []

    def make(**client_options: Any) -> API:
        runner = API(api.mode, **client_options)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()
