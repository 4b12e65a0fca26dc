"""Sync and async are twins: every blocking network name has an ``a``-prefixed coroutine with the same
parameters, on ``ChatNode`` and on the clients."""

from __future__ import annotations

import inspect

import pytest

from minillm import AsyncClient, AsyncCompletionStream, ChatNode, CompletionStream, SyncClient

NODE_METHODS = ["complete", "chat", "complete_streaming", "ensure_cached", "complete_costed"]
CLIENT_METHODS = ["complete", "complete_streaming", "ensure_cached", "complete_costed"]


def _params(fn: object) -> list[tuple[str, object, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "client"]


@pytest.mark.parametrize("name", NODE_METHODS)
def test_chatnode_twins(name: str) -> None:
    sync, twin = getattr(ChatNode, name), getattr(ChatNode, "a" + name)
    assert not inspect.iscoroutinefunction(sync)
    assert inspect.iscoroutinefunction(twin)
    assert _params(sync) == _params(twin)
    assert "client" in inspect.signature(sync).parameters and "client" in inspect.signature(twin).parameters
    assert inspect.signature(sync).parameters["client"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("name", CLIENT_METHODS)
def test_client_twins(name: str) -> None:
    sync, twin = getattr(SyncClient, name), getattr(AsyncClient, "a" + name)
    assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(sync)
    assert _params(sync) == _params(twin)


def test_client_and_stream_lifecycles_are_twins() -> None:
    names = [(p.name, p.kind, p.default) for p in inspect.signature(SyncClient.__init__).parameters.values()]
    twins = [(p.name, p.kind, p.default) for p in inspect.signature(AsyncClient.__init__).parameters.values()]
    assert names == twins
    for sync, twin in [("close", "aclose"), ("__enter__", "__aenter__"), ("__exit__", "__aexit__")]:
        assert hasattr(SyncClient, sync) and inspect.iscoroutinefunction(getattr(AsyncClient, twin))
        assert hasattr(CompletionStream, sync) and inspect.iscoroutinefunction(getattr(AsyncCompletionStream, twin))
    assert hasattr(CompletionStream, "__next__") and inspect.iscoroutinefunction(AsyncCompletionStream.__anext__)
    for prop in ("response", "text"):
        assert isinstance(getattr(CompletionStream, prop), property)
        assert isinstance(getattr(AsyncCompletionStream, prop), property)
