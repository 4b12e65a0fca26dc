"""The default clients: one ``SyncClient`` per process, one ``AsyncClient`` per running event loop.

They are the only module-level state in minillm, made on first use. A loop's client goes away with the
loop, so two ``asyncio.run()`` calls in a row each get a working client. The async side (and asyncio) is
only loaded by the first async call.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from minillm.transport.sync_client import SyncClient

if TYPE_CHECKING:
    import asyncio

    from minillm.transport.async_client import AsyncClient

__all__ = ["default_async_client", "default_sync_client"]

_lock = threading.Lock()
_sync_client: SyncClient | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = weakref.WeakKeyDictionary()


def default_sync_client() -> SyncClient:
    """The process's shared ``SyncClient``."""
    global _sync_client
    if _sync_client is None:
        with _lock:
            if _sync_client is None:
                _sync_client = SyncClient()
    return _sync_client


def default_async_client() -> AsyncClient:
    """The running event loop's shared ``AsyncClient`` (call from inside a coroutine)."""
    import asyncio

    from minillm.transport.async_client import AsyncClient

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None or loop.is_closed():
        client = AsyncClient()
        _async_clients[loop] = client
    return client
