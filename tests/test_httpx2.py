"""An injected ``httpx2`` client: it carries requests and streams, and its errors and timeouts are mapped as
httpx's are. (That httpx2 is never imported otherwise: tests/test_import_cost.py.)
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from minillm import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    ChatNode,
    GeneratorInfo,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    SyncClient,
)
from minillm.testing import MockLLMServer, Reply


def _gen(server: MockLLMServer) -> GeneratorInfo:
    return GeneratorInfo.openai("test-model").with_api_key("sk-test").with_base_url(server.openai_base_url)


# ----- requests, streams, errors --------------------------------------------------------------------------

httpx2 = pytest.importorskip("httpx2")


def test_an_injected_httpx2_client_carries_requests_and_streams(api_mode: str, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("plain"), Reply.text("streamed", chunk_size=2))
    gen = _gen(llm_server)
    params = NodeCompletionParameters(timeout_secs=5.0)  # a per-request timeout, built as httpx2's own kind
    if api_mode == "sync":
        with httpx2.Client() as http, SyncClient(http_client=http, timeout=10.0) as client:
            assert ChatNode.user("a").complete(gen, params, client=client).text == "plain"
            with ChatNode.user("b").complete_streaming(gen, params, client=client) as stream:
                assert "".join(c.delta for c in stream) == "streamed"
    else:

        async def go() -> None:
            async with httpx2.AsyncClient() as http, AsyncClient(http_client=http, timeout=10.0) as client:
                assert (await ChatNode.user("a").acomplete(gen, params, client=client)).text == "plain"
                async with await ChatNode.user("b").acomplete_streaming(gen, params, client=client) as stream:
                    assert "".join([c.delta async for c in stream]) == "streamed"

        asyncio.run(go())
    assert len(llm_server.requests) == 2


@pytest.fixture(params=["sync", "async"])
def api_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


def test_httpx2_connection_errors_are_mapped(api_mode: str) -> None:
    gen = GeneratorInfo.openai("m").with_api_key("sk-test").with_base_url(_refused_url())
    params = NodeCompletionParameters(retry=0)
    with pytest.raises(MaxRetriesExceededError) as info:
        if api_mode == "sync":
            with httpx2.Client() as http:
                ChatNode.user("hi").complete(gen, params, client=SyncClient(http_client=http))
        else:

            async def go() -> None:
                async with httpx2.AsyncClient() as http:
                    await ChatNode.user("hi").acomplete(gen, params, client=AsyncClient(http_client=http))

            asyncio.run(go())
    error = info.value.last_error
    assert isinstance(error, APIConnectionError) and isinstance(error.__cause__, httpx2.HTTPError)


def test_httpx2_timeouts_are_mapped(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.silent())
    params = NodeCompletionParameters(retry=0)
    with httpx2.Client(timeout=httpx2.Timeout(0.3)) as http, pytest.raises(MaxRetriesExceededError) as info:
        ChatNode.user("hi").complete(_gen(llm_server), params, client=SyncClient(http_client=http))
    assert isinstance(info.value.last_error, APITimeoutError)
