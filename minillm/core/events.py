"""What happens during a completion, as events: small frozen values that the clients hand to your hooks.

A call (one ``complete``, ``complete_streaming``, ``complete_costed`` or ``ensure_cached``) emits, in order:

- ``RequestBuilt`` once, with the first request as data (its ``repr`` hides credentials);
- ``AttemptSent`` before each attempt (1, 2, ...);
- ``RetryScheduled`` after a failed attempt that will be retried, with the wait and the error;
- ``FirstChunk`` when a stream's first chunk has been read (the time to first token);
- ``CostKnown`` when the reply's cost is known: from its usage, or looked up for a cost callback or a
  costed call (it comes before the call's last event, so a tracing span can carry it);
- then exactly one of ``ResponseReceived`` (a plain reply, accepted), ``StreamFinished`` (a stream read
  to its end, or closed early: ``completed`` tells which) or ``RequestFailed`` (the error the call raises).

Every event carries the ``call_id`` its call was given, so a hook that sees many concurrent calls can tell
them apart. ``CallTrace`` numbers one call's events; ``describe`` renders any event as one log line. This
module decides nothing and delivers nothing: the clients call the hooks and write the log lines.
"""

from __future__ import annotations

import uuid

import attrs

from minillm.core.flow import CompletionCall, effective_params
from minillm.core.http import HTTPRequest
from minillm.core.params import CompletionParameters
from minillm.core.response import CompletionResponse
from minillm.core.usage import CostInfo

__all__ = [
    "AttemptSent",
    "CallTrace",
    "CostKnown",
    "Event",
    "FirstChunk",
    "RequestBuilt",
    "RequestFailed",
    "ResponseReceived",
    "RetryScheduled",
    "StreamFinished",
    "describe",
    "public_url",
]


@attrs.frozen
class RequestBuilt:
    """A call's first request, built and about to be sent.

    ``generator`` is the generator's name (``"openai"``, ``"openrouter"``, a custom server's name), ``wire``
    the dialect it speaks, ``params`` the model parameters in effect (the generator's defaults merged under
    the call's), ``request`` the HTTP request as data.
    """

    call_id: str
    model: str
    generator: str
    wire: str
    stream: bool
    params: CompletionParameters
    request: HTTPRequest


@attrs.frozen
class AttemptSent:
    """Attempt number ``attempt`` (1 for the first) is being sent."""

    call_id: str
    attempt: int


@attrs.frozen
class RetryScheduled:
    """Attempt ``attempt`` failed with ``error``; the next one is sent after ``wait`` seconds."""

    call_id: str
    attempt: int
    wait: float
    error: Exception

    @property
    def reason(self) -> str:
        """The failure in one line: its type and message."""
        return _error_line(self.error)


@attrs.frozen
class FirstChunk:
    """A stream's first chunk has been read, ``attempt`` attempts after the call began."""

    call_id: str
    attempt: int


@attrs.frozen
class CostKnown:
    """What the call's reply cost (check ``cost.resolution`` before trusting ``cost.cost``)."""

    call_id: str
    cost: CostInfo


@attrs.frozen
class ResponseReceived:
    """A plain (not streamed) reply arrived and was accepted, after ``attempts`` attempts in all."""

    call_id: str
    response: CompletionResponse
    attempts: int


@attrs.frozen
class StreamFinished:
    """A stream ended: read to its end (``completed``), or closed before it (``response`` then holds what
    had arrived)."""

    call_id: str
    response: CompletionResponse
    completed: bool
    attempts: int


@attrs.frozen
class RequestFailed:
    """The call failed with ``error`` after ``attempts`` attempts; the call raises it."""

    call_id: str
    error: Exception
    attempts: int

    @property
    def reason(self) -> str:
        """The failure in one line: its type and message."""
        return _error_line(self.error)


Event = (
    RequestBuilt
    | AttemptSent
    | RetryScheduled
    | FirstChunk
    | CostKnown
    | ResponseReceived
    | StreamFinished
    | RequestFailed
)
"""Any event a hook may receive (match on its type)."""


class CallTrace:
    """One call's events: it names the call and counts its attempts. Made only when someone listens."""

    __slots__ = ("attempts", "call", "call_id", "first_chunk_seen")

    def __init__(self, call: CompletionCall) -> None:
        self.call = call
        self.call_id = uuid.uuid4().hex[:16]
        self.attempts = 0
        self.first_chunk_seen = False

    def sending(self, request: HTTPRequest) -> tuple[Event, ...]:
        """The events before an attempt goes out: ``RequestBuilt`` before the first, then ``AttemptSent``."""
        self.attempts += 1
        sent = AttemptSent(self.call_id, self.attempts)
        if self.attempts > 1:
            return (sent,)
        call = self.call
        built = RequestBuilt(
            self.call_id,
            call.generator.model,
            call.generator.name,
            call.generator.provider.name,
            call.stream,
            effective_params(call.generator, call.params),
            request,
        )
        return (built, sent)

    def retry_scheduled(self, wait: float, error: Exception) -> RetryScheduled:
        return RetryScheduled(self.call_id, self.attempts, wait, error)

    def first_chunk(self) -> FirstChunk:
        self.first_chunk_seen = True
        return FirstChunk(self.call_id, self.attempts)

    def cost_known(self, response: CompletionResponse, info: CostInfo | None) -> CostKnown | None:
        """``CostKnown`` for a reply: ``info`` when the call resolved its cost, else the cost from the reply's
        usage (never a lookup: observing a call sends nothing); None when neither is there."""
        if info is None:
            if response.usage is None:
                return None
            info = self.call.cost_from_usage(response)
        return CostKnown(self.call_id, info)

    def response_received(self, response: CompletionResponse) -> ResponseReceived:
        return ResponseReceived(self.call_id, response, self.attempts)

    def stream_finished(self, response: CompletionResponse, completed: bool) -> StreamFinished:
        return StreamFinished(self.call_id, response, completed, self.attempts)

    def failed(self, error: Exception) -> RequestFailed:
        return RequestFailed(self.call_id, error, self.attempts)


def _error_line(error: BaseException) -> str:
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def public_url(url: str) -> str:
    """``url`` without its query string or user info, which may carry a key (``?key=...``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2]
    return f"{scheme}{sep}{host}{slash}{path}"


def _usage_text(response: CompletionResponse) -> str:
    usage = response.usage
    if usage is None:
        return "no usage"
    return f"{usage.prompt_tokens} in / {usage.completion_tokens} out tokens"


def describe(event: Event) -> str:
    """One log line for ``event``: what happened, to which call, without bodies or credentials."""
    tag = f"[{event.call_id}]"
    if isinstance(event, RequestBuilt):
        kind = "stream" if event.stream else "request"
        url = public_url(event.request.url)
        return f"{tag} {kind} built: {event.request.method} {url} model={event.model} generator={event.generator}"
    if isinstance(event, AttemptSent):
        return f"{tag} attempt {event.attempt} sent"
    if isinstance(event, RetryScheduled):
        return f"{tag} attempt {event.attempt} failed ({event.reason}); retrying in {event.wait:.3g} s"
    if isinstance(event, FirstChunk):
        return f"{tag} first chunk received"
    if isinstance(event, CostKnown):
        info = event.cost
        return (
            f"{tag} cost {info.resolution.name.lower()}: ${info.cost:.6g} "
            f"({info.prompt_tokens} in / {info.completion_tokens} out tokens)"
        )
    if isinstance(event, ResponseReceived):
        r = event.response
        return (
            f"{tag} response received after {event.attempts} attempt(s): model={r.model} "
            f"finish_reason={r.finish_reason} {_usage_text(r)}"
        )
    if isinstance(event, StreamFinished):
        r = event.response
        how = "finished" if event.completed else "closed before its end"
        return f"{tag} stream {how}: model={r.model} finish_reason={r.finish_reason} {_usage_text(r)}"
    return f"{tag} request failed after {event.attempts} attempt(s): {event.reason}"
