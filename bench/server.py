"""A fast local server for the benchmarks: canned OpenAI and Anthropic answers over HTTP/1.1 keep-alive.

Run it in its own process (``bench/suite.py`` does), so the clients measured never share a GIL with it:
``python bench/server.py [--port 0] [--cpu N] [--certfile C --keyfile K]``. It prints ``PORT <n>`` on stdout
once it listens. With a certificate it speaks HTTPS. ``GET /connections`` answers ``{"connections": n}``, the
connections it has accepted so far (that request's own included), so a workload can count what it opened.

It answers every request at once from prebuilt bytes, so the clients, not the server, set the pace:

- ``POST .../chat/completions`` (OpenAI wire): a ``chat.completion`` JSON body, or, when the body asks for
  ``"stream": true``, an SSE body of ``chat.completion.chunk`` events, a finish chunk, a usage chunk and
  ``data: [DONE]``.
- ``POST .../messages`` (Anthropic wire): a ``message`` JSON body, or the Anthropic SSE event sequence.

A stream's length comes from the model name: ``"bench-chunks-20000"`` streams 20,000 text chunks (the default
is ``--chunks``). Streams use chunked transfer encoding with one HTTP chunk per SSE event, as real servers
flush them, and the whole body is written at once. Requests are parsed only as far as needed: the request
line, ``Content-Length`` and a search of the body for the stream flag and the model name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import ssl
import sys
from functools import cache, lru_cache

__all__ = ["main"]

_TOKEN = "tok "  # one streamed text piece; 4 characters
_MODEL_CHUNKS = re.compile(rb'"model"\s*:\s*"[^"]*?-chunks-(\d+)(?:-pace-(\d+))?"')
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_MAX_CHUNKS = 2_000_000


def _head(status: str, content_type: str, length: int | None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{framing}\r\n"
        "x-request-id: req-bench\r\nConnection: keep-alive\r\n\r\n"
    ).encode()


def _json_answer(body: object) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return _head("200 OK", "application/json", len(data)) + data


def _sse_answer(events: list[bytes]) -> tuple[bytes, ...]:
    """The response head, one HTTP chunk per event, and the last chunk: written at once, or paced."""
    parts = [_head("200 OK", "text/event-stream", None)]
    for event in events:
        parts.append(b"%x\r\n%s\r\n" % (len(event), event))
    parts.append(b"0\r\n\r\n")
    return tuple(parts)


def _event(data: object, name: str | None = None) -> bytes:
    line = b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"
    return (b"event: " + name.encode() + b"\n" + line) if name else line


_USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


@cache
def openai_completion() -> bytes:
    return _json_answer(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": _USAGE,
        }
    )


@lru_cache(maxsize=64)
def openai_stream(chunks: int) -> tuple[bytes, ...]:
    def chunk(delta: dict[str, object], finish: str | None) -> dict[str, object]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    text = _event(chunk({"content": _TOKEN}, None))
    events = [_event(chunk({"role": "assistant", "content": ""}, None))]
    events += [text] * chunks
    events.append(_event(chunk({}, "stop")))
    usage = chunk({}, None)
    usage["choices"] = []
    usage["usage"] = _USAGE
    events.append(_event(usage))
    events.append(b"data: [DONE]\n\n")
    return _sse_answer(events)


@cache
def anthropic_message() -> bytes:
    return _json_answer(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "bench",
            "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 9},
        }
    )


@lru_cache(maxsize=64)
def anthropic_stream(chunks: int) -> tuple[bytes, ...]:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "bench",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    }
    delta = _event(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": _TOKEN}},
        "content_block_delta",
    )
    events = [
        _event(start, "message_start"),
        _event(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
    ]
    events += [delta] * chunks
    events += [
        _event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
            "message_delta",
        ),
        _event({"type": "message_stop"}, "message_stop"),
    ]
    return _sse_answer(events)


def _not_found() -> bytes:
    data = b'{"error":{"message":"not found","type":"invalid_request_error"}}'
    return _head("404 Not Found", "application/json", len(data)) + data


@lru_cache(maxsize=64)
def _joined(parts: tuple[bytes, ...]) -> bytes:
    return b"".join(parts)


def answer(path: bytes, body: bytes, default_chunks: int) -> tuple[tuple[bytes, ...], float]:
    """The canned response for one request, in parts, and the seconds to wait between parts (0: none).

    A stream's model name sets its length (``-chunks-N``) and, optionally, a pace (``-pace-MS``: that many
    milliseconds between events, like a model generating text), e.g. ``bench-chunks-50-pace-20``.
    """
    stream = _STREAM_TRUE.search(body) is not None
    chunks, pace = default_chunks, 0.0
    if stream:
        found = _MODEL_CHUNKS.search(body)
        if found:
            chunks = min(int(found.group(1)), _MAX_CHUNKS)
            pace = int(found.group(2) or 0) / 1000
    path = path.split(b"?", 1)[0]
    if path.endswith(b"/chat/completions"):
        return (openai_stream(chunks), pace) if stream else ((openai_completion(),), 0.0)
    if path.endswith(b"/messages"):
        return (anthropic_stream(chunks), pace) if stream else ((anthropic_message(),), 0.0)
    return (_not_found(),), 0.0


_ACCEPTED = [0]  # connections accepted so far


def _connections_answer() -> bytes:
    return _json_answer({"connections": _ACCEPTED[0]})


class _HTTP(asyncio.Protocol):
    """One connection: requests parsed from a buffer, answered in order (pipelining works too)."""

    def __init__(self, default_chunks: int) -> None:
        self._chunks = default_chunks
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._writer: asyncio.Future[None] | None = None  # the paced answer being written

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        _ACCEPTED[0] += 1

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            length = 0
            lowered = head.lower()
            at = lowered.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lowered.find(b"\r\n", at + 2)
                length = int(lowered[at + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            body = bytes(self._buffer[end + 4 : total])
            del self._buffer[:total]
            path = head.split(b" ", 2)[1]
            assert self._transport is not None
            if path.endswith(b"/connections"):
                self._transport.write(_connections_answer())
                continue
            parts, pace = answer(path, body, self._chunks)
            if pace:
                self._writer = asyncio.ensure_future(self._paced(parts, pace))  # the client waits for its end
            else:
                self._transport.write(_joined(parts))

    async def _paced(self, parts: tuple[bytes, ...], pace: float) -> None:
        assert self._transport is not None
        self._transport.write(parts[0])
        for part in parts[1:]:
            await asyncio.sleep(pace)
            if self._transport.is_closing():
                return
            self._transport.write(part)


async def _serve(host: str, port: int, chunks: int, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _HTTP(chunks), host, port, backlog=4096, reuse_address=True, ssl=tls)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=1000, help="text chunks per stream unless the model says")
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    parser.add_argument("--certfile", default=None, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", default=None, help="... and this private key (PEM)")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    tls = None
    if args.certfile:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.certfile, args.keyfile)
    try:
        asyncio.run(_serve(args.host, args.port, args.chunks, tls))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
