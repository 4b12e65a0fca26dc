"""A loopback TCP relay that counts the connections and requests passing through it.

Put between minillm and a server no one here wrote (the LiteLLM proxy), it shows whether sequential requests
reuse one connection, and how many attempts a retry made, without asking the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["CountingRelay"]


class CountingRelay:
    """Listens on a free loopback port and forwards every connection to ``target_port``.

    ``connections`` counts the connections accepted; ``requests`` counts request lines (``POST /``, ``GET /``)
    seen at the start of what a client sends, which is enough for the small bodies the peer tests send.
    """

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self.connections += 1
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_client:
                    count = sum(data.count(m) for m in (b"POST /", b"GET /"))
                    with self._lock:
                        self.requests += count
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
