"""The OpenAI ``/chat/completions`` dialect, written once and shared by the OpenAI, OpenRouter and generic wires.

``OpenAIDialect`` implements the whole ``Provider`` protocol for that dialect. The wires differ
only in a few knobs, set as class attributes (or overridden methods) by each subclass: the token-limit key, how
usage is asked for, whether media size hints ride the wire, whether and where prompt-cache markers go,
attribution headers, and OpenRouter routing. A server that speaks the dialect with a twist can subclass it the
same way and override the one method that differs.

Everything here is pure: a ``WireRequest`` becomes a JSON body, a parsed JSON body becomes a
``CompletionResponse``, one server-sent event becomes a ``StreamChunk``. Error objects inside a successful
answer raise the ``APIError`` subclass their status names (``in_band_error``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs

from minillm.core import _validators as _v
from minillm.core.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InvalidParameterError,
    MalformedResponseError,
    RateLimitError,
    ServerError,
)
from minillm.core.http import loads_json_text, preview
from minillm.core.media import ImageData
from minillm.core.messages import ReasoningPart
from minillm.core.providers.base import StreamEnd, WireRequest, join_url
from minillm.core.response import CompletionResponse
from minillm.core.stream import ReasoningPartDelta, StreamChunk, ToolCallDelta
from minillm.core.tools import ToolCall, check_tool_choice
from minillm.core.usage import Usage

if TYPE_CHECKING:
    from minillm.core.auth import ResolvedCredential
    from minillm.core.messages import Media, Message
    from minillm.core.params import CompletionParameters, ReasoningConfig
    from minillm.core.sse import ServerSentEvent
    from minillm.core.structured import OutputSchema
    from minillm.core.tools import ToolChoice, ToolDefinition

__all__ = ["OpenAIDialect", "ReasoningShape", "UsageOptIn", "in_band_error", "parse_openai_usage", "reasoning_payload"]

_log = logging.getLogger("minillm")

ReasoningShape = Literal["openai", "openrouter"]
"""How a wire asks for reasoning: ``reasoning_effort`` (OpenAI's chat-completions key) or OpenRouter's
``reasoning`` object (``effort`` or ``max_tokens``, and ``exclude``)."""

UsageOptIn = Literal["none", "stream_options", "usage_include"]
"""How a wire asks for token usage: not at all; ``stream_options.include_usage`` on streams only (OpenAI);
``usage.include`` on every request (OpenRouter)."""

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
# Unknown or out-of-range error codes in a 2xx body count as an upstream failure (retryable).
_FALLBACK_STATUS = 502


# ---------------------------------------------------------------------------------------------------------
# Small readers for untrusted JSON


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional_count(value: object) -> int | None:
    return None if value is None or not _is_number(value) else _v.token_count(value)


def _mapping(value: object) -> Mapping[str, Any]:
    # A JSON object is a dict: that check is cheap; Mapping (an ABC) is the fallback for other callers.
    return value if isinstance(value, (dict, Mapping)) else {}


def _json_preview(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return preview(text)


# ---------------------------------------------------------------------------------------------------------
# Errors and usage, shared with wires that are not subclasses


def in_band_error(status: int, message: str, body: object = None) -> APIError:
    """The typed error for an error object found inside a successful (2xx) answer or a stream event.

    400/404/422 → ``BadRequestError``, 401/403 → ``AuthenticationError``, 429 → ``RateLimitError``,
    5xx → ``ServerError``, any other status → plain ``APIError``.
    """
    if status == 429:
        return RateLimitError(message, status_code=status, body=body)
    kind: type[APIError] = APIError
    if status in (400, 404, 422):
        kind = BadRequestError
    elif status in (401, 403):
        kind = AuthenticationError
        message += " (check the API key or token for this provider)"
    elif 500 <= status <= 599:
        kind = ServerError
    return kind(message, status_code=status, body=body)


def _raise_error_object(data: Mapping[str, Any]) -> None:
    """Raise when ``data`` carries a non-empty ``error`` object: some servers answer 200 with an error inside.

    The status is ``error.code`` when it is an integer from 100 to 599, else 502. An ``error`` that is null,
    ``{}``, false, 0, ``""``, a string or an array is not an error.
    """
    err = data.get("error")
    if not err or not isinstance(err, Mapping):
        return
    code = err.get("code")
    status = _FALLBACK_STATUS
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        status = code
    message = err.get("message")
    text = message if isinstance(message, str) and message else _json_preview(err)
    raise in_band_error(status, text, dict(data))


def parse_openai_usage(data: object) -> Usage | None:
    """The ``usage`` object of an OpenAI-dialect body as ``Usage``, or None.

    ``cached_tokens`` is part of ``prompt_tokens`` and is subtracted; ``cache_write_tokens`` is not (it is
    additive). Usage that claims more cached tokens than prompt tokens is inconsistent and dropped.
    """
    if data is None or not isinstance(data, (dict, Mapping)):
        return None
    prompt = _count(data.get("prompt_tokens"))
    details = data.get("prompt_tokens_details")
    if details:
        details = _mapping(details)
        read = _count(details.get("cached_tokens"))
        write = _count(details.get("cache_write_tokens"))
    else:
        read = write = 0
    if read > prompt:
        _log.warning(
            "ignoring usage that reports more cached tokens (%d) than prompt tokens (%d); cost will be unknown",
            read,
            prompt,
        )
        return None
    completion_details = data.get("completion_tokens_details")
    reasoning = _optional_count(_mapping(completion_details).get("reasoning_tokens")) if completion_details else None
    # Positional: uncached input, cache read, cache write, completion, cost, upstream cost, reasoning.
    return Usage(prompt - read, read, write, _count(data.get("completion_tokens")), None, None, reasoning)


def _count(value: object) -> int:
    """``token_count``, without a call for the usual value (a non-negative int)."""
    return value if type(value) is int and value >= 0 else _v.token_count(value)


# ---------------------------------------------------------------------------------------------------------
# Messages payload


def _normalize_audio(part: dict[str, Any]) -> None:
    """An ``input_audio`` part whose data is a ``data:<mime>;base64,<payload>`` URL carries the payload, and
    the MIME subtype as ``format`` when none was given. Plain URLs stay as they are."""
    inner = part.get("input_audio")
    if not isinstance(inner, dict):
        return
    data = inner.get("data")
    if not isinstance(data, str) or not data.startswith("data:"):
        return
    header, comma, payload = data.partition(",")
    if not comma or not header.endswith(";base64"):
        return
    inner["data"] = payload
    if "format" not in inner:
        mime = header[len("data:") :].split(";", 1)[0]
        subtype = mime.rsplit("/", 1)[-1]
        if subtype:
            inner["format"] = subtype


def _tool_call_payload(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _with_cache_marker(content: str | list[dict[str, Any]], index: int) -> str | list[dict[str, Any]]:
    """``content`` with a cache marker: on a non-empty string (as one text part) or on the last text part."""
    if isinstance(content, str):
        if content:
            return [{"type": "text", "text": content, "cache_control": dict(_EPHEMERAL)}]
    else:
        for part in reversed(content):
            if part.get("type") == "text":
                part["cache_control"] = dict(_EPHEMERAL)
                return content
    _log.warning(
        "message %d is marked as a cache breakpoint but has no text to carry the marker; "
        "the cached prefix ends at the previous marked message",
        index,
    )
    return content


def _kept_marks(messages: Sequence[Message], cap: int | None) -> set[int]:
    """Indices of the marked messages that keep their mark: all of them, or the last ``cap`` when more are
    marked than the provider allows (the dropped ones are logged)."""
    marked = [i for i, m in enumerate(messages) if m.cache_breakpoint]
    if cap is not None and len(marked) > cap:
        _log.warning(
            "%d messages are marked as cache breakpoints but this provider allows %d; keeping the last %d",
            len(marked),
            cap,
            cap,
        )
        marked = marked[len(marked) - cap :]
    return set(marked)


# ---------------------------------------------------------------------------------------------------------
# Response pieces


def _unknown_tool_call(entry: object) -> str | None:
    """The raw JSON text of a tool-call entry (or streamed piece) of a type other than ``function``, logged at
    DEBUG; None for a function call. A piece without a ``type`` is a function call unless it carries another
    payload than ``function`` (a later piece of a ``custom`` call carries ``custom``)."""
    if not isinstance(entry, Mapping):
        return None
    kind = entry.get("type")
    if kind is None:
        if "function" in entry or not any(k not in ("index", "id", "type") for k in entry):
            return None
    elif kind == "function":
        return None
    raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    _log.debug("keeping a tool call of a type minillm does not know (%r) aside: %s", kind, preview(raw))
    return raw


def _parse_tool_calls(value: object) -> tuple[tuple[ToolCall, ...], tuple[str, ...]]:
    """The function calls of a message, and the raw JSON of its other tool-call entries."""
    if not isinstance(value, list):
        return (), ()
    calls: list[ToolCall] = []
    unknown: list[str] = []
    for entry in value:
        raw = _unknown_tool_call(entry)
        if raw is not None:
            unknown.append(raw)
            continue
        function = _mapping(entry.get("function")) if isinstance(entry, Mapping) else {}
        call_id = entry.get("id") if isinstance(entry, Mapping) else None
        name = function.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise MalformedResponseError(f"tool_calls entry missing id or function.name: {_json_preview(entry)}")
        arguments = function.get("arguments")
        calls.append(ToolCall(call_id, name, arguments if isinstance(arguments, str) else ""))
    return tuple(calls), tuple(unknown)


def _parse_tool_deltas(value: object) -> tuple[ToolCallDelta, ...]:
    if not isinstance(value, list):
        return ()
    deltas: list[ToolCallDelta] = []
    for entry in value:
        index = entry.get("index") if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or not isinstance(index, int) or isinstance(index, bool):
            _log.warning("skipping a streamed tool-call delta without an integer index: %s", _json_preview(entry))
            continue
        raw = _unknown_tool_call(entry)
        if raw is not None:
            deltas.append(ToolCallDelta(index=index, raw=raw))
            continue
        function = _mapping(entry.get("function"))
        deltas.append(
            ToolCallDelta(
                index=index,
                id=_nonempty_str(entry.get("id")),
                name=_nonempty_str(function.get("name")),
                arguments_fragment=_nonempty_str(function.get("arguments")),
            )
        )
    return tuple(deltas)


def _nonempty_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})  # a parsed reply's headers until the transport's are set
_NOTHING: Mapping[str, Any] = MappingProxyType({})  # what an absent or malformed JSON object reads as


def _reply_choice(choices: object) -> Mapping[str, Any] | None:
    """The choice that is the reply: the one with ``index`` 0 (a choice without an index counts as 0). A server
    asked for several (``n``) sends them all, interleaved in a stream; None when this holds no choice 0."""
    if not isinstance(choices, list) or not choices:
        return None
    first = choices[0]
    if isinstance(first, dict) and first.get("index", 0) == 0:  # the usual case: one choice
        return first
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None


def _first_choice(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A body's reply choice: index 0, else the first choice there is."""
    choices = data.get("choices")
    choice = _reply_choice(choices)
    if choice is not None:
        return choice
    if isinstance(choices, list) and choices and isinstance(choices[0], (dict, Mapping)):
        return choices[0]
    return {}


def reasoning_payload(reasoning: ReasoningConfig, shape: ReasoningShape) -> tuple[str, Any]:
    """The body key and value that carry ``reasoning`` in ``shape``.

    OpenAI's ``reasoning_effort`` takes an effort only: a token budget without one raises
    ``InvalidParameterError`` (OpenAI has no budget key), and ``exclude`` is not sent (OpenAI's chat
    completions never return reasoning text).
    """
    if shape == "openrouter":
        return "reasoning", reasoning.to_dict()
    if reasoning.effort is None:
        raise InvalidParameterError(
            "OpenAI takes reasoning as an effort (reasoning_effort: none, minimal, low, medium, high or xhigh), "
            "not a token budget; use ReasoningConfig(effort='medium'), or a wire that takes budgets (Anthropic, "
            "OpenRouter)"
        )
    return "reasoning_effort", reasoning.effort


# Readable reasoning arrives under one of these keys: OpenRouter's ``reasoning``, or ``reasoning_content``
# (DeepSeek, vLLM and others).
_REASONING_KEYS = ("reasoning", "reasoning_content")


def _reasoning_text(message: Mapping[str, Any]) -> str | None:
    for key in _REASONING_KEYS:
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _detail_text(details: Sequence[Mapping[str, Any]]) -> str:
    return "".join(ReasoningPart("", d).text for d in details)


def _details(value: object) -> list[dict[str, Any]]:
    """The ``reasoning_details`` entries that are objects with a string ``type``."""
    if not isinstance(value, list):
        return []
    return [dict(d) for d in value if isinstance(d, Mapping) and isinstance(d.get("type"), str)]


# ---------------------------------------------------------------------------------------------------------
# The dialect


@attrs.frozen
class OpenAIDialect:
    """The ``/chat/completions`` dialect as one ``Provider``; its defaults are OpenAI's.

    Subclasses set the class-level knobs below (and override ``token_limit_key`` or
    ``emits_cache_markers`` when the answer depends on the instance or the model):

    - ``usage_opt_in``: how usage is asked for (see ``UsageOptIn``).
    - ``keeps_estimation_metadata``: send media size hints (``width``, ``height``, ``duration_secs``,
      ``page_count``) inside parts; servers that do not know them may refuse them.
    - ``max_cache_breakpoints``: how many cache marks survive (the last ones); None for no limit.
    - ``sends_attribution``: send ``HTTP-Referer`` / ``X-Title`` from the generator's app attribution.
    - ``sends_routing``: send OpenRouter routing under ``provider``.
    - ``reasoning_wire``: the name this wire gives its reasoning items (``reasoning_details``) so they go back
      with their turn; None for a wire that takes none back (reasoning from any other wire is never sent).
    - ``strict_schemas``: send a reply schema in strict mode's form with ``strict: true`` (OpenAI's
      structured outputs); otherwise the schema as it is, without ``strict``.
    """

    usage_opt_in: ClassVar[UsageOptIn] = "stream_options"
    reasoning_wire: ClassVar[str | None] = None
    keeps_estimation_metadata: ClassVar[bool] = False
    max_cache_breakpoints: ClassVar[int | None] = None
    sends_attribution: ClassVar[bool] = False
    sends_routing: ClassVar[bool] = False
    strict_schemas: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return "openai-compatible"

    # Knobs that may depend on the instance or the model ---------------------------------------------------

    def token_limit_key(self) -> str:
        """The body key that carries ``max_tokens``."""
        return "max_completion_tokens"

    def emits_cache_markers(self, model: str) -> bool:
        """Whether cache marks become ``cache_control`` markers for ``model`` (never, by default)."""
        return False

    def reasoning_shape(self) -> ReasoningShape:
        """How this wire asks for reasoning (``reasoning_effort`` by default)."""
        return "openai"

    # Provider protocol ----------------------------------------------------------------------------------

    def completions_url(self, base_url: str) -> str:
        return join_url(base_url, "/chat/completions")

    def headers(
        self, credential: ResolvedCredential | None, attribution: tuple[str, str] | None
    ) -> Sequence[tuple[str, str]]:
        """``Authorization: Bearer`` for either credential kind, then attribution headers when the wire sends
        them."""
        out: list[tuple[str, str]] = []
        if credential is not None:
            out.append(("Authorization", f"Bearer {credential.secret}"))
        if self.sends_attribution and attribution is not None:
            url, title = attribution
            out.append(("HTTP-Referer", url))
            out.append(("X-Title", title))
        return out

    def build_body(self, request: WireRequest) -> dict[str, Any]:
        """The body in the dialect's key order; unset parameters are left out, ``stream`` is always there."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": self.messages_payload(request.model, request.messages),
            "stream": request.stream,
        }
        self._add_params(body, request.params)
        if request.include_usage:
            if self.usage_opt_in == "stream_options" and request.stream:
                body["stream_options"] = {"include_usage": True}
            elif self.usage_opt_in == "usage_include":
                body["usage"] = {"include": True}
        if self.sends_routing and request.routing is not None:
            routing = request.routing.to_dict()
            if routing:
                body["provider"] = routing
        if request.schema is not None:
            if "response_format" in body:
                raise InvalidParameterError(
                    "with_schema and a response_format cannot be sent together; the schema sets the response "
                    "format itself, so drop with_json_response()"
                )
            body["response_format"] = self.schema_payload(request.schema)
        return body

    def parse_response(self, data: Any) -> CompletionResponse:
        """A 2xx body as a response: an ``error`` object in it raises; ``choices[0].message`` is required; its text
        (``""`` when null), tool calls, returned images, finish reason and usage are read."""
        if not isinstance(data, (dict, Mapping)):
            raise MalformedResponseError(
                f"expected a JSON object with 'choices' from the provider, got: {_json_preview(data)}"
            )
        if "error" in data:
            _raise_error_object(data)
        choice = _first_choice(data)
        message = choice.get("message")
        if not isinstance(message, (dict, Mapping)):
            raise MalformedResponseError(
                f"the response has no choices[0].message, so there is no reply to read: {_json_preview(data)}"
            )
        content = message.get("content")
        finish = choice.get("finish_reason")
        # The usual reply has none of these: the helpers that read them run only when they are there.
        raw_details = message.get("reasoning_details")
        details = _details(raw_details) if raw_details is not None else []
        refusal = message.get("refusal")
        raw_calls = message.get("tool_calls")
        calls, unknown_calls = _parse_tool_calls(raw_calls) if raw_calls is not None else ((), ())
        identifier, model = data.get("id"), data.get("model")
        # Positional, in the field order: id, model, content, finish reason, usage, tool calls, headers (the
        # transport's, added later), media, reasoning, refusal, reasoning parts, unknown tool calls.
        return CompletionResponse(
            identifier if isinstance(identifier, str) else "",
            model if isinstance(model, str) else "",
            content if isinstance(content, str) else "",
            finish if isinstance(finish, str) else None,
            self.parse_usage(data.get("usage")),
            calls,
            _NO_HEADERS,
            self.parse_media(message),
            _reasoning_text(message) or (_detail_text(details) if details else "") or None,
            refusal if isinstance(refusal, str) and refusal else None,
            self._reasoning_parts(details) if details else (),
            unknown_calls,
        )

    def parse_stream_event(self, event: ServerSentEvent) -> StreamChunk | StreamEnd | None:
        """One event's ``data``: ``[DONE]`` ends the stream, an error object raises ``APIError``, data that is
        not JSON (a raw control character in a string, an event cut short) raises ``MalformedResponseError``
        rather than leave its text out; empty data and chunks that carry nothing are skipped."""
        text = event.data
        if text[:1] != "{" and text.strip() == "[DONE]":  # a chunk starts with "{": no copy to strip it
            return StreamEnd()
        try:
            data = loads_json_text(text)
        except (ValueError, RecursionError) as e:
            if not text.strip():
                return None  # an empty event carries nothing to lose
            raise MalformedResponseError(f"an event's data is not JSON: {preview(text)!r}") from e
        if not isinstance(data, dict):  # JSON makes a dict of every object
            return None
        if "error" in data:
            _raise_error_object(data)
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else _NOTHING
        if choice.get("index", 0) != 0:  # several choices (n > 1): only choice 0's deltas are the reply
            choice = _reply_choice(choices) or _NOTHING
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = _NOTHING
        content = delta.get("content")
        text = content if isinstance(content, str) else ""
        usage = data.get("usage")
        tool_calls = delta.get("tool_calls")
        chunk_id = data.get("id")
        finish = choice.get("finish_reason")
        chunk = StreamChunk(
            text,
            chunk_id if isinstance(chunk_id, str) and chunk_id else None,
            finish if isinstance(finish, str) and finish else None,
            # Most chunks carry neither: their parsers are only called when there is something to parse.
            None if usage is None else self.parse_usage(usage),
            None if tool_calls is None else _parse_tool_deltas(tool_calls),
        )
        # A delta of text alone (the usual one: its only key is "content") holds nothing more to look for.
        if (len(delta) != 1 or not text) and (
            "reasoning" in delta or "reasoning_content" in delta or "reasoning_details" in delta or "refusal" in delta
        ):
            return self._with_reasoning(chunk, delta)
        return chunk if text or not chunk.is_empty() else None  # the usual chunk has text: no more to check

    def expects_stream_usage(self, include_usage: bool) -> bool:
        """A stream waits for a usage event after its finish reason only when the wire asked for one."""
        return include_usage and self.usage_opt_in != "none"

    def _reasoning_parts(self, details: list[dict[str, Any]]) -> tuple[ReasoningPart, ...]:
        wire = self.reasoning_wire
        return () if wire is None else tuple(ReasoningPart(wire, d) for d in details)

    def _with_reasoning(self, chunk: StreamChunk, delta: Mapping[str, Any]) -> StreamChunk | None:
        """``chunk`` with the delta's reasoning text, reasoning details and refusal text added."""
        details = _details(delta.get("reasoning_details"))
        refusal = delta.get("refusal")
        thought = _reasoning_text(delta) or _detail_text(details)
        pieces: tuple[ReasoningPartDelta, ...] = ()
        if self.reasoning_wire is not None:
            wire = self.reasoning_wire
            pieces = tuple(ReasoningPartDelta(wire, _detail_index(d), d) for d in details)
        # An empty refusal is no refusal: OpenAI opens a refusal stream with "refusal": "", and some servers
        # send it on every reply.
        said = refusal if isinstance(refusal, str) else ""
        if thought or pieces or said:
            chunk = attrs.evolve(
                chunk, reasoning_delta=thought, reasoning_parts=pieces or None, refusal_delta=said, refused=bool(said)
            )
        return None if chunk.is_empty() else chunk

    # Pieces a subclass may override ---------------------------------------------------------------------

    def parse_usage(self, data: object) -> Usage | None:
        """The body's ``usage`` object as ``Usage`` (None when absent or inconsistent)."""
        return parse_openai_usage(data)

    def parse_media(self, message: Mapping[str, Any]) -> tuple[Media, ...]:
        """Images the model returned in ``message.images`` (each an ``image_url.url``, https or ``data:``), as URL
        images; an entry without a URL is a malformed answer."""
        images = message.get("images")
        if not isinstance(images, list):
            return ()
        media: list[Media] = []
        for entry in images:
            url = _mapping(_mapping(entry).get("image_url")).get("url")
            if not isinstance(url, str) or not url:
                raise MalformedResponseError(f"response image entry has no image_url.url: {_json_preview(entry)}")
            media.append(ImageData.from_url(url))
        return tuple(media)

    def schema_payload(self, schema: OutputSchema) -> dict[str, Any]:
        """The ``response_format`` of a request with a reply schema: ``{"type": "json_schema", "json_schema":
        {"name", "schema", "strict"}}``. With ``strict_schemas``, the schema goes in strict mode's form with
        ``strict: true``, or as it is with ``strict: false`` when it has no strict form (a free-form map, a
        recursive type)."""
        if not self.strict_schemas:
            return {"type": "json_schema", "json_schema": {"name": schema.name, "schema": schema.object_schema}}
        strict = schema.strict_schema
        if strict is None:
            _log.info("the schema %r has no strict-mode form; it is sent with strict: false", schema.name)
        inner = {"name": schema.name, "schema": schema.object_schema if strict is None else strict}
        return {"type": "json_schema", "json_schema": {**inner, "strict": strict is not None}}

    def tools_payload(self, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        """The ``tools`` array: ``{"type": "function", "function": {"name", "parameters", "description"?,
        "strict"?}}`` per tool."""
        out: list[dict[str, Any]] = []
        for tool in tools:
            function: dict[str, Any] = {"name": tool.name, "parameters": tool.to_dict()["parameters"]}
            if tool.description is not None:
                function["description"] = tool.description
            if tool.strict is not None:
                function["strict"] = tool.strict
            out.append({"type": "function", "function": function})
        return out

    def tool_choice_payload(self, choice: ToolChoice) -> str | dict[str, Any]:
        """``"auto"``, ``"none"``, ``"required"``, or ``{"type": "function", "function": {"name": n}}``."""
        if choice.kind == "tool":
            return {"type": "function", "function": {"name": choice.name}}
        return choice.kind

    def messages_payload(self, model: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """The ``messages`` array: one object per message, parts normalized, cache markers where the wire
        puts them."""
        marks = _kept_marks(messages, self.max_cache_breakpoints) if self.emits_cache_markers(model) else set()
        return [self._message_payload(i, m, i in marks) for i, m in enumerate(messages)]

    # Internals --------------------------------------------------------------------------------------------

    def _message_payload(self, index: int, message: Message, marked: bool) -> dict[str, Any]:
        content = message.content.to_json(estimation_metadata=self.keeps_estimation_metadata)
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "input_audio":
                    _normalize_audio(part)
            if not content and message.tool_calls:
                content = ""
        if marked:
            content = _with_cache_marker(content, index)
        out: dict[str, Any] = {"role": message.role.value, "content": content}
        if message.name is not None:
            out["name"] = message.name
        if message.tool_call_id is not None:
            out["tool_call_id"] = message.tool_call_id
        if message.tool_calls:
            out["tool_calls"] = [_tool_call_payload(c) for c in message.tool_calls]
        if message.reasoning_parts and self.reasoning_wire is not None:
            details = [p.block for p in message.reasoning_parts if p.wire == self.reasoning_wire]
            if details:
                out["reasoning_details"] = details
        return out

    def _add_params(self, body: dict[str, Any], params: CompletionParameters) -> None:
        check_tool_choice(params.tools, params.tool_choice)
        pairs: tuple[tuple[str, Any], ...] = (
            (self.token_limit_key(), params.max_tokens),
            ("temperature", params.temperature),
            ("top_p", params.top_p),
            ("top_k", params.top_k),
            ("frequency_penalty", params.frequency_penalty),
            ("presence_penalty", params.presence_penalty),
            ("repetition_penalty", params.repetition_penalty),
            ("stop", None if params.stop is None else list(params.stop)),
            ("seed", params.seed),
            ("response_format", None if params.response_format is None else params.response_format.to_dict()),
            ("tools", self.tools_payload(params.tools) if params.tools else None),
            ("tool_choice", None if params.tool_choice is None else self.tool_choice_payload(params.tool_choice)),
            ("parallel_tool_calls", params.parallel_tool_calls),
        )
        for key, value in pairs:
            if value is not None:
                body[key] = value
        if params.reasoning is not None:
            key, value = reasoning_payload(params.reasoning, self.reasoning_shape())
            body[key] = value


def _detail_index(detail: Mapping[str, Any]) -> int | None:
    index = detail.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else None


def _str_or_empty(value: object) -> str:
    return value if isinstance(value, str) else ""
