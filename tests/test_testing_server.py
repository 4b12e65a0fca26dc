"""The local test server (minillm.testing), exercised with plain httpx, sync and async, on both wires."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minillm.core.errors import InvalidParameterError
from minillm.core.tools import ToolCall
from minillm.core.usage import Usage
from minillm.testing import LargeReply, MockLLMServer, RecordedRequest, Reply, TextReply, Thought, Wire
from minillm.testing.renderers import AnthropicRenderer, OpenAIRenderer, Renderer, renderer_for, status_phrase

pytest_plugins = ["minillm.testing.pytest_plugin"]

USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
HTTP = httpx.Client(timeout=10)  # one client for the module: building one per call costs more than the call


@pytest.fixture(scope="module", autouse=True)
def _close_http_client() -> Iterator[None]:
    yield
    HTTP.close()


# ----- helpers -----------------------------------------------------------------------------------------


def openai(server: MockLLMServer, *, stream: bool = False, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-test", "messages": USER, "stream": stream, **extra}
    return HTTP.post(server.openai_base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer k"})


def anthropic(server: MockLLMServer, *, stream: bool = False, **extra: Any) -> httpx.Response:
    body = {"model": "claude-test", "max_tokens": 100, "messages": USER[1:], "stream": stream, **extra}
    return HTTP.post(server.anthropic_base_url + "/v1/messages", json=body, headers={"x-api-key": "k"})


def sse(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE event; comments come back as ("comment", text)."""
    events: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith(":"):
                events.append(("comment", line[1:].strip()))
            elif line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            events.append((name, "\n".join(data)))
    return events


def openai_chunks(text: str) -> list[Any]:
    return [json.loads(d) if d != "[DONE]" else d for name, d in sse(text) if name != "comment"]


def deltas(chunks: list[Any]) -> list[str]:
    return [
        c["choices"][0]["delta"]["content"]
        for c in chunks
        if c != "[DONE]" and c["choices"] and c["choices"][0]["delta"].get("content")
    ]


def anthropic_events(text: str) -> list[dict[str, Any]]:
    out = []
    for name, data in sse(text):
        obj = json.loads(data)
        assert name == obj["type"]
        out.append(obj)
    return out


# ----- lifecycle and addresses -------------------------------------------------------------------------


def test_addresses_and_lifecycle() -> None:
    server = MockLLMServer()
    assert not server.running
    with pytest.raises(Exception, match="not running"):
        _ = server.url
    with server:
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.openai_base_url == server.url + "/v1"
        assert server.openrouter_base_url == server.url + "/api/v1"
        assert server.anthropic_base_url == server.url
        assert server.start() is server  # idempotent
        assert openai(server).status_code == 200
        port = server.port
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={})


def test_fixture_gives_a_running_server(llm_server: MockLLMServer) -> None:
    assert llm_server.running
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "Echo: Hello there"


def test_busy_port_is_a_clear_error(llm_server: MockLLMServer) -> None:
    with pytest.raises(Exception, match="could not listen"):
        MockLLMServer(port=llm_server.port).start()


# ----- default echo and recording ----------------------------------------------------------------------


def test_default_echo_on_both_wires(llm_server: MockLLMServer) -> None:
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "Echo: Hello there"
    parts = {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    r = HTTP.post(llm_server.anthropic_base_url + "/v1/messages", json={"model": "c", "messages": [parts]})
    assert r.json()["content"] == [{"type": "text", "text": "Echo: a\nb"}]


def test_requests_are_recorded(llm_server: MockLLMServer) -> None:
    openai(llm_server, temperature=0.5)
    HTTP.get(llm_server.openrouter_base_url + "/generation", params={"id": "gen-1"})
    first, second = llm_server.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path, first.query) == ("POST", "/v1/chat/completions", {})
    assert first.headers["authorization"] == "Bearer k"
    assert first.headers["content-type"] == "application/json"
    assert first.json == {"model": "gpt-test", "messages": USER, "stream": False, "temperature": 0.5}
    assert json.loads(first.body) == first.json
    assert first.wire is Wire.OPENAI and first.model == "gpt-test" and not first.stream
    assert (second.method, second.path, second.query) == ("GET", "/api/v1/generation", {"id": "gen-1"})
    assert second.json is None and second.body == b""
    assert second.wire is Wire.GENERATION
    assert llm_server.last_request == second
    assert "Bearer k" not in repr(first) and "authorization" in repr(first)
    llm_server.clear()
    assert llm_server.requests == []


def test_non_json_and_chunked_request_bodies_are_recorded(llm_server: MockLLMServer) -> None:
    def pieces() -> Any:
        yield b'{"model": "m", '
        yield b'"messages": [{"role": "user", "content": "streamed body"}]}'

    r = HTTP.post(llm_server.openai_base_url + "/chat/completions", content=pieces())
    assert r.json()["choices"][0]["message"]["content"] == "Echo: streamed body"
    HTTP.post(llm_server.openai_base_url + "/chat/completions", content=b"not json")
    chunked, raw = llm_server.requests
    assert chunked.headers["transfer-encoding"] == "chunked" and chunked.json["model"] == "m"
    assert raw.body == b"not json" and raw.json is None


def test_keep_alive_reuses_one_connection(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("one"), Reply.text("two", delay=0.0), Reply.error(500), Reply.text("four"))
    with httpx.Client(base_url=llm_server.openai_base_url) as client:
        answers = [client.post("/chat/completions", json={"messages": USER, "stream": s}) for s in (False, True) * 2]
    assert [a.status_code for a in answers] == [200, 200, 500, 200]
    assert "two" in answers[1].text
    assert {r.connection for r in llm_server.requests} == {llm_server.requests[0].connection}
    assert llm_server.requests[0].connection >= 1


def test_connection_close_is_honoured(llm_server: MockLLMServer) -> None:
    with httpx.Client() as client:
        for _ in range(2):
            r = client.post(llm_server.openai_base_url + "/chat/completions", json={}, headers={"Connection": "close"})
            assert r.headers["connection"] == "close"
    first, second = llm_server.requests
    assert first.connection != second.connection


def test_unknown_get_is_404_and_does_not_take_the_queue(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("kept"))
    r = HTTP.get(llm_server.openai_base_url + "/files")
    assert r.status_code == 404 and "no GET route" in r.json()["error"]["message"]
    assert llm_server.queued == 1
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "kept"
    assert llm_server.queued == 0


def test_malformed_request_gets_400() -> None:
    with MockLLMServer() as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        reply = sock.recv(1000)
    assert reply.startswith(b"HTTP/1.1 400 ")


# ----- scripting ---------------------------------------------------------------------------------------


def test_enqueue_is_fifo_then_responder_then_echo(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("first"), Reply.text("second"))
    assert llm_server.queued == 2
    seen: list[RecordedRequest] = []

    def responder(request: RecordedRequest) -> Reply | None:
        seen.append(request)
        return Reply.text("dynamic " + request.json["model"]) if len(seen) == 1 else None

    llm_server.set_responder(responder)
    texts = [openai(llm_server).json()["choices"][0]["message"]["content"] for _ in range(4)]
    assert texts == ["first", "second", "dynamic gpt-test", "Echo: Hello there"]
    assert len(seen) == 2
    llm_server.set_responder(None)
    llm_server.enqueue(Reply.text("dropped"))
    llm_server.reset()
    assert llm_server.queued == 0 and llm_server.requests == []
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "Echo: Hello there"


def test_enqueue_rejects_non_replies(llm_server: MockLLMServer) -> None:
    with pytest.raises(InvalidParameterError, match="Reply objects"):
        llm_server.enqueue("hello")  # type: ignore[arg-type]
    assert llm_server.queued == 0


def test_reply_validation() -> None:
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        Reply.text("x", chunk_size=0)
    with pytest.raises(InvalidParameterError, match="usage"):
        Reply.text("x", usage=(1, -2))
    with pytest.raises(InvalidParameterError, match="tool call"):
        Reply.text("x", tool_calls=[("id", "name")])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="status"):
        Reply.error(200)
    with pytest.raises(InvalidParameterError, match="delay"):
        Reply.text("x", delay=-1)


def test_a_reply_that_cannot_render_answers_500_and_is_reported(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=[("t1", "f", "{broken")]))
    r = anthropic(llm_server)
    assert r.status_code == 500 and "not JSON" in r.text
    assert len(llm_server.errors) == 1 and "t1" in llm_server.errors[0]


def test_responder_errors_answer_500(llm_server: MockLLMServer) -> None:
    def responder(request: RecordedRequest) -> Reply:
        raise KeyError("boom")

    llm_server.set_responder(responder)
    assert openai(llm_server).status_code == 500
    assert "KeyError" in llm_server.errors[0]


# ----- OpenAI wire -------------------------------------------------------------------------------------


def test_openai_completion_shape(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Paris.", usage=(12, 3), id="chatcmpl-1", model="gpt-x"))
    r = openai(llm_server)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-request-id"].startswith("req_")
    body = r.json()
    assert isinstance(body.pop("created"), int)
    assert body == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris.", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def test_openai_usage_from_a_usage_value_and_cost(llm_server: MockLLMServer) -> None:
    usage = Usage(
        uncached_input_tokens=6,
        cache_read_tokens=4,
        cache_write_tokens=2,
        completion_tokens=5,
        reasoning_tokens=2,
        upstream_inference_cost=0.009,
    )
    llm_server.enqueue(Reply.text("ok", usage=usage, cost=0.001, finish_reason="length"))
    body = openai(llm_server).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0, "cache_write_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0},
        "cost": 0.001,
        "is_byok": True,
        "cost_details": {"upstream_inference_cost": 0.009},
    }


def test_estimated_usage_and_no_usage(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("x" * 40), Reply.text("y", send_usage=False))
    usage = openai(llm_server).json()["usage"]
    assert usage["completion_tokens"] == 10  # about four characters a token
    assert usage["prompt_tokens"] == 5  # "Be brief." + "Hello there": 20 characters
    assert "usage" not in openai(llm_server).json()


def test_model_echoes_the_request_or_a_default(llm_server: MockLLMServer) -> None:
    assert openai(llm_server).json()["model"] == "gpt-test"
    r = HTTP.post(llm_server.openai_base_url + "/chat/completions", json={"messages": USER})
    assert r.json()["model"] == "mock-model"


def test_openai_tool_calls(llm_server: MockLLMServer) -> None:
    calls: list[ToolCall | tuple[str, str, str]] = [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ToolCall("call_2", "get_time", '{"tz": "UTC"}'),
    ]
    llm_server.enqueue(Reply.text(tool_calls=calls), Reply.text("Checking.", tool_calls=calls, chunk_size=4))
    message = openai(llm_server).json()["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] is None
    assert message["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "UTC"}'}},
    ]
    chunks = openai_chunks(openai(llm_server, stream=True).text)
    assert "".join(deltas(chunks)) == "Checking."
    assembled: dict[int, dict[str, str]] = {}
    for chunk in chunks[:-1]:
        for delta in chunk["choices"][0]["delta"].get("tool_calls", []):
            slot = assembled.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] += delta.get("id", "")
            slot["name"] += delta.get("function", {}).get("name", "")
            slot["arguments"] += delta["function"].get("arguments", "")
    assert assembled == {
        0: {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        1: {"id": "call_2", "name": "get_time", "arguments": '{"tz": "UTC"}'},
    }
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_stream_chunking_and_done(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Hello, world!", chunk_size=5))
    r = openai(llm_server, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["transfer-encoding"] == "chunked"
    chunks = openai_chunks(r.text)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert deltas(chunks) == ["Hello", ", wor", "ld!"]
    finish = chunks[-2]
    assert finish["object"] == "chat.completion.chunk" and finish["id"] == chunks[0]["id"]
    assert finish["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    assert chunks[-1] == "[DONE]"
    assert all("usage" not in c for c in chunks[:-1])  # usage was not asked for


def test_openai_stream_explicit_chunks(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(["Hel", "lo", " there"]))
    assert deltas(openai_chunks(openai(llm_server, stream=True).text)) == ["Hel", "lo", " there"]


@pytest.mark.parametrize(
    "opt_in", [{"stream_options": {"include_usage": True}}, {"usage": {"include": True}}], ids=["openai", "openrouter"]
)
def test_openai_stream_usage_only_when_asked(llm_server: MockLLMServer, opt_in: dict[str, Any]) -> None:
    llm_server.enqueue(Reply.text("Hi", usage=(7, 2), cost=0.5))
    chunks = openai_chunks(openai(llm_server, stream=True, **opt_in).text)
    assert chunks[-1] == "[DONE]"
    usage_chunk, finish = chunks[-2], chunks[-3]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 7 and usage_chunk["usage"]["completion_tokens"] == 2
    assert usage_chunk["usage"]["cost"] == 0.5
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["usage"] is None


def test_openai_stream_usage_on_finish_chunk_and_no_done(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Hi", usage=(7, 2), usage_on_finish_chunk=True, done_marker=False))
    chunks = openai_chunks(openai(llm_server, stream=True, stream_options={"include_usage": True}).text)
    assert "[DONE]" not in chunks
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 9


def test_openai_stream_without_terminal_event(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("cut short", terminal=False, chunk_size=3))
    chunks = openai_chunks(openai(llm_server, stream=True, stream_options={"include_usage": True}).text)
    assert deltas(chunks) == ["cut", " sh", "ort"]
    assert chunks[-1]["choices"][0]["delta"] == {"content": "ort"}
    assert all(c != "[DONE]" and c["choices"] and c["choices"][0]["finish_reason"] is None for c in chunks)


def test_openrouter_keepalive_comments(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Hi", keepalive_comments=2))
    events = sse(openai(llm_server, stream=True).text)
    assert events[:2] == [("comment", "OPENROUTER PROCESSING")] * 2
    assert events[2][0] is None


# ----- Anthropic wire ----------------------------------------------------------------------------------


def test_anthropic_message_shape(llm_server: MockLLMServer) -> None:
    usage = Usage(uncached_input_tokens=9, cache_read_tokens=2, cache_write_tokens=1, completion_tokens=4)
    llm_server.enqueue(Reply.text("Hello!", usage=usage, id="msg_1"))
    r = anthropic(llm_server)
    assert r.headers["request-id"].startswith("req_")
    assert r.json() == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 9,
            "cache_creation_input_tokens": 1,
            "cache_read_input_tokens": 2,
            "output_tokens": 4,
        },
    }


def test_anthropic_tool_use_message(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Checking.", tool_calls=[("toolu_1", "get_weather", '{"city": "Zürich"}')]))
    body = anthropic(llm_server).json()
    assert body["stop_reason"] == "tool_use"
    assert body["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Zürich"}},
    ]


def test_anthropic_stream_event_sequence(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Hello", usage=(15, 9), chunk_size=3, keepalive_comments=1))
    r = anthropic(llm_server, stream=True)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = anthropic_events(r.text)
    assert [e["type"] for e in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["model"] == "claude-test"
    assert start["usage"]["input_tokens"] == 15 and start["usage"]["output_tokens"] == 1
    assert events[2] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert [e["delta"] for e in events[3:5]] == [
        {"type": "text_delta", "text": "Hel"},
        {"type": "text_delta", "text": "lo"},
    ]
    assert events[6]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[6]["usage"]["output_tokens"] == 9  # Anthropic always sends usage


def test_anthropic_stream_tool_use_blocks(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text(tool_calls=[("toolu_1", "search", '{"q": "rust"}')], chunk_size=5))
    events = anthropic_events(anthropic(llm_server, stream=True).text)
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert starts == [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}},
        }
    ]
    fragments = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(fragments) == '{"q": "rust"}' and len(fragments) == 3
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_anthropic_stream_without_message_stop_or_terminal(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("Hi", done_marker=False), Reply.text("Hi there", terminal=False))
    kinds = [e["type"] for e in anthropic_events(anthropic(llm_server, stream=True).text)]
    assert kinds[-1] == "message_delta"
    kinds = [e["type"] for e in anthropic_events(anthropic(llm_server, stream=True).text)]
    assert kinds[-1] == "content_block_delta" and "message_delta" not in kinds


# ----- errors ------------------------------------------------------------------------------------------


def test_429_with_retry_after_on_both_wires(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(429, headers={"Retry-After": "1"}), Reply.error(429, "slow down"))
    r = openai(llm_server)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    error = r.json()["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded" and error["param"] is None
    assert "Too Many Requests" in error["message"]
    r = anthropic(llm_server)
    assert r.status_code == 429
    body = r.json()
    assert body["type"] == "error" and body["request_id"].startswith("req_")
    assert body["error"] == {"type": "rate_limit_error", "message": "slow down"}


@pytest.mark.parametrize("status,kind", [(500, "api_error"), (529, "overloaded_error"), (401, "authentication_error")])
def test_error_kinds(llm_server: MockLLMServer, status: int, kind: str) -> None:
    llm_server.enqueue(Reply.error(status), Reply.error(status))
    assert anthropic(llm_server).json()["error"]["type"] == kind
    r = openai(llm_server)
    assert r.status_code == status and r.json()["error"]["type"] in {"server_error", "invalid_request_error"}


def test_error_with_a_custom_body(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, body={"detail": "down"}), Reply.error(502, body=b"<h1>bad gateway</h1>"))
    assert openai(llm_server).json() == {"detail": "down"}
    assert openai(llm_server).content == b"<h1>bad gateway</h1>"


def test_in_band_error_without_streaming(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.in_band_error("quota", code=429), Reply.in_band_error("overloaded", code=529))
    r = openai(llm_server)
    assert r.status_code == 200 and r.json() == {"error": {"code": 429, "message": "quota"}}
    r = anthropic(llm_server)
    assert r.status_code == 200
    assert r.json()["error"] == {"type": "overloaded_error", "message": "overloaded"}


def test_in_band_error_mid_stream_openai(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(
        Reply.in_band_error("Provider disconnected", code=502, after_chunks=2, content="abcdefgh", chunk_size=2)
    )
    chunks = openai_chunks(openai(llm_server, stream=True).text)
    assert deltas(chunks) == ["ab", "cd"]
    assert chunks[-1]["error"] == {"code": 502, "message": "Provider disconnected"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "error"
    assert "[DONE]" not in chunks


def test_in_band_error_mid_stream_anthropic(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.in_band_error("Overloaded", code=529, after_chunks=1, content="Hello", chunk_size=3))
    events = anthropic_events(anthropic(llm_server, stream=True).text)
    assert [e["type"] for e in events] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert events[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_raw_html_and_truncated_json(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(
        Reply.raw(502, "<html><body>Bad gateway</body></html>"),
        Reply.raw(200, b'{"id": "x", "choi', content_type="application/json"),
        Reply.raw(200, "<html>login page</html>", headers={"X-Proxy": "corp"}),
    )
    r = openai(llm_server)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "Bad gateway" in r.text
    r = openai(llm_server)
    assert r.status_code == 200 and r.content == b'{"id": "x", "choi'
    with pytest.raises(json.JSONDecodeError):
        r.json()
    r = anthropic(llm_server)
    assert r.status_code == 200 and r.headers["x-proxy"] == "corp" and r.text == "<html>login page</html>"


# ----- broken connections, slow and silent servers ----------------------------------------------------


def test_drop_mid_stream_after_partial_data(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("x" * 200, chunk_size=10, drop_after_bytes=700))
    received = b""
    url, body = llm_server.openai_base_url + "/chat/completions", {"messages": USER, "stream": True}
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)), HTTP.stream("POST", url, json=body) as r:
        assert r.status_code == 200
        for piece in r.iter_bytes():
            received += piece
    assert 0 < len(received) <= 700
    assert b"[DONE]" not in received and b"xxxxxxxxxx" in received


def test_drop_mid_body(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("a long answer", drop_after_bytes=20), Reply.text("fine"))
    with pytest.raises(httpx.RemoteProtocolError):
        openai(llm_server)
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "fine"


def test_reset_before_headers(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.reset(), Reply.text("after"))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        openai(llm_server)
    assert openai(llm_server).json()["choices"][0]["message"]["content"] == "after"
    assert len(llm_server.requests) == 2  # the reset request was read and recorded first


def test_silent_server_times_out(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.silent())
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(llm_server.openai_base_url + "/chat/completions", json={"messages": USER}, timeout=0.2)
    assert llm_server.last_request.json == {"messages": USER}


def test_delay_before_headers(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("late", delay=1.0), Reply.text("late", delay=0.05))
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(llm_server.openai_base_url + "/chat/completions", json={}, timeout=0.1)
    assert HTTP.post(llm_server.openai_base_url + "/chat/completions", json={}).status_code == 200


def test_trickled_headers_still_parse(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.trickle(Reply.text("slowly"), 0.02))
    with socket.create_connection(("127.0.0.1", llm_server.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        first = sock.recv(1000)
    assert 0 < len(first) < 15 and b"HTTP/1.1 200 OK".startswith(first)  # the head arrives a byte at a time
    llm_server.enqueue(Reply.trickle(Reply.text("slowly"), 0.0005))
    r = openai(llm_server, stream=True)
    assert r.status_code == 200 and deltas(openai_chunks(r.text)) == ["slowly"]


def test_stop_closes_a_silent_connection() -> None:
    server = MockLLMServer().start()
    server.enqueue(Reply.silent())
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            HTTP.post(server.openai_base_url + "/chat/completions", json={}, timeout=30)
        except httpx.HTTPError as e:
            outcome.append(e)

    thread = threading.Thread(target=call)
    thread.start()
    for _ in range(1000):
        if server.requests:
            break
        threading.Event().wait(0.01)
    server.stop()
    thread.join(20)
    assert not thread.is_alive()
    assert outcome and not isinstance(outcome[0], httpx.TimeoutException)  # closed by stop(), not timed out
    assert not server.running


# ----- large bodies and concurrency -------------------------------------------------------------------


def test_large_completion_and_stream(llm_server: MockLLMServer) -> None:
    size = 3_000_001
    expected = (LargeReply.PATTERN * (size // len(LargeReply.PATTERN) + 1))[:size]
    llm_server.enqueue(Reply.large(size), Reply.large(size, chunk_size=65_536))
    r = openai(llm_server)
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.json()["choices"][0]["message"]["content"] == expected
    stream_text = openai(llm_server, stream=True).text
    chunks = openai_chunks(stream_text)
    assert "".join(deltas(chunks)) == expected and len(deltas(chunks)) == 46
    assert stream_text.endswith("data: [DONE]\n\n")
    llm_server.enqueue(Reply.large(100_000))
    assert anthropic(llm_server).json()["content"][0]["text"] == expected[:100_000]


async def test_many_concurrent_async_requests(llm_server: MockLLMServer) -> None:
    # Ten clients share the load: one httpx pool juggling 200 connections is slow on the client side.
    clients = [httpx.AsyncClient(base_url=llm_server.url, timeout=30) for _ in range(10)]

    async def one(i: int) -> str:
        body = {"model": "m", "stream": i % 2 == 0, "messages": [{"role": "user", "content": f"n{i}"}]}
        anthropic_wire = i % 3 == 0
        r = await clients[i % 10].post("/v1/messages" if anthropic_wire else "/v1/chat/completions", json=body)
        if not body["stream"]:
            data = r.json()
            return str(data["content"][0]["text"] if anthropic_wire else data["choices"][0]["message"]["content"])
        if anthropic_wire:
            return "".join(e["delta"]["text"] for e in anthropic_events(r.text) if e["type"] == "content_block_delta")
        return "".join(deltas(openai_chunks(r.text)))

    try:
        answers = await asyncio.gather(*(one(i) for i in range(200)))
    finally:
        for client in clients:
            await client.aclose()
    assert answers == [f"Echo: n{i}" for i in range(200)]
    assert len(llm_server.requests) == 200


async def test_a_thousand_concurrent_connections(llm_server: MockLLMServer) -> None:
    async def one(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", llm_server.port)
        body = json.dumps({"messages": [{"role": "user", "content": f"c{i}"}]}).encode()
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        data = await reader.read()
        writer.close()
        return data

    answers = await asyncio.gather(*(one(i) for i in range(1000)))
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") and b'"Echo: c%d"' % i in a for i, a in enumerate(answers))
    assert len({r.connection for r in llm_server.requests}) == 1000


async def test_async_stream(llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.text("async hello", chunk_size=4, chunk_delay=0.001))
    async with (
        httpx.AsyncClient() as client,
        client.stream(
            "POST", llm_server.openai_base_url + "/chat/completions", json={"messages": USER, "stream": True}
        ) as r,
    ):
        text = "".join([piece async for piece in r.aiter_text()])
    assert deltas(openai_chunks(text)) == ["asyn", "c he", "llo"]


# ----- OpenRouter /generation --------------------------------------------------------------------------


def test_generation_record_of_a_completion(llm_server: MockLLMServer) -> None:
    usage = Usage(uncached_input_tokens=6, cache_read_tokens=4, completion_tokens=5, reasoning_tokens=1)
    llm_server.enqueue(Reply.text("Hi", usage=usage, cost=0.002, id="gen-abc"))
    openai(llm_server, stream=True)
    r = HTTP.get(llm_server.openrouter_base_url + "/generation", params={"id": "gen-abc"})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["id"] == "gen-abc" and data["total_cost"] == 0.002 and data["upstream_inference_cost"] is None
    assert (data["tokens_prompt"], data["tokens_completion"], data["native_tokens_cached"]) == (10, 5, 4)
    assert data["native_tokens_reasoning"] == 1 and data["streamed"] is True and data["model"] == "gpt-test"


def test_generation_scripted_pending_and_missing(llm_server: MockLLMServer) -> None:
    record = {"tokens_prompt": 22, "tokens_completion": 2625, "total_cost": 0, "upstream_inference_cost": 0.0008942}
    llm_server.set_generation("gen-1", record, pending_polls=2)
    llm_server.set_generation("gen-2", Reply.error(500))
    url = llm_server.openrouter_base_url + "/generation"
    statuses = [HTTP.get(url, params={"id": "gen-1"}).status_code for _ in range(3)]
    assert statuses == [404, 404, 200]
    assert HTTP.get(url, params={"id": "gen-1"}).json() == {"data": {"id": "gen-1", **record}}
    assert HTTP.get(url, params={"id": "gen-2"}).status_code == 500
    missing = HTTP.get(url, params={"id": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
    with pytest.raises(InvalidParameterError):
        llm_server.set_generation("gen-3", {}, pending_polls=-1)


# ----- replies and renderers ---------------------------------------------------------------------------


def test_reply_text_is_the_text_reply_class_and_its_fields_are_the_options() -> None:
    reply = Reply.text(["He", "llo"], reasoning="Because.", usage=(3, 2), chunk_size=2)
    assert type(reply) is TextReply and Reply.text is TextReply
    assert list(reply.content_deltas()) == ["He", "llo"] and reply.content_length() == 5
    assert reply.thoughts == (Thought("Because."),) and reply.usage == (3, 2)
    assert list(Reply.text("abcde", chunk_size=2).content_deltas()) == ["ab", "cd", "e"]
    with pytest.raises(InvalidParameterError, match="list of strings"):
        Reply.text(["a", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        Reply.text("a", thoughts="not the public name")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("path", "renderer", "request_id_header"),
    [
        ("/v1/chat/completions", OpenAIRenderer(), "x-request-id"),
        ("/api/v1/chat/completions", OpenAIRenderer(openrouter=True), "x-request-id"),
        ("/v1/messages", AnthropicRenderer(), "request-id"),
        ("/my/endpoint", OpenAIRenderer(), "x-request-id"),
    ],
)
def test_renderer_is_chosen_once_from_the_request(path: str, renderer: Renderer, request_id_header: str) -> None:
    request = RecordedRequest("POST", path, {}, {}, b"{}", {})
    assert renderer_for(request) == renderer
    assert renderer_for(request).request_id_header == request_id_header


def test_status_phrase() -> None:
    assert status_phrase(429) == "Too Many Requests"
    assert status_phrase(529) == "Overloaded"
    assert status_phrase(599) == "Error"
