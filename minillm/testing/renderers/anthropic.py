"""The Anthropic Messages shape (``/v1/messages``) of the test server's answers.

A completion is a ``message`` object of content blocks; a stream is ``message_start``, then each block's
``content_block_start`` / ``content_block_delta`` / ``content_block_stop``, then ``message_delta`` and
``message_stop``, and always carries usage. Reasoning is ``thinking`` blocks (``thinking`` + ``signature``,
streamed as ``thinking_delta`` then ``signature_delta``) and ``redacted_thinking`` blocks (``data``) before the
text. A refusal is ``stop_reason: "refusal"`` with ``stop_details``, and may have no text. Before answering, the
server refuses with a 400 what the real API refuses (``minillm.testing.reasoning.anthropic_rule_violation``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import InvalidParameterError
from minillm.core.tools import ToolCall
from minillm.testing.reasoning import Thought, anthropic_rule_violation
from minillm.testing.renderers.base import RenderContext, StreamEvent, Tokens, pieces, sse
from minillm.testing.request import RecordedRequest

if TYPE_CHECKING:
    from minillm.testing.replies import InBandError, TextReply

__all__ = ["AnthropicRenderer"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _input_usage(t: Tokens) -> dict[str, Any]:
    return {"input_tokens": t.uncached, "cache_creation_input_tokens": t.write, "cache_read_input_tokens": t.read}


def _finish_reason(reply: TextReply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    if reply.refusal is not None:
        return "refusal"
    return "tool_use" if reply.tool_calls else "end_turn"


def _stop_details(refusal: str) -> dict[str, Any]:
    """The ``stop_details`` of a refusal (``explanation`` null when the refusal has no text)."""
    return {"type": "refusal", "category": None, "explanation": refusal or None}


def _tool_input(call: ToolCall) -> Any:
    try:
        return json.loads(call.arguments or "{}")
    except ValueError as e:
        raise InvalidParameterError(
            f"scripted tool call {call.id!r} ({call.name}): the Anthropic wire sends arguments as a JSON object "
            f"(`input`), and {call.arguments!r} is not JSON ({e}); script valid JSON, or stream it"
        ) from e


def _has_text_block(reply: TextReply) -> bool:
    """A text block is sent when there is text, or when nothing else (tool calls, a refusal) is."""
    return bool(reply.content_length()) or not (reply.tool_calls or reply.refusal is not None)


def _thinking_blocks(thoughts: Iterable[Thought]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in thoughts:
        if t.redacted:
            out.append({"type": "redacted_thinking", "data": t.data})
        else:
            out.append({"type": "thinking", "thinking": t.text, "signature": t.signed})
    return out


def _thinking_events(thoughts: Iterable[Thought], chunk_size: int) -> Iterator[dict[str, Any]]:
    """The events streaming the thoughts as content blocks 0, 1, ..."""
    for index, t in enumerate(thoughts):
        if t.redacted:
            block = {"type": "redacted_thinking", "data": t.data}
            yield {"type": "content_block_start", "index": index, "content_block": block}
        else:
            start = {"type": "thinking", "thinking": "", "signature": ""}
            yield {"type": "content_block_start", "index": index, "content_block": start}
            for piece in pieces(t.text, chunk_size):
                yield {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "thinking_delta", "thinking": piece},
                }
            signature = {"type": "signature_delta", "signature": t.signed}
            yield {"type": "content_block_delta", "index": index, "delta": signature}
        yield {"type": "content_block_stop", "index": index}


def _message(ctx: RenderContext, blocks: list[dict[str, Any]], stop_reason: str | None) -> dict[str, Any]:
    return {
        "id": ctx.response_id,
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
    }


def _event(obj: dict[str, Any]) -> bytes:
    return sse(obj, obj["type"])


@attrs.frozen
class AnthropicRenderer:
    """Answers in the Messages shape."""

    request_id_header: str = attrs.field(default="request-id", init=False)

    def response_id(self, sequence: int) -> str:
        """``msg_mock_NNNNNN``."""
        return f"msg_mock_{sequence:06d}"

    def usage_wanted(self, request: RecordedRequest) -> bool:
        """Always: Anthropic streams carry usage unasked."""
        return True

    def rule_violation(self, request: RecordedRequest) -> str | None:
        """The thinking rules the real API enforces (see ``anthropic_rule_violation``)."""
        return anthropic_rule_violation(request.json)

    def completion(self, reply: TextReply, ctx: RenderContext, content: str) -> dict[str, Any]:
        """A ``message`` object: thinking blocks, the text block, tool_use blocks."""
        blocks = _thinking_blocks(reply.thoughts)
        if content or not (reply.tool_calls or reply.refusal is not None):
            blocks.append({"type": "text", "text": content})
        blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c)} for c in reply.tool_calls]
        obj = _message(ctx, blocks, _finish_reason(reply))
        if reply.refusal is not None:
            obj["stop_details"] = _stop_details(reply.refusal)
        if ctx.tokens is not None:
            obj["usage"] = {**_input_usage(ctx.tokens), "output_tokens": ctx.tokens.completion}
        return obj

    def stream(self, reply: TextReply, ctx: RenderContext) -> Iterator[StreamEvent]:
        """``message_start``, ``ping``s, each block's events, ``message_delta`` and ``message_stop``."""
        tokens = ctx.tokens
        message = _message(ctx, [], None)
        if tokens is not None:
            message["usage"] = {**_input_usage(tokens), "output_tokens": 1}
        yield "lead", _event({"type": "message_start", "message": message})
        for _ in range(reply.keepalive_comments):
            yield "lead", _event({"type": "ping"})
        for event in _thinking_events(reply.thoughts, reply.chunk_size):
            yield ("close" if event["type"] == "content_block_stop" else "content"), _event(event)
        index = len(reply.thoughts)
        if _has_text_block(reply):
            yield (
                "lead",
                _event({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
            )
            for piece in reply.content_deltas():
                delta = {"type": "text_delta", "text": piece}
                yield "content", _event({"type": "content_block_delta", "index": index, "delta": delta})
            yield "close", _event({"type": "content_block_stop", "index": index})
            index += 1
        for offset, call in enumerate(reply.tool_calls):
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            yield "content", _event({"type": "content_block_start", "index": index + offset, "content_block": block})
            for fragment in pieces(call.arguments, reply.chunk_size):
                delta = {"type": "input_json_delta", "partial_json": fragment}
                yield "content", _event({"type": "content_block_delta", "index": index + offset, "delta": delta})
            yield "close", _event({"type": "content_block_stop", "index": index + offset})
        finish: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": _finish_reason(reply), "stop_sequence": None},
        }
        if reply.refusal is not None:
            finish["delta"]["stop_details"] = _stop_details(reply.refusal)
        if tokens is not None:
            finish["usage"] = {**_input_usage(tokens), "output_tokens": tokens.completion}
        yield "finish", _event(finish)
        if reply.done_marker:
            yield "finish", _event({"type": "message_stop"})

    def error_body(self, status: int, message: str, request_id: str) -> dict[str, Any]:
        """``{"type": "error", "error": {"type", "message"}, "request_id"}``."""
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}

    def in_band_body(self, error: InBandError, ctx: RenderContext) -> dict[str, Any]:
        """The error envelope, in a 200 answer."""
        return self.error_body(error.code, error.message, ctx.request_id)

    def in_band_event(self, error: InBandError, ctx: RenderContext) -> bytes:
        """``event: error`` with the error envelope (no request id, as in a stream)."""
        body = self.error_body(error.code, error.message, ctx.request_id)
        del body["request_id"]
        return sse(body, "error")

    def generation_record(self, reply: TextReply, ctx: RenderContext) -> tuple[str, dict[str, Any]] | None:
        """None: the Messages API has no cost lookup."""
        return None
