"""The HTTP transports: ``SyncClient`` and ``AsyncClient`` over httpx, and their streams.

Importing this package registers the default clients with the core, so ``ChatNode.complete`` works
without an explicit ``client=``. The async side (``AsyncClient``, ``AsyncCompletionStream``, and asyncio with
them) is loaded on first use, so a blocking program never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minillm.core import seam
from minillm.transport.defaults import default_async_client, default_sync_client
from minillm.transport.sync_client import CompletionStream, SyncClient

if TYPE_CHECKING:
    from minillm.transport.async_client import AsyncClient, AsyncCompletionStream

seam.register_default_clients(default_sync_client, default_async_client)

__all__ = ["AsyncClient", "AsyncCompletionStream", "CompletionStream", "SyncClient"]


def __getattr__(name: str) -> Any:
    if name in ("AsyncClient", "AsyncCompletionStream"):
        from minillm.transport import async_client

        return getattr(async_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
