"""A user can teach minillm a wire of their own by implementing the small ``Provider`` protocol.

"EchoAI" is a made-up wire with everything its own: its own endpoint, auth header, body and response shape.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
import pytest

from minillm import (
    ChatNode,
    CompletionParameters,
    CompletionResponse,
    GeneratorInfo,
    MalformedResponseError,
    NodeCompletionParameters,
    StreamError,
    Usage,
)
from minillm.core.flow import CompletionCall
from minillm.core.providers import Provider, ResolvedCredential, ServerSentEvent, StreamEnd, WireRequest, join_url
from minillm.core.stream import StreamChunk


@attrs.frozen
class EchoAIProvider:
    """A made-up wire: POST /api/generate with {"model", "prompt", "settings"}; answers {"output": {"text"}}."""

    @property
    def name(self) -> str:
        return "echoai"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/api/generate")

    def headers(
        self, credential: ResolvedCredential | None, attribution: tuple[str, str] | None
    ) -> Sequence[tuple[str, str]]:
        return [("X-Echo-Key", credential.secret)] if credential else []

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        prompt = "\n".join(f"{m.role.value}: {m.content.all_text()}" for m in request.messages)
        return {
            "model": request.model,
            "prompt": prompt,
            "settings": {"max_output_tokens": request.params.max_tokens},
        }

    def parse_response(self, data: Any) -> CompletionResponse:
        try:
            text = data["output"]["text"]
        except (KeyError, TypeError) as e:
            raise MalformedResponseError(f"EchoAI answer without output.text: {data!r}") from e
        meta = data.get("meta", {})
        usage = Usage(uncached_input_tokens=meta.get("in", 0), completion_tokens=meta.get("out", 0))
        return CompletionResponse(
            id=meta.get("id", ""), model="echo", content=text, finish_reason=data["stop"], usage=usage
        )

    def parse_stream_event(self, event: ServerSentEvent) -> StreamChunk | StreamEnd | None:
        if event.event == "done":
            return StreamEnd()
        return StreamChunk(delta=json.loads(event.data)["text"])

    def expects_stream_usage(self, include_usage: bool) -> bool:
        return False


def echo_generator() -> GeneratorInfo:
    gen = GeneratorInfo("EchoAI", "http://127.0.0.1:1/", "echo-1")
    return gen.with_provider(EchoAIProvider()).with_api_key("echo-secret")


def test_the_example_satisfies_the_protocol() -> None:
    assert isinstance(EchoAIProvider(), Provider)


def test_request_on_a_custom_wire() -> None:
    node = ChatNode.root("be brief").add_user("hello")
    params = NodeCompletionParameters(params=CompletionParameters(max_tokens=32))
    request = CompletionCall(node, echo_generator(), params).request()
    assert request.url == "http://127.0.0.1:1/api/generate"
    assert request.header("X-Echo-Key") == "echo-secret" and request.header("Authorization") is None
    assert request.json == {
        "model": "echo-1",
        "prompt": "system: be brief\nuser: hello",
        "settings": {"max_output_tokens": 32},
    }


def test_response_on_a_custom_wire_becomes_a_node() -> None:
    node = ChatNode.root("be brief").add_user("hello")
    call = CompletionCall(node, echo_generator())
    body = json.dumps({"output": {"text": "hello back"}, "stop": "done", "meta": {"id": "e1", "in": 3, "out": 2}})
    response = call.parse_response(200, {"X-Thing": "1"}, body.encode())
    assert response.content == "hello back" and response.headers == {"x-thing": "1"}
    reply = call.accept(response)
    assert reply.text == "hello back" and reply.metadata["response_id"] == "e1"
    assert reply.metadata["usage"]["uncached_input_tokens"] == 3
    with pytest.raises(MalformedResponseError):
        call.parse_response(200, {}, b'{"nothing": 1}')


def test_stream_on_a_custom_wire() -> None:
    call = CompletionCall(ChatNode.user("hi"), echo_generator(), stream=True)
    parser = call.stream_parser()
    chunks = parser.feed(b'data: {"text": "he"}\n\ndata: {"text": "llo"}\n\nevent: done\ndata: x\n\n')
    assert [c.delta for c in chunks] == ["he", "llo"]
    assert parser.finish().content == "hello"
    truncated = call.stream_parser()
    truncated.feed(b'data: {"text": "he"}\n\n')
    with pytest.raises(StreamError) as info:
        truncated.finish()
    assert info.value.partial_text == "he"
