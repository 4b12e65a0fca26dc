"""The completion flow, written once for both transports.

A ``CompletionCall`` holds one request's decisions: the prompt it sends (the thread, merged, with the
request's system prompt and primer), the HTTP request for its generator's wire, how an answer is read, how
the text is post-processed, and the assistant node it becomes. The transports only send ``call.request()``,
feed back what they receive, and wait between attempts as ``call.retry_policy`` says; the out-of-band cost
lookup is a flow of its own (``minillm.core.cost_lookup``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.catalog import known_price
from minillm.core.cost_lookup import COST_LOOKUP_ATTEMPTS, COST_LOOKUP_INTERVAL, CostLookup
from minillm.core.errors import EmptyResponseError, InvalidParameterError, MalformedResponseError, NoJSONFoundError
from minillm.core.http import HTTPRequest, api_error, decode_json_body, preview
from minillm.core.jsonfix import is_refusal_value, loads, repair_json
from minillm.core.messages import Message, MessageContent, Role, merge_contiguous
from minillm.core.params import CompletionParameters, NodeCompletionParameters
from minillm.core.providers.base import SupportsCostLookup, WireRequest
from minillm.core.retry import RetryPolicy
from minillm.core.sse import DEFAULT_MAX_EVENT_BYTES
from minillm.core.stream import StreamParser
from minillm.core.structured import PartialValues, reply_text
from minillm.core.structured.outcome import repaired
from minillm.core.usage import CostInfo, cost_info_from_usage, unknown_cost

if TYPE_CHECKING:
    from minillm.core.generator import GeneratorInfo
    from minillm.core.response import CompletionResponse
    from minillm.core.tree import ChatNode

__all__ = [
    "COST_LOOKUP_ATTEMPTS",
    "COST_LOOKUP_INTERVAL",
    "CompletionCall",
    "CostLookup",
    "assemble_request",
    "build_prompt",
    "cache_warmup_call",
    "costed_call",
    "effective_params",
    "merge_extras",
    "postprocess",
    "structured_reply",
]


def build_prompt(node: ChatNode, params: NodeCompletionParameters) -> list[Message]:
    """The messages sent for a completion at ``node``.

    The thread is formatted (request kwargs under each node's own), contiguous turns are merged, the
    ``system_prompt`` replaces the leading system message (or is prepended when there is none), the
    ``force_prepend`` primer is appended as an assistant turn, and ``use_cache`` marks the last message.
    """
    messages = merge_contiguous(node.formatted_thread_with_base(params.format_kwargs))
    if params.system_prompt is not None:
        if messages and messages[0].role is Role.SYSTEM:
            messages[0] = attrs.evolve(messages[0], content=MessageContent(params.system_prompt))
        else:
            messages.insert(0, Message.system(params.system_prompt))
    if params.force_prepend is not None:
        messages.append(Message.assistant(params.force_prepend))
    if params.use_cache and messages:
        messages[-1] = attrs.evolve(messages[-1], cache_breakpoint=True)
    return messages


def effective_params(generator: GeneratorInfo, params: NodeCompletionParameters) -> CompletionParameters:
    """The generator's default parameters overlaid by the request's (request values win when set)."""
    if params.params is None:
        return generator.default_params
    return generator.default_params.merge(params.params)


def explicit_params(params: NodeCompletionParameters) -> frozenset[str]:
    """The model parameters a call set itself: those of its own ``params`` that differ from the class default
    (the generator's ``default_params`` are not the caller's choice for this request)."""
    own = params.params
    if own is None:
        return frozenset()
    return frozenset(
        field.name
        for field in attrs.fields(type(own))
        if field.name != "extra" and getattr(own, field.name) is not None and not _is_class_default(field, own)
    )


def _is_class_default(field: attrs.Attribute[Any], params: Any) -> bool:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    try:
        return bool(getattr(params, field.name) == default)
    except Exception:  # a value whose == refuses to compare is taken as set
        return False


def merge_extras(body: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``body`` with the ``extra`` keys added at the top level; a key the wire already set is refused."""
    if not extra:
        return body
    for key, value in extra.items():
        if key in body:
            raise InvalidParameterError(
                f"extra param {key!r} collides with a key the request body already has; "
                f"set it through its own parameter instead of with_extra"
            )
        body[key] = value
    return body


def _set_header(headers: list[tuple[str, str]], name: str, value: str) -> None:
    lowered = name.lower()
    headers[:] = [(k, v) for k, v in headers if k.lower() != lowered]
    headers.append((name, value))


def assemble_request(generator: GeneratorInfo, wire: WireRequest) -> HTTPRequest:
    """The HTTP request for ``wire`` on ``generator``'s provider.

    Headers go in this order, a later one replacing an earlier one of the same name: ``Content-Type``,
    the provider's auth and attribution headers, then the generator's custom headers. The credential is
    resolved here, so a missing key raises ``ConfigurationError`` before anything is sent.
    """
    provider = generator.provider
    credential = generator.auth.resolve()
    headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
    names = {"content-type"}  # the lower-case names in headers so far
    for pairs in (provider.headers(credential, generator.app_attribution), generator.custom_headers):
        for name, value in pairs:
            lowered = name.lower()
            if lowered in names:
                _set_header(headers, name, value)
            else:
                names.add(lowered)
                headers.append((name, value))
    body = merge_extras(provider.build_body(wire), wire.params.extra)
    return HTTPRequest("POST", provider.completions_url(generator.base_url), tuple(headers), body)


def postprocess(text: str, params: NodeCompletionParameters) -> str:
    """Apply ``force_prepend``, ``crash_on_empty_response`` and ``parse_json`` to a reply, in that order.

    Raises ``EmptyResponseError``, ``NoJSONFoundError`` or ``JSONRepairError`` to reject the reply; the
    retry policy treats those as worth another attempt.
    """
    prefix = params.force_prepend
    if prefix and not text.startswith(prefix):
        text = prefix + text
    if params.crash_on_empty_response and not text.strip():
        raise EmptyResponseError()
    if params.parse_json:
        if params.crash_on_refusal and is_refusal_value(loads(text)):
            raise NoJSONFoundError(text)
        text = repair_json(text)
    return text


@attrs.frozen
class CompletionCall:
    """One completion request at ``node``: what to send, how to read the answer, and what it becomes."""

    node: ChatNode
    generator: GeneratorInfo
    params: NodeCompletionParameters = attrs.field(factory=NodeCompletionParameters)
    stream: bool = False

    @property
    def include_usage(self) -> bool:
        """Usage is asked for when costs are tracked or a cost callback is set."""
        return self.params.track_cost or self.params.cost_callback is not None

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy.from_params(self.params)

    def wire_request(self) -> WireRequest:
        if self.params.budget is not None:
            raise InvalidParameterError(
                "a budget is enforced by ChatNode's methods: call node.complete(generator, params, client=client) "
                "rather than the client's own method, so the request is checked before it is sent"
            )
        return WireRequest(
            model=self.generator.model,
            messages=build_prompt(self.node, self.params),
            params=effective_params(self.generator, self.params),
            stream=self.stream,
            include_usage=self.include_usage,
            routing=self.params.openrouter_routing,
            schema=self.params.schema,
            explicit=explicit_params(self.params),
        )

    def request(self) -> HTTPRequest:
        """The HTTP request to send (built afresh for each attempt, so credentials are read anew)."""
        return assemble_request(self.generator, self.wire_request())

    def timeout(self) -> float | None:
        """The per-request timeout in seconds: ``timeout_secs`` when positive, else the client's own."""
        t = self.params.timeout_secs
        return t if t else None

    def parse_response(self, status: int, headers: Mapping[str, str], body: bytes) -> CompletionResponse:
        """The response for an HTTP answer, or the typed error it stands for."""
        if not 200 <= status < 300:
            raise api_error(status, headers, body)
        return self.generator.provider.parse_response(decode_json_body(body))._headers_set(headers)

    def stream_started(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether a streamed answer can be handed to the caller: a 2xx that is not a document (an HTML
        page, JSON). Otherwise the transport reads the whole body and calls ``check_stream_start``."""
        return 200 <= status < 300 and _document_type(headers) is None

    def check_stream_start(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Raise the typed error for a stream that did not start (``body`` is the answer's full text): the
        ``APIError`` for a status that is not 2xx; for a 2xx document instead of an event stream, the
        ``APIError`` of an error object in it, else ``MalformedResponseError``."""
        if not 200 <= status < 300:
            raise api_error(status, headers, body)
        kind = _document_type(headers)
        if kind is None:
            return
        with contextlib.suppress(MalformedResponseError):
            self.generator.provider.parse_response(decode_json_body(body))  # an error object raises here
        shown = preview(body.decode("utf-8", errors="replace").strip())
        raise MalformedResponseError(
            f"a stream was asked for, but the provider answered {status} with a {kind} document instead of an "
            f"event stream: {shown!r}; check the base URL (a proxy or login page?) and that the server streams"
        )

    def stream_parser(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> StreamParser:
        """A parser for this call's stream body, bound to the provider and the generator's model; an event
        larger than ``max_event_bytes`` breaks the stream (the client's setting)."""
        return StreamParser(
            self.generator.provider, self.generator.model, self.include_usage, max_event_bytes=max_event_bytes
        )

    def accept(self, response: CompletionResponse) -> ChatNode:
        """Post-process the reply and add the assistant node (registered, or a phantom when ``add_child`` is
        off). Raises a content rejection that the retry policy retries.

        A reply that only calls tools (no text) is taken as it is: it is not empty and holds no JSON to parse.
        Nor is a refusal (even one without text): it is the model's answer, recorded on the node, and asking
        again would only repeat it.

        With a schema the reply is never rejected here (the tree validates it and re-asks, so transport
        retries never multiply re-asks): its JSON, the content or the forced tool's input, is repaired when it
        can be and kept as the node's text.
        """
        if self.params.schema is not None and response.refusal is None:
            return structured_reply(self.node, response, self.params)
        if response.refusal is not None or (response.tool_calls and not response.content.strip()):
            text = response.content
        else:
            text = postprocess(response.content, self.params)
        return self.node._add_response(response, text, register=self.params.add_child)

    def partial_values(self) -> PartialValues:
        """A reader of this call's stream chunks into partial JSON values (``stream.partial()``)."""
        return PartialValues(self.params.schema)

    def cost_lookup(self, response: CompletionResponse) -> CostLookup | None:
        """The out-of-band cost query for a reply without usage, when the wire has one (OpenRouter)."""
        if response.usage is not None or not response.id:
            return None
        provider = self.generator.provider
        if not isinstance(provider, SupportsCostLookup):
            return None
        request = provider.cost_lookup_request(self.generator.base_url, response.id, self.generator.auth.resolve())
        if request is None:
            return None
        return CostLookup(
            request, provider, response.model, response.id, self.params.token_price or self.generator.token_price
        )

    def cost_from_usage(self, response: CompletionResponse) -> CostInfo:
        """The reply's cost from its usage (the provider's own figure, else the request's price, the generator's,
        the catalog's), or ``UNKNOWN``."""
        if response.usage is None:
            return unknown_cost(response.model, response.id)
        quote = None if response.usage.cost is not None else known_price(self.generator, self.params.token_price)
        return cost_info_from_usage(
            response.usage,
            None if quote is None else quote.price,
            model=response.model,
            response_id=response.id,
            price_source=None if quote is None else quote.source,
            price_date=None if quote is None else quote.date,
        )


def structured_reply(
    node: ChatNode, response: CompletionResponse, params: NodeCompletionParameters, *, register: bool | None = None
) -> ChatNode:
    """The assistant node for a reply to a request with a schema: its JSON text (the forced tool's input when
    the wire answered through the tool, with ``force_prepend`` put back), repaired when it can be."""
    assert params.schema is not None
    text, calls = reply_text(response, params.schema)
    prefix = params.force_prepend
    if prefix and not text.startswith(prefix):
        text = prefix + text
    if calls != tuple(response.tool_calls or ()):
        response = attrs.evolve(response, tool_calls=calls)
    return node._add_response(response, repaired(text), register=params.add_child if register is None else register)


def _document_type(headers: Mapping[str, str]) -> str | None:
    """The media type of an answer that is a document (HTML, JSON, XML), not an event stream; else None. An
    answer without a content type, or with any other, is read as a stream (some servers label theirs oddly)."""
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    media = value.split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml") or media.endswith(("/json", "+json", "/xml", "+xml")):
        return media
    return None


def cache_warmup_call(node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters) -> CompletionCall:
    """The single request ``ensure_cached`` sends: the prompt marked for caching, ``max_tokens`` 0 (so no
    reply is paid for, only the cache write), usage asked for (to report the cost), and no retry."""
    base = params.params or CompletionParameters()
    warm = attrs.evolve(
        params,
        use_cache=True,
        params=attrs.evolve(base, max_tokens=0),
        track_cost=True,
        retry=0,
    )
    return CompletionCall(node, generator, warm, stream=False)


def costed_call(
    node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None = None
) -> CompletionCall:
    """The call ``complete_costed`` makes: usage asked for (the cost is returned, so it is tracked), and no
    cost callback (the caller gets the cost back instead of a report)."""
    costed = attrs.evolve(params or NodeCompletionParameters(), track_cost=True, cost_callback=None)
    return CompletionCall(node, generator, costed)
