"""The native Anthropic wire (``GeneratorInfo.anthropic`` / ``claude_subscription``): ``POST /v1/messages``.

Requests: system messages are hoisted into ``system``; every other message becomes a ``user`` or ``assistant``
turn of content blocks (text, image, document, ``tool_use``, ``tool_result``), and consecutive turns of one
role are merged, so parallel tool results share one user turn. At most four cache marks are honoured (the
last four), each as ``cache_control`` on the last block of its message. Images (JPEG, PNG, GIF, WebP) and PDFs
travel as base64 or URL sources; audio and video have no Anthropic block and are refused up front. Tools go
as ``{"name", "input_schema", ...}`` objects and the tool choice as an object (``{"type": "any"}`` for
required), which also carries ``parallel_tool_calls=False`` as ``disable_parallel_tool_use``.

Responses: the text blocks are concatenated, ``tool_use`` blocks become ``ToolCall``s with compact JSON
arguments, and ``stop_reason`` is passed through unmapped (``end_turn``, ``max_tokens``, ``tool_use`` ...).
Streams report usage in two halves: the input side in ``message_start``, the output side (plus whatever
cumulative input counts the server repeats) in ``message_delta``; the stream accumulator merges them.

Errors the server reports inside a 2xx body or stream (``{"type": "error", "error": {...}}``) raise an
``APIError`` whose status follows the error's type: ``overloaded_error`` 529, ``rate_limit_error`` 429
(``RateLimitError``), ``api_error`` 500, ``timeout_error`` 504; anything else is a ``ServerError`` 502 (the
server said "success" and then failed, as a bad gateway would). All of these are worth retrying.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import attrs

from minillm.core import _validators as _v
from minillm.core.errors import APIError, InvalidParameterError, MalformedResponseError, RateLimitError, ServerError
from minillm.core.http import HTTPRequest, error_message_from_body, loads_json_text, preview
from minillm.core.messages import (
    AudioPart,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    ReasoningPart,
    Role,
    TextPart,
    VideoPart,
)
from minillm.core.providers.anthropic_thinking import refusal_text as _refusal
from minillm.core.providers.anthropic_thinking import thinking_json as _thinking_json
from minillm.core.providers.base import StreamEnd, WireRequest, join_url
from minillm.core.response import CompletionResponse
from minillm.core.stream import ReasoningPartDelta, StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall, check_tool_choice
from minillm.core.usage import Usage

if TYPE_CHECKING:
    from minillm.core.auth import ResolvedCredential
    from minillm.core.params import CompletionParameters
    from minillm.core.sse import ServerSentEvent
    from minillm.core.structured import OutputSchema
    from minillm.core.tools import ToolDefinition

__all__ = ["AnthropicProvider"]

_log = logging.getLogger("minillm")

_ANTHROPIC_VERSION = "2023-06-01"
# The beta flag that lets a Claude subscription's OAuth token call the Messages API.
_OAUTH_BETA = "oauth-2025-04-20"
# Anthropic refuses a request with more than four cache_control breakpoints.
_MAX_CACHE_BREAKPOINTS = 4
# Used when the parameters leave max_tokens unset: Anthropic requires the key.
_DEFAULT_MAX_TOKENS = 4096
# What /v1/messages/count_tokens accepts; it refuses the keys that only shape the reply (max_tokens, stream...).
_COUNT_TOKENS_KEYS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers"})

_WIRE = "anthropic"
_THINKING_TYPES = ("thinking", "redacted_thinking")

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_PDF_TYPE = "application/pdf"

# In-band error types with a status that says more than the default 502.
_IN_BAND_ERRORS: dict[str, tuple[type[APIError], int]] = {
    "overloaded_error": (ServerError, 529),
    "rate_limit_error": (RateLimitError, 429),
    "api_error": (ServerError, 500),
    "timeout_error": (ServerError, 504),
}
_DEFAULT_IN_BAND: tuple[type[APIError], int] = (ServerError, 502)

_Block = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------
# Request body


def _cache_control(block: _Block) -> _Block:
    return {**block, "cache_control": dict(_EPHEMERAL)}


def _kept_marks(messages: Sequence[Message]) -> frozenset[int]:
    """The indices of the cache marks that are sent: the last ``_MAX_CACHE_BREAKPOINTS`` (Anthropic refuses more
    than four ``cache_control`` blocks; the dropped ones are logged)."""
    marked = [i for i, m in enumerate(messages) if m.cache_breakpoint]
    if len(marked) > _MAX_CACHE_BREAKPOINTS:
        _log.warning(
            "%d messages are marked as cache breakpoints but Anthropic allows %d; only the last %d are sent",
            len(marked),
            _MAX_CACHE_BREAKPOINTS,
            _MAX_CACHE_BREAKPOINTS,
        )
    return frozenset(marked[-_MAX_CACHE_BREAKPOINTS:])


def _parse_data_url(url: str) -> tuple[str, str] | None:
    """``(media type, base64 data)`` of a ``data:`` URL, None for any other URL.

    A data URL that is not base64-encoded cannot become a base64 source and raises ``InvalidParameterError``.
    """
    if url[:5].lower() != "data:":
        return None
    header, comma, data = url[5:].partition(",")
    params = [p.strip().lower() for p in header.split(";")]
    if not comma or "base64" not in params[1:]:
        raise InvalidParameterError(
            "a data: URL sent to Anthropic must be base64-encoded (data:<media type>;base64,<data>); "
            "build the media with ImageData.from_bytes / DocumentData.from_bytes or from_file"
        )
    return params[0], data


def _image_block(part: ImagePart) -> _Block:
    parsed = _parse_data_url(part.url)
    if parsed is None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    media_type, data = parsed
    if media_type not in _IMAGE_TYPES:
        raise InvalidParameterError(
            f"the Anthropic API accepts JPEG, PNG, GIF and WebP images, but this image is {media_type or 'untyped'!r}; "
            "convert it to one of those formats (or send it by URL)"
        )
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _document_block(part: FilePart) -> _Block:
    parsed = _parse_data_url(part.file_data)
    if parsed is None:
        block: _Block = {"type": "document", "source": {"type": "url", "url": part.file_data}}
    else:
        media_type, data = parsed
        if media_type != _PDF_TYPE:
            raise InvalidParameterError(
                f"the Anthropic wire sends documents as PDFs, but this file is {media_type or 'untyped'!r}; "
                "convert it to PDF, or put its text in the message"
            )
        block = {"type": "document", "source": {"type": "base64", "media_type": _PDF_TYPE, "data": data}}
    title = part.filename.strip()
    if title:
        block["title"] = title
    return block


def _part_blocks(parts: Sequence[ContentPart]) -> list[_Block]:
    """The content blocks for a message's parts, in order; empty text parts are dropped."""
    blocks: list[_Block] = []
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image_block(part))
        elif isinstance(part, FilePart):
            blocks.append(_document_block(part))
        elif isinstance(part, AudioPart):
            raise InvalidParameterError(
                "the Anthropic API does not accept audio; transcribe it and send the text, or use a model that "
                "takes audio input through an OpenAI-wire provider (OpenAI, OpenRouter)"
            )
        elif isinstance(part, VideoPart):
            raise InvalidParameterError(
                "the Anthropic API does not accept video; send a few frames as images instead, or use a model "
                "that takes video input through OpenRouter"
            )
        else:
            raise InvalidParameterError(f"the Anthropic wire cannot send a {type(part).__name__} content part")
    return blocks


def _tool_use_block(call: ToolCall) -> _Block:
    try:
        arguments = json.loads(call.arguments or "{}")
    except (ValueError, RecursionError) as e:
        raise InvalidParameterError(
            f"tool call {call.id!r} ({call.name}) carries arguments that are not valid JSON ({e}); Anthropic "
            "needs them as a JSON object. Fix the arguments (ToolCall.arguments_json_repaired() can help)"
        ) from e
    if not isinstance(arguments, dict):
        raise InvalidParameterError(
            f"tool call {call.id!r} ({call.name}) carries arguments that are a JSON {type(arguments).__name__}, "
            "but Anthropic needs a JSON object"
        )
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _tool_result_block(message: Message) -> _Block:
    if message.tool_call_id is None:
        raise InvalidParameterError(
            "a tool message needs the id of the call it answers (tool_call_id); build it with "
            "Message.tool(call_id, content) or node.add_tool_result(call_id, content)"
        )
    content = message.content
    result = _part_blocks(content.parts) if content.has_multimodal() else content.all_text()
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": result}


def _turn_blocks(message: Message) -> list[_Block]:
    """The content blocks of one user, assistant or tool message (without its cache mark)."""
    if message.role is Role.TOOL:
        return [_tool_result_block(message)]
    blocks = _part_blocks(message.content.parts)
    thinking = [p for p in message.reasoning_parts if p.wire == _WIRE]
    if not blocks and not message.tool_calls and not thinking:
        # A message with nothing in it still has a body; a tool-call-only assistant message gets no empty text.
        blocks = [{"type": "text", "text": ""}]
    if not thinking:
        blocks.extend(_tool_use_block(call) for call in message.tool_calls or ())
        return blocks
    # Thinking blocks go back unchanged and in their places: before the text, or after the tool calls that
    # preceded them when thinking was interleaved with tool use.
    out = [dict(p.block) for p in thinking if p.after_tool_calls == 0] + blocks
    for i, call in enumerate(message.tool_calls or ()):
        out.append(_tool_use_block(call))
        out.extend(dict(p.block) for p in thinking if p.after_tool_calls == i + 1)
    out.extend(dict(p.block) for p in thinking if p.after_tool_calls > len(message.tool_calls or ()))
    return out


def _mark_last(blocks: list[_Block]) -> None:
    """Put the cache mark on the last block that can carry one (thinking blocks cannot)."""
    for i in range(len(blocks) - 1, -1, -1):
        if blocks[i].get("type") not in _THINKING_TYPES:
            blocks[i] = _cache_control(blocks[i])
            return


def _system_text(message: Message) -> str:
    if message.content.has_multimodal():
        raise InvalidParameterError(
            "the Anthropic API takes only text in the system prompt; move the images or documents to a user message"
        )
    return message.content.all_text()


def _turn_json(role: str, blocks: list[_Block]) -> dict[str, Any]:
    if len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0]:
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def _tool_json(tool: ToolDefinition) -> _Block:
    """A tool definition on this wire: ``{"name", "input_schema", "description"?, "strict"?}``."""
    out: _Block = {"name": tool.name, "input_schema": tool.to_dict()["parameters"]}
    if tool.description is not None:
        out["description"] = tool.description
    if tool.strict is not None:
        out["strict"] = tool.strict
    return out


def _tool_choice_json(params: CompletionParameters) -> _Block | None:
    """The ``tool_choice`` object (``auto``, ``none``, ``any`` for required, or ``tool`` with a name), with
    ``parallel_tool_calls=False`` folded in as ``disable_parallel_tool_use``.

    Without an explicit choice, forbidding parallel calls creates an ``auto`` choice to carry the flag, but only
    when tools are offered (Anthropic refuses a ``tool_choice`` without tools). A ``none`` choice never carries
    it, and ``parallel_tool_calls=True`` (the API's default) sends nothing.
    """
    choice = params.tool_choice
    out: _Block | None = None
    if choice is not None:
        if choice.kind == "tool":
            out = {"type": "tool", "name": choice.name}
        else:
            out = {"type": "any" if choice.kind == "required" else choice.kind}
    if params.parallel_tool_calls is False:
        if out is None and params.tools:
            out = {"type": "auto"}
        if out is not None and out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


def _check_params(request: WireRequest) -> None:
    params = request.params
    if params.response_format is not None:
        raise InvalidParameterError(
            "response_format is not supported by the Anthropic API; ask for JSON in the prompt (and set "
            "parse_json=True on NodeCompletionParameters to repair it), or use an OpenAI-wire provider"
        )


def _add_schema(body: dict[str, Any], schema: OutputSchema, mode: str) -> None:
    """Ask for a reply matching ``schema``: as a forced call of one tool whose input schema it is (``tool``
    mode, every Claude model), or as Anthropic's JSON outputs, ``output_config.format`` (``native`` mode,
    the models that support structured outputs)."""
    if mode == "native":
        strict = schema.strict_schema
        if strict is None:
            raise InvalidParameterError(
                f"the schema {schema.name!r} cannot be sent as Anthropic's native structured output (a free-form "
                "map, a recursive type or an empty schema); use the default tool mode: with_schema_mode('tool')"
            )
        body["output_config"] = {"format": {"type": "json_schema", "schema": strict}}
        return
    if "tool_choice" in body:
        raise InvalidParameterError(
            "with_schema on the Anthropic wire forces the model to call the schema's tool, so it cannot be "
            "combined with a tool_choice; drop the tool choice (or the schema)"
        )
    tools = body.setdefault("tools", [])
    if any(tool.get("name") == schema.tool_name for tool in tools):
        raise InvalidParameterError(
            f"a tool named {schema.tool_name!r} is already offered; rename it, or give the schema another title"
        )
    tools.append(
        {
            "name": schema.tool_name,
            "description": "Give the reply as this tool's input.",
            "input_schema": schema.object_schema,
        }
    )
    body["tool_choice"] = {"type": "tool", "name": schema.tool_name}


# ---------------------------------------------------------------------------------------------------------
# Responses and stream events


def _usage(value: Any) -> Usage | None:
    """Anthropic's ``usage`` object in the normalized buckets (``input_tokens`` uncached, ``cache_read_input_tokens``,
    ``cache_creation_input_tokens``, ``output_tokens``); None when there is none.

    ``input_tokens`` already excludes cached tokens, so the three input counts are disjoint as they come.
    """
    if not isinstance(value, Mapping):
        return None
    details = value.get("output_tokens_details")
    reasoning = details.get("thinking_tokens") if isinstance(details, Mapping) else None
    return Usage(
        uncached_input_tokens=_v.token_count(value.get("input_tokens")),
        cache_read_tokens=_v.token_count(value.get("cache_read_input_tokens")),
        cache_write_tokens=_v.token_count(value.get("cache_creation_input_tokens")),
        completion_tokens=_v.token_count(value.get("output_tokens")),
        reasoning_tokens=reasoning if isinstance(reasoning, int) and not isinstance(reasoning, bool) else None,
    )


def _raise_in_band(data: Any, raw: str) -> NoReturn:
    """Raise the ``APIError`` for an error object the server sent in a 2xx body or a stream.

    The status follows the error's ``type`` (``_IN_BAND_ERRORS``), 502 for any other type; the message is the
    server's own.
    """
    err = data.get("error") if isinstance(data, Mapping) else None
    error_type = err.get("type") if isinstance(err, Mapping) else None
    kind, status = _DEFAULT_IN_BAND
    if isinstance(error_type, str):
        kind, status = _IN_BAND_ERRORS.get(error_type, _DEFAULT_IN_BAND)
    request_id = data.get("request_id") if isinstance(data, Mapping) else None
    raise kind(
        error_message_from_body(data, raw),
        status_code=status,
        body=data if data is not None else raw,
        request_id=request_id if isinstance(request_id, str) and request_id else None,
    )


def _is_error_body(data: Mapping[str, Any]) -> bool:
    err = data.get("error")
    return data.get("type") == "error" or (isinstance(err, (Mapping, str)) and bool(err))


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tool_call(block: Mapping[str, Any], index: int) -> ToolCall:
    call_id, name = block.get("id"), block.get("name")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise MalformedResponseError(
            f"Anthropic sent a tool_use block (content[{index}]) without an id or name: {preview(_compact(block))}"
        )
    arguments = block.get("input")
    return ToolCall(call_id, name, _compact({} if arguments is None else arguments))


def _index(data: Mapping[str, Any]) -> int | None:
    index = data.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else None


# ---------------------------------------------------------------------------------------------------------
# The provider


# The events whose data must be JSON: those that carry the reply, and "message", the type of an event sent
# without a name (its JSON "type" says what it is). ``ping`` and unknown types may be ignored.
_JSON_EVENTS = frozenset(
    {
        "message",
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    }
)


@attrs.frozen
class AnthropicProvider:
    """Anthropic's Messages API (``/v1/messages``), for API keys and Claude subscription tokens alike.

    ``schema_mode`` is how a reply schema (``with_schema``) is asked for: ``"tool"`` (the default, every
    Claude model) forces a call of one tool whose input is the reply; ``"native"`` sends Anthropic's
    structured outputs (``output_config.format``), which only recent models accept.
    """

    schema_mode: Literal["tool", "native"] = attrs.field(default="tool", kw_only=True)

    @schema_mode.validator
    def _check_mode(self, _attribute: Any, value: Any) -> None:
        if value not in ("tool", "native"):
            raise InvalidParameterError(f"schema_mode must be 'tool' or 'native', got {value!r}")

    @property
    def name(self) -> str:
        return "anthropic"

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/v1/messages")

    def headers(
        self, credential: ResolvedCredential | None, attribution: tuple[str, str] | None
    ) -> Sequence[tuple[str, str]]:
        """``anthropic-version`` always; an API key as ``x-api-key``; a bearer token (a Claude subscription) as
        ``Authorization: Bearer`` with the OAuth beta flag. Anthropic has no attribution headers."""
        out: list[tuple[str, str]] = [("anthropic-version", _ANTHROPIC_VERSION)]
        if credential is None:
            return tuple(out)
        if credential.kind == "bearer":
            out.append(("Authorization", f"Bearer {credential.secret}"))
            out.append(("anthropic-beta", _OAUTH_BETA))
        else:
            out.append(("x-api-key", credential.secret))
        return tuple(out)

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        """The ``/v1/messages`` body: system messages joined into ``system``, the other turns as content blocks
        (images and PDFs included), same-role turns merged, ``max_tokens`` always set (4096 by default).

        ``reasoning`` becomes ``thinking`` with a budget (see ``thinking_budget``); an assistant turn's thinking
        blocks are sent back unchanged. Raises ``InvalidParameterError`` for ``response_format``, a thinking
        budget Anthropic would refuse, audio, video, unsupported image or document types, a tool message
        without ``tool_call_id``, tool-call arguments that are not a JSON object and a tool choice naming a tool
        that is not offered.
        """
        _check_params(request)
        check_tool_choice(request.params.tools, request.params.tool_choice)
        params = request.params
        kept = _kept_marks(request.messages)
        system_parts: list[str] = []
        system_cached = False
        turns: list[tuple[str, list[_Block]]] = []
        for i, message in enumerate(request.messages):
            if message.role is Role.SYSTEM:
                system_parts.append(_system_text(message))
                system_cached = system_cached or i in kept
                continue
            role = "assistant" if message.role is Role.ASSISTANT else "user"
            blocks = _turn_blocks(message)
            if i in kept:
                _mark_last(blocks)
            if turns and turns[-1][0] == role:
                turns[-1][1].extend(blocks)
            else:
                turns.append((role, blocks))

        max_tokens = _DEFAULT_MAX_TOKENS if params.max_tokens is None else params.max_tokens
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": max_tokens,
            "messages": [_turn_json(role, blocks) for role, blocks in turns],
            "stream": request.stream,
        }
        system = "\n".join(system_parts)
        if system:
            body["system"] = [_cache_control({"type": "text", "text": system})] if system_cached else system
        thinking = _thinking_json(params, max_tokens)
        if thinking is not None:
            body["thinking"] = thinking
            if params.temperature is not None and params.temperature != 1:
                _log.debug("leaving temperature %s out: Anthropic takes only 1 with thinking", params.temperature)
        if params.temperature is not None and (thinking is None or params.temperature == 1):
            body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.top_k is not None:
            body["top_k"] = params.top_k
        if params.stop is not None:
            body["stop_sequences"] = list(params.stop)
        if params.tools:
            body["tools"] = [_tool_json(tool) for tool in params.tools]
        choice = _tool_choice_json(params)
        if choice is not None:
            body["tool_choice"] = choice
        if request.schema is not None:
            _add_schema(body, request.schema, self.schema_mode)
        return body

    def count_tokens_request(self, completion: HTTPRequest, base_url: str) -> HTTPRequest:
        """The ``POST /v1/messages/count_tokens`` request for a completion request: the same headers and body,
        keeping only the keys that endpoint takes (model, messages, system, tools, tool_choice, thinking); the
        answer is ``{"input_tokens": N}``."""
        body = completion.json if isinstance(completion.json, Mapping) else {}
        kept = {key: value for key, value in body.items() if key in _COUNT_TOKENS_KEYS}
        return attrs.evolve(completion, url=join_url(base_url, "/v1/messages/count_tokens"), json=kept)

    def parse_response(self, data: Any) -> CompletionResponse:
        """A ``/v1/messages`` response body as a ``CompletionResponse``; an error body raises ``APIError``."""
        if not isinstance(data, Mapping):
            raise MalformedResponseError(
                f"Anthropic sent a response that is not a JSON object: {preview(_compact(data))}"
            )
        if _is_error_body(data):
            _raise_in_band(data, _compact(data))
        content = data.get("content")
        if not isinstance(content, list):
            raise MalformedResponseError(f"Anthropic sent a response without a content list: {preview(_compact(data))}")
        texts: list[str] = []
        calls: list[ToolCall] = []
        thoughts: list[str] = []
        parts: list[ReasoningPart] = []
        for i, block in enumerate(content):
            if not isinstance(block, Mapping):
                raise MalformedResponseError(f"Anthropic sent a content block that is not an object: content[{i}]")
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if not isinstance(text, str):
                    raise MalformedResponseError(f"Anthropic sent a text block without text: content[{i}]")
                texts.append(text)
            elif kind == "tool_use":
                calls.append(_tool_call(block, i))
            elif kind in _THINKING_TYPES:
                part = ReasoningPart(_WIRE, block, len(calls))
                parts.append(part)
                if part.text:
                    thoughts.append(part.text)
        response_id, model, stop = data.get("id"), data.get("model"), data.get("stop_reason")
        return CompletionResponse(
            id=response_id if isinstance(response_id, str) else "",
            model=model if isinstance(model, str) else "",
            content="".join(texts),
            finish_reason=stop if isinstance(stop, str) else None,
            usage=_usage(data.get("usage")),
            tool_calls=calls,
            reasoning="".join(thoughts) if thoughts else None,
            refusal=_refusal(stop, data.get("stop_details")),
            reasoning_parts=parts,
        )

    def parse_stream_event(self, event: ServerSentEvent) -> StreamChunk | StreamEnd | None:
        """One Messages stream event as a chunk, ``StreamEnd`` at ``message_stop``, or None for events that
        carry nothing (``ping``, ``content_block_stop``, empty data, and event types this code does not know,
        which Anthropic tells clients to tolerate). An ``error`` event raises ``APIError``. The data of an
        event that carries the reply (``message_*``, ``content_block_*``, or one with no event name) must be
        JSON: otherwise ``MalformedResponseError``, rather than leave its text out."""
        try:
            data: Any = loads_json_text(event.data)
        except (ValueError, RecursionError) as e:
            if event.event == "error":
                _raise_in_band(None, event.data)
            if event.event in _JSON_EVENTS and event.data.strip():
                raise MalformedResponseError(
                    f"the data of a {event.event!r} event is not JSON: {preview(event.data)!r}"
                ) from e
            return None
        if not isinstance(data, Mapping):
            if event.event == "error":
                _raise_in_band(None, event.data)
            return None
        kind = data.get("type")
        if not isinstance(kind, str):
            kind = event.event
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_start":
            return self._message_start(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "message_delta":
            delta = data.get("delta")
            stop = delta.get("stop_reason") if isinstance(delta, Mapping) else None
            usage = _usage(data.get("usage"))
            if not isinstance(stop, str) and usage is None:
                return None
            details = delta.get("stop_details") if isinstance(delta, Mapping) else None
            refusal = _refusal(stop, details)
            return StreamChunk(
                finish_reason=stop if isinstance(stop, str) else None,
                usage=usage,
                refusal_delta=refusal or "",
                refused=refusal is not None,
            )
        if kind == "message_stop":
            return StreamEnd()
        if kind == "error":
            _raise_in_band(data, event.data)
        return None

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """Anthropic always streams usage (in ``message_start`` and ``message_delta``); wait for it when asked."""
        return include_usage

    @staticmethod
    def _message_start(data: Mapping[str, Any]) -> StreamChunk | None:
        message = data.get("message")
        if not isinstance(message, Mapping):
            return None
        message_id = message.get("id")
        usage = _usage(message.get("usage"))
        has_id = isinstance(message_id, str) and bool(message_id)
        if not has_id and usage is None:
            return None
        return StreamChunk(id=message_id if has_id else None, usage=usage)

    @staticmethod
    def _block_start(data: Mapping[str, Any]) -> StreamChunk | None:
        block = data.get("content_block")
        index = _index(data)
        if not isinstance(block, Mapping):
            return None
        kind = block.get("type")
        if kind == "tool_use" and index is not None:
            call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
            # The API always starts with an empty input and streams it; a non-empty one is sent along.
            fragment = _compact(arguments) if isinstance(arguments, Mapping) and arguments else None
            delta = ToolCallDelta(
                index,
                id=call_id if isinstance(call_id, str) else None,
                name=name if isinstance(name, str) else None,
                arguments_fragment=fragment,
            )
            return StreamChunk(tool_calls=(delta,))
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                return StreamChunk(delta=text)
        if kind in _THINKING_TYPES and index is not None:
            thought = block.get("thinking")
            piece = ReasoningPartDelta(_WIRE, index, dict(block), ordered_with_tools=True)
            return StreamChunk(reasoning_delta=thought if isinstance(thought, str) else "", reasoning_parts=(piece,))
        return None

    @staticmethod
    def _block_delta(data: Mapping[str, Any]) -> StreamChunk | None:
        delta = data.get("delta")
        if not isinstance(delta, Mapping):
            return None
        if delta.get("type") == "input_json_delta":
            fragment = delta.get("partial_json")
            index = _index(data)
            if not isinstance(fragment, str) or not fragment or index is None:
                return None
            return StreamChunk(tool_calls=(ToolCallDelta(index, arguments_fragment=fragment),))
        kind = delta.get("type")
        if kind in ("thinking_delta", "signature_delta"):
            key = "thinking" if kind == "thinking_delta" else "signature"
            value = delta.get(key)
            index = _index(data)
            if not isinstance(value, str) or index is None:
                return None
            piece = ReasoningPartDelta(_WIRE, index, {key: value}, ordered_with_tools=True)
            return StreamChunk(reasoning_delta=value if key == "thinking" else "", reasoning_parts=(piece,))
        if kind not in (None, "text_delta"):
            return None  # citations and block types minillm does not know: not reply text
        text = delta.get("text")
        if isinstance(text, str) and text:
            return StreamChunk(delta=text)
        return None
