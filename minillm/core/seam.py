"""Where the tree meets the network, without the core importing a transport.

``ChatNode``'s network methods take an explicit ``client=``; without one they ask this module for the
default client. The transport package registers its default-client factories here when it is imported,
so the core never imports the transport (imports run one way: transport → core). ``minillm`` loads the
transport lazily, so the package registers a loader here too: the first default-client lookup runs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from minillm.core.errors import ConfigurationError, MiniLLMError

if TYPE_CHECKING:
    from minillm.core.fallback import FallbackGenerator
    from minillm.core.generator import GeneratorInfo
    from minillm.core.http import HTTPRequest
    from minillm.core.params import NodeCompletionParameters
    from minillm.core.response import CompletionResponse
    from minillm.core.stream import StreamChunk
    from minillm.core.tokens import Answer, Flow
    from minillm.core.tree import ChatNode
    from minillm.core.usage import CostInfo

__all__ = [
    "AsyncChunkStream",
    "AsyncCompletionClient",
    "SyncChunkStream",
    "SyncCompletionClient",
    "arun_flow",
    "async_client",
    "register_default_clients",
    "register_transport_loader",
    "run_flow",
    "sync_client",
]


class SyncChunkStream(Protocol):
    """A blocking stream of ``StreamChunk``s (``minillm.transport.CompletionStream``)."""

    def __iter__(self) -> Iterator[StreamChunk]: ...

    def __enter__(self) -> SyncChunkStream: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @property
    def response(self) -> CompletionResponse: ...

    @property
    def text(self) -> str: ...

    def cost(self) -> CostInfo: ...

    def partial(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class AsyncChunkStream(Protocol):
    """An async stream of ``StreamChunk``s (``minillm.transport.AsyncCompletionStream``)."""

    def __aiter__(self) -> AsyncIterator[StreamChunk]: ...

    async def __aenter__(self) -> AsyncChunkStream: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @property
    def response(self) -> CompletionResponse: ...

    @property
    def text(self) -> str: ...

    async def acost(self) -> CostInfo: ...

    def apartial(self) -> AsyncIterator[Any]: ...

    async def aclose(self) -> None: ...


class SyncCompletionClient(Protocol):
    """The type of ``client=`` on ``ChatNode``'s blocking network methods: what they need from a client
    (``minillm.SyncClient`` is one; the HTTP layer under it is httpx's transport, not this)."""

    def complete(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> ChatNode: ...

    def complete_streaming(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> SyncChunkStream: ...

    def ensure_cached(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> CostInfo: ...

    def complete_costed(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> tuple[ChatNode, CostInfo]: ...

    def send_request(self, request: HTTPRequest, timeout: float | None = None) -> Answer: ...


class AsyncCompletionClient(Protocol):
    """The type of ``client=`` on ``ChatNode``'s async network methods: what they need from a client
    (``minillm.AsyncClient`` is one)."""

    def acomplete(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> Awaitable[ChatNode]: ...

    def acomplete_streaming(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> Awaitable[AsyncChunkStream]: ...

    def aensure_cached(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> Awaitable[CostInfo]: ...

    def acomplete_costed(
        self,
        node: ChatNode,
        generator: GeneratorInfo | FallbackGenerator,
        params: NodeCompletionParameters | None = None,
    ) -> Awaitable[tuple[ChatNode, CostInfo]]: ...

    def asend_request(self, request: HTTPRequest, timeout: float | None = None) -> Awaitable[Answer]: ...


FLOW_TIMEOUT = 30.0
"""Seconds allowed for each request of a step done before a completion (a token count, the price catalog): they
answer fast when they answer at all, and an unreachable catalog must not hold a completion for long."""

_factories: dict[str, Callable[[], Any]] = {}
_transport_loader: Callable[[], object] | None = None


def register_default_clients(
    sync: Callable[[], SyncCompletionClient], async_: Callable[[], AsyncCompletionClient]
) -> None:
    """Called once by ``minillm.transport``: how to get the process's (and each event loop's) default client."""
    _factories["sync"] = sync
    _factories["async"] = async_


def register_transport_loader(load: Callable[[], object]) -> None:
    """Called once by the ``minillm`` package: how to load the transport (which then registers its default
    clients) when a default client is first wanted, so that importing minillm need not load httpx."""
    global _transport_loader
    _transport_loader = load


def _factory(kind: str) -> Callable[[], Any]:
    if kind not in _factories and _transport_loader is not None:
        _transport_loader()
    try:
        return _factories[kind]
    except KeyError:
        raise ConfigurationError(
            "no HTTP transport is registered; import minillm (not only minillm.core) or pass client="
        ) from None


def sync_client(client: SyncCompletionClient | None) -> SyncCompletionClient:
    """``client``, or the process's default ``SyncClient``."""
    if client is not None:
        return client
    result: SyncCompletionClient = _factory("sync")()
    return result


def async_client(client: AsyncCompletionClient | None) -> AsyncCompletionClient:
    """``client``, or the running event loop's default ``AsyncClient``."""
    if client is not None:
        return client
    result: AsyncCompletionClient = _factory("async")()
    return result


def run_flow(flow: Flow, client: SyncCompletionClient | None) -> Any:
    """Drive ``flow`` to its result, sending each request it yields with ``client`` (or the default client,
    made only when a request is sent); a failed send is thrown into the flow, which may recover."""
    try:
        request = next(flow)
        while True:
            try:
                answer = sync_client(client).send_request(request, FLOW_TIMEOUT)
            except MiniLLMError as error:
                request = flow.throw(error)
            else:
                request = flow.send(answer)
    except StopIteration as done:
        return done.value


async def arun_flow(flow: Flow, client: AsyncCompletionClient | None) -> Any:
    """``run_flow``, awaited."""
    try:
        request = next(flow)
        while True:
            try:
                answer = await async_client(client).asend_request(request, FLOW_TIMEOUT)
            except MiniLLMError as error:
                request = flow.throw(error)
            else:
                request = flow.send(answer)
    except StopIteration as done:
        return done.value
