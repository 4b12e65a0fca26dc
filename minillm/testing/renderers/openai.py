"""The chat-completions shape (OpenAI, OpenRouter, generic servers) of the test server's answers.

A completion is a ``chat.completion`` object; a stream is ``chat.completion.chunk`` events ended by
``data: [DONE]``, with usage only when the request asked for it (``stream_options.include_usage``, or
OpenRouter's ``usage.include``). Requests under ``/api/v1`` (the server's ``openrouter_base_url``) get
OpenRouter's extras: reasoning as ``reasoning`` plus ``reasoning_details`` (``reasoning.text`` with its
``signature``, ``reasoning.encrypted`` with its ``data``), and a ``/generation`` record of each completion.
Any other path carries reasoning as ``reasoning_content``, the field DeepSeek and vLLM use (OpenAI itself sends
no reasoning text on this API); redacted thoughts have no form there and are left out. A refusal is
``message.refusal`` (``delta.refusal`` in streams).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs

from minillm.testing.reasoning import Thought
from minillm.testing.renderers.base import RenderContext, StreamEvent, Tokens, pieces, sse
from minillm.testing.request import RecordedRequest

if TYPE_CHECKING:
    from minillm.testing.replies import InBandError, TextReply

__all__ = ["OpenAIRenderer", "is_openrouter_path"]

_OPENROUTER_FORMAT = "anthropic-claude-v1"


def is_openrouter_path(path: str) -> bool:
    """True for requests under ``/api/v1``, where the server speaks OpenRouter's reasoning fields."""
    return "/api/v1/" in path


def _usage(t: Tokens) -> dict[str, Any]:
    # prompt_tokens counts uncached + cache reads; cache writes ride prompt_tokens_details, on top
    # (the reading minillm's OpenAI-dialect parser applies, so a scripted Usage comes back unchanged).
    prompt = t.uncached + t.read
    details: dict[str, Any] = {"cached_tokens": t.read, "audio_tokens": 0}
    if t.write:
        details["cache_write_tokens"] = t.write
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": t.completion,
        "total_tokens": prompt + t.completion,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": t.reasoning or 0, "audio_tokens": 0},
    }
    if t.cost is not None:
        usage["cost"] = t.cost
        usage["is_byok"] = t.upstream is not None
    if t.upstream is not None:
        usage["cost_details"] = {"upstream_inference_cost": t.upstream}
    return usage


def _finish_reason(reply: TextReply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_calls" if reply.tool_calls else "stop"


def _error_kind(status: int) -> tuple[str, str | None]:
    known: dict[int, tuple[str, str | None]] = {
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }
    return known.get(status, ("server_error", None) if status >= 500 else ("invalid_request_error", None))


def _chunk(ctx: RenderContext) -> dict[str, Any]:
    """The head of a ``chat.completion.chunk`` event; ``choices`` and the rest follow."""
    return {"id": ctx.response_id, "object": "chat.completion.chunk", "created": ctx.created, "model": ctx.model}


def _detail(t: Thought, index: int) -> dict[str, Any]:
    if t.redacted:
        return {"type": "reasoning.encrypted", "data": t.data, "format": _OPENROUTER_FORMAT, "index": index}
    return {
        "type": "reasoning.text",
        "text": t.text,
        "signature": t.signed,
        "format": _OPENROUTER_FORMAT,
        "index": index,
    }


@attrs.frozen
class OpenAIRenderer:
    """Answers in the chat-completions shape; ``openrouter`` adds OpenRouter's reasoning fields and
    ``/generation`` records."""

    openrouter: bool = False
    request_id_header: str = attrs.field(default="x-request-id", init=False)

    def response_id(self, sequence: int) -> str:
        """``chatcmpl-mock-NNNNNN``."""
        return f"chatcmpl-mock-{sequence:06d}"

    def usage_wanted(self, request: RecordedRequest) -> bool:
        """Always for a whole body; for a stream, only when the request opted in."""
        body = request.json if isinstance(request.json, dict) else {}
        options, usage_opt = body.get("stream_options"), body.get("usage")
        return not request.stream or (
            (isinstance(options, dict) and options.get("include_usage") is True)
            or (isinstance(usage_opt, dict) and usage_opt.get("include") is True)
        )

    def rule_violation(self, request: RecordedRequest) -> str | None:
        """None: the server checks no request rules of this wire before answering."""
        return None

    def completion(self, reply: TextReply, ctx: RenderContext, content: str) -> dict[str, Any]:
        """A ``chat.completion`` object with one choice."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content if content or not reply.tool_calls else None,
            "refusal": None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.tool_calls
            ]
        message.update(self._message_fields(reply.thoughts, reply.refusal))
        if reply.refusal is not None and not content:
            message["content"] = None
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(reply)}
        obj: dict[str, Any] = {
            "id": ctx.response_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [choice],
        }
        if ctx.tokens is not None:
            obj["usage"] = _usage(ctx.tokens)
        return obj

    def stream(self, reply: TextReply, ctx: RenderContext) -> Iterator[StreamEvent]:
        """Keep-alive comments, the role chunk, reasoning, content and tool deltas, the finish chunk, the
        usage chunk and ``[DONE]``."""

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            obj = _chunk(ctx)
            obj["choices"] = (
                [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            )
            if ctx.include_usage:
                obj["usage"] = usage  # OpenAI sends "usage": null on every chunk before the usage chunk
            return sse(obj)

        for _ in range(reply.keepalive_comments):
            yield "lead", b": OPENROUTER PROCESSING\n\n"
        yield "lead", chunk({"role": "assistant", "content": ""})
        for delta in self._stream_deltas(reply.thoughts, reply.refusal, reply.chunk_size):
            yield "content", chunk(delta)
        for piece in reply.content_deltas():
            yield "content", chunk({"content": piece})
        for index, call in enumerate(reply.tool_calls):
            function = {"name": call.name, "arguments": ""}
            yield (
                "content",
                chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function", "function": function}]}),
            )
            for fragment in pieces(call.arguments, reply.chunk_size):
                yield "content", chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})
        finish = _finish_reason(reply)
        usage = _usage(ctx.tokens) if ctx.tokens is not None and ctx.include_usage else None
        if usage is not None and reply.usage_on_finish_chunk:
            yield "finish", chunk({}, finish, usage=usage)
        else:
            yield "finish", chunk({}, finish)
            if usage is not None:
                yield "finish", chunk(None, usage=usage)
        if reply.done_marker:
            yield "finish", b"data: [DONE]\n\n"

    def error_body(self, status: int, message: str, request_id: str) -> dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        kind, code = _error_kind(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def in_band_body(self, error: InBandError, ctx: RenderContext) -> dict[str, Any]:
        """OpenRouter's ``{"error": {"code", "message"}}``."""
        return {"error": {"code": error.code, "message": error.message}}

    def in_band_event(self, error: InBandError, ctx: RenderContext) -> bytes:
        """OpenRouter's error chunk, with ``finish_reason: "error"``."""
        obj = _chunk(ctx)
        obj["error"] = {"code": error.code, "message": error.message}
        obj["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]
        return sse(obj)

    def generation_record(self, reply: TextReply, ctx: RenderContext) -> tuple[str, dict[str, Any]]:
        """The OpenRouter ``GET /generation`` record of this completion: cost, token counts, finish reason."""
        t = ctx.tokens or Tokens(0, 0, 0, 0, None, reply.cost, None)
        record = {
            "id": ctx.response_id,
            "total_cost": t.cost if t.cost is not None else 0.0,
            "upstream_inference_cost": t.upstream,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ctx.created)),
            "model": ctx.model,
            "streamed": ctx.stream,
            "cancelled": False,
            "provider_name": "minillm.testing",
            "finish_reason": _finish_reason(reply),
            "tokens_prompt": t.uncached + t.read,
            "tokens_completion": t.completion,
            "native_tokens_prompt": t.uncached + t.read,
            "native_tokens_completion": t.completion,
            "native_tokens_cached": t.read,
            "native_tokens_reasoning": t.reasoning,
            "is_byok": t.upstream is not None,
            "api_type": "completions",
        }
        return ctx.response_id, record

    # ----- reasoning and refusals -----------------------------------------------------------------

    def _message_fields(self, thoughts: tuple[Thought, ...], refusal: str | None) -> dict[str, Any]:
        """Keys to add to the ``message``: reasoning, reasoning details, refusal."""
        out: dict[str, Any] = {}
        text = "".join(t.text for t in thoughts if not t.redacted)
        if self.openrouter and thoughts:
            out["reasoning"] = text or None
            out["reasoning_details"] = [_detail(t, i) for i, t in enumerate(thoughts)]
        elif text:
            out["reasoning_content"] = text
        if refusal is not None:
            out["refusal"] = refusal
        return out

    def _stream_deltas(self, thoughts: tuple[Thought, ...], refusal: str | None, size: int) -> Iterator[dict[str, Any]]:
        """The ``delta`` objects that stream the thoughts (before the content) and the refusal."""
        for index, t in enumerate(thoughts):
            if not self.openrouter:
                if not t.redacted:
                    yield from ({"reasoning_content": piece} for piece in pieces(t.text, size))
                continue
            if t.redacted:
                yield {"reasoning": None, "reasoning_details": [_detail(t, index)]}
                continue
            for piece in pieces(t.text, size):
                detail = {"type": "reasoning.text", "text": piece, "format": _OPENROUTER_FORMAT, "index": index}
                yield {"reasoning": piece, "reasoning_details": [detail]}
            last = {"type": "reasoning.text", "signature": t.signed, "format": _OPENROUTER_FORMAT, "index": index}
            yield {"reasoning": None, "reasoning_details": [last]}
        if refusal == "":
            yield {"refusal": ""}
        elif refusal is not None:
            yield from ({"refusal": piece} for piece in pieces(refusal, size))
