"""The HTTP transports: ``SyncClient`` and ``AsyncClient`` over httpx, and their streams.

Importing this package registers the default clients with the core, so ``ChatNode.complete`` works
without an explicit ``client=``.
"""

from minillm.core import seam
from minillm.transport.async_client import AsyncClient, AsyncCompletionStream
from minillm.transport.defaults import default_async_client, default_sync_client
from minillm.transport.sync_client import CompletionStream, SyncClient

seam.register_default_clients(default_sync_client, default_async_client)

__all__ = ["AsyncClient", "AsyncCompletionStream", "CompletionStream", "SyncClient"]
