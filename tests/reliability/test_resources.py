"""Resources under long use: connections, memory, file handles, and sharing a client between threads and tasks.

A service runs one client for months: a stream closed early must give its connection back, memory must not
creep up request after request, reading media must not leak file handles, and a client shared by many
threads or tasks must keep every answer (and every cost) with the request it belongs to.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from minillm import (
    AsyncClient,
    AudioData,
    ChatNode,
    CostInfo,
    CostResolution,
    DocumentData,
    FileAccessError,
    GeneratorInfo,
    ImageData,
    InvalidParameterError,
    NodeCompletionParameters,
    SyncClient,
    TokenPrice,
)
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.reliability.conftest import busy_connections, openai_gen

PRICE = TokenPrice(1.0, 2.0)


def _wait_until(condition: object, seconds: float = 10.0) -> bool:
    """Poll ``condition()`` until it holds or ``seconds`` pass (for what the server notices a moment later)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return bool(condition())  # type: ignore[operator]


# ----- streams closed early -------------------------------------------------------------------------------------


class _Abandon(Exception):
    """Raised inside a stream's block to leave it by an error."""


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_thousand_streams_closed_early_release_every_connection(llm_server: MockLLMServer, mode: str) -> None:
    """Each stream is left after its first chunk (a ``break``, an error inside the block, or ``close()``)
    with most of its body unread, on a pool of two connections: one connection kept would exhaust the pool
    within three streams (and fail on the 5 s pool timeout)."""
    llm_server.set_responder(lambda _request: Reply.text("x" * 400, chunk_size=10))
    gen = openai_gen(llm_server)
    api = API(mode, timeout=5.0, max_connections=2)
    first: list[str] = []
    try:
        if mode == "sync":
            for i in range(1000):
                stream = ChatNode.user("hi").complete_streaming(gen, client=api.sync_client)
                if i % 3 == 2:
                    first.append(next(iter(stream)).delta)
                    stream.close()
                    continue
                try:
                    with stream:
                        for chunk in stream:
                            first.append(chunk.delta)
                            if i % 3 == 1:
                                raise _Abandon
                            break
                except _Abandon:
                    pass
        else:

            async def go() -> None:
                for i in range(1000):
                    stream = await ChatNode.user("hi").acomplete_streaming(gen, client=api.async_client)
                    if i % 3 == 2:
                        first.append((await anext(aiter(stream))).delta)
                        await stream.aclose()
                        continue
                    try:
                        async with stream:
                            async for chunk in stream:
                                first.append(chunk.delta)
                                if i % 3 == 1:
                                    raise _Abandon
                                break
                    except _Abandon:
                        pass

            api.run(go())
        assert first == ["xxxxxxxxxx"] * 1000
        assert len(llm_server.requests) == 1000
        assert busy_connections(api) == 0
        # the server sees every abandoned connection closed (at most the pool's two stay open)
        assert _wait_until(lambda: llm_server.open_connections <= 2)
        llm_server.set_responder(None)
        assert api.complete(ChatNode.user("after"), gen).text == "Echo: after"
    finally:
        api.close()


# ----- memory ---------------------------------------------------------------------------------------------------

_SERVER_SCRIPT = """
import sys
from minillm.testing import MockLLMServer

with MockLLMServer() as server:
    print(server.port, flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture(scope="module")
def outside_server() -> Iterator[str]:
    """A ``MockLLMServer`` in a child process (its base URL): memory traced here is the client's alone, and
    the server does not share this process's interpreter lock."""
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_memory_stays_flat_over_many_requests(outside_server: str, mode: str) -> None:
    """After a warm-up, 1,000 more requests per world (2,000 in all: three completions to one stream) leave
    less than 256 KiB more memory allocated than before them: a leak of anything per request (a response, a
    node, a connection's buffers, a callback) would be at least a few hundred KiB here."""
    gen = GeneratorInfo.openai("gpt-test").with_api_key("sk-test").with_base_url(outside_server)
    params = NodeCompletionParameters(cost_callback=lambda _info: None).with_token_price(PRICE)
    api = API(mode, timeout=10.0, max_connections=2)

    def sync_batch(count: int) -> None:
        for i in range(count):
            if i % 4 == 0:
                with ChatNode.user(f"q{i}").complete_streaming(gen, params, client=api.sync_client) as stream:
                    for _ in stream:
                        pass
            else:
                ChatNode.user(f"q{i}").complete(gen, params, client=api.sync_client)

    async def async_batch(count: int) -> None:
        for i in range(count):
            if i % 4 == 0:
                stream = await ChatNode.user(f"q{i}").acomplete_streaming(gen, params, client=api.async_client)
                async with stream:
                    async for _ in stream:
                        pass
            else:
                await ChatNode.user(f"q{i}").acomplete(gen, params, client=api.async_client)

    def batch(count: int) -> None:
        if mode == "sync":
            sync_batch(count)
        else:
            api.run(async_batch(count))

    try:
        batch(200)  # warm-up: connections, caches, lazily built tables
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            batch(1000)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    finally:
        api.close()
    assert grown < 256 * 1024, f"{grown / 1024:.0f} KiB more after 1,000 requests"


# ----- file handles ---------------------------------------------------------------------------------------------


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counting open files needs /proc")
def test_media_from_file_leaks_no_file_handle(tmp_path: Path) -> None:
    files = {
        "image": tmp_path / "pixel.png",
        "audio": tmp_path / "clip.wav",
        "document": tmp_path / "paper.pdf",
    }
    for path in files.values():
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "noext").write_bytes(b"x")
    before = _open_files()
    for _ in range(300):
        assert ImageData.from_file(files["image"]).to_bytes()[:4] == b"\x89PNG"
        assert AudioData.from_file(files["audio"]).format == "wav"
        assert DocumentData.from_file(files["document"]).filename == "paper.pdf"
        for failing in (
            lambda: ImageData.from_file(tmp_path / "missing.png"),
            lambda: ImageData.from_file(tmp_path / "folder.png"),
            lambda: DocumentData.from_file(tmp_path / "missing.pdf"),
            lambda: AudioData.from_file(tmp_path / "missing.mp3"),
        ):
            with pytest.raises(FileAccessError):
                failing()
        with pytest.raises(InvalidParameterError):
            AudioData.from_file(tmp_path / "noext")
    gc.collect()
    assert _open_files() == before


# ----- sharing a client -----------------------------------------------------------------------------------------


def _tagged_reply(request: object) -> Reply:
    """Answer with the request's own tag, and usage that identifies it: prompt tokens = its number."""
    text = request.json["messages"][-1]["content"]  # type: ignore[attr-defined]
    number = int(text.rsplit("-", 1)[1])
    return Reply.text(f"answer to {text}", usage=(number + 1, 7), chunk_size=4)


def test_a_sync_client_shared_by_16_threads(llm_server: MockLLMServer) -> None:
    """16 threads, 25 requests each (completions, streams and costed completions) through one client: every
    thread gets its own answers, and the cost callback sees each completion exactly once."""
    llm_server.set_responder(_tagged_reply)
    gen = openai_gen(llm_server).with_token_price(PRICE)
    seen: list[CostInfo] = []
    lock = threading.Lock()

    def record(info: CostInfo) -> None:
        with lock:
            seen.append(info)

    params = NodeCompletionParameters(cost_callback=record)
    answers: dict[int, list[tuple[str, str | None, str]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def work(client: SyncClient, t: int) -> None:
        mine: list[tuple[str, str | None, str]] = []
        start.wait()
        try:
            for i in range(25):
                tag = f"t{t}-{t * 25 + i}"
                if i % 5 == 0:
                    with ChatNode.user(tag).complete_streaming(gen, params, client=client) as stream:
                        text = "".join(chunk.delta for chunk in stream)
                    mine.append((tag, text, stream.response.id))
                elif i % 5 == 1:
                    node, info = ChatNode.user(tag).complete_costed(gen, client=client)
                    assert info.prompt_tokens == t * 25 + i + 1  # the cost is this request's
                    mine.append((tag, node.text, "costed"))
                else:
                    node = ChatNode.user(tag).complete(gen, params, client=client)
                    mine.append((tag, node.text, node.metadata["response_id"]))
        except BaseException as e:
            errors.append(e)
        answers[t] = mine

    with SyncClient(max_connections=8) as client:
        threads = [threading.Thread(target=work, args=(client, t)) for t in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    for t, mine in answers.items():
        assert [tag for tag, _, _ in mine] == [f"t{t}-{t * 25 + i}" for i in range(25)]
        assert all(text == f"answer to {tag}" for tag, text, _ in mine)
    # the callback: once per completion made with it (the costed ones report through their return value)
    with_callback = {rid: tag for mine in answers.values() for tag, _, rid in mine if rid != "costed"}
    assert len(seen) == len(with_callback) == 16 * 20
    assert {info.response_id for info in seen} == set(with_callback)
    for info in seen:
        number = int(with_callback[info.response_id].rsplit("-", 1)[1])
        assert info.prompt_tokens == number + 1 and info.resolution is CostResolution.RESOLVED
    assert len(llm_server.requests) == 16 * 25


def test_the_idle_check_is_not_fooled_by_a_request_started_from_another_thread() -> None:
    """Regression (16 threads sharing a ``SyncClient`` hit ``Bad file descriptor`` errors and reads hung until
    their timeout): httpcore's pool took a connection whose request had just been answered for one the server
    had closed, and closed it under the request. Once a request was written on a connection, the first
    readability check says "not readable"; the next check reports the socket as it is."""
    from minillm.transport._network import _DeadlineStream

    class Socket:
        def __init__(self) -> None:
            self.shut = False

        def shutdown(self, how: int) -> None:
            self.shut = True

    class Inner:
        readable = True
        closed = False
        sock = Socket()

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            pass

        def close(self) -> None:
            self.closed = True

        def get_extra_info(self, info: str) -> object:
            return {"is_readable": self.readable, "socket": self.sock}.get(info)

    inner = Inner()
    stream = _DeadlineStream(inner)  # type: ignore[arg-type]
    assert stream.get_extra_info("is_readable") is True  # nothing written yet: a readable socket is a hang-up
    stream.write(b"POST / HTTP/1.1\r\n\r\n")
    assert stream.get_extra_info("is_readable") is False  # maybe the answer to that request
    assert stream.get_extra_info("is_readable") is True  # the next check sees the socket as it is
    assert stream.get_extra_info("socket") is inner.sock
    stream.close()
    assert inner.sock.shut and inner.closed  # shut down first: a read blocked on it wakes up


def test_a_connection_the_server_closed_while_idle_is_not_reused(llm_server: MockLLMServer) -> None:
    """The other half of the idle check: a kept-alive connection the server has since closed is noticed, and
    the next request opens a new one instead of failing on the dead one (no retry allowed here)."""
    port = llm_server.port
    params = NodeCompletionParameters(retry=0)
    with SyncClient(max_connections=1, timeout=5.0) as client:
        gen = openai_gen(llm_server)
        assert ChatNode.user("one").complete(gen, params, client=client).text == "Echo: one"
        llm_server.stop()  # closes the idle kept-alive connection from the server's side
        with MockLLMServer(port=port) as again:
            for word in ("two", "three"):
                assert ChatNode.user(word).complete(gen, params, client=client).text == f"Echo: {word}"
            assert again.connection_count == 1


def test_an_async_client_under_1000_concurrent_tasks(llm_server: MockLLMServer) -> None:
    """1,000 tasks on one loop share a client with 20 connections: 800 completions and 200 streams, all
    answered with their own text, and the (async) cost callback awaited once per completion."""
    llm_server.set_responder(_tagged_reply)
    gen = openai_gen(llm_server).with_token_price(PRICE)
    seen: list[CostInfo] = []

    async def record(info: CostInfo) -> None:
        await asyncio.sleep(0)
        seen.append(info)

    params = NodeCompletionParameters(cost_callback=record)

    async def one(client: AsyncClient, i: int) -> tuple[str, str | None, str]:
        tag = f"task-{i}"
        if i % 5 == 0:
            async with await ChatNode.user(tag).acomplete_streaming(gen, params, client=client) as stream:
                text = "".join([chunk.delta async for chunk in stream])
            return tag, text, stream.response.id
        node = await ChatNode.user(tag).acomplete(gen, params, client=client)
        return tag, node.text, node.metadata["response_id"]

    async def go() -> list[tuple[str, str | None, str]]:
        async with AsyncClient(max_connections=20, timeout=60.0) as client:
            return await asyncio.gather(*(one(client, i) for i in range(1000)))

    results = asyncio.run(go())
    assert [tag for tag, _, _ in results] == [f"task-{i}" for i in range(1000)]
    assert all(text == f"answer to {tag}" for tag, text, _ in results)
    by_id = {rid: tag for tag, _, rid in results}
    assert len(by_id) == 1000 and len(seen) == 1000
    assert {info.response_id for info in seen} == set(by_id)
    for info in seen:
        assert info.prompt_tokens == int(by_id[info.response_id].rsplit("-", 1)[1]) + 1
        assert info.cost == pytest.approx((info.prompt_tokens * 1.0 + 7 * 2.0) / 1e6)
    assert len(llm_server.requests) == 1000
