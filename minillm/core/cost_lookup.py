"""The out-of-band cost lookup, as a flow the transports drive: the policy here, the I/O there.

A reply that came without usage (an OpenRouter stream, say) can still be costed: the provider keeps a record
of each generation that appears a moment after it ends. ``cost_flow`` decides how to ask for it (how many
times, how far apart, which failures mean "not there yet") and what to fall back on; it does no I/O. It is a
generator in the shape of httpx's auth flows: it yields the steps to take, a ``Wait`` or a ``Send``, receives
the answer to each ``Send`` (a failure is thrown in at the ``yield``), and returns the ``CostInfo``. A
transport drives it with a few lines and keeps no policy of its own.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs

from minillm.core.errors import MalformedResponseError, MiniLLMError
from minillm.core.http import HTTPRequest, decode_json_body
from minillm.core.usage import CostInfo, TokenPrice, cost_info_from_usage

if TYPE_CHECKING:
    from minillm.core.flow import CompletionCall
    from minillm.core.providers.base import SupportsCostLookup
    from minillm.core.response import CompletionResponse

__all__ = [
    "COST_LOOKUP_ATTEMPTS",
    "COST_LOOKUP_INTERVAL",
    "COST_LOOKUP_TIMEOUT",
    "Answer",
    "CostLookup",
    "Flow",
    "Send",
    "Step",
    "Wait",
    "cost_flow",
]

COST_LOOKUP_ATTEMPTS = 10
"""How many times to ask for the cost of a completion that came without usage (OpenRouter ``/generation``)."""
COST_LOOKUP_INTERVAL = 1.0
"""Seconds to wait before each of those lookups (the record appears a moment after the completion)."""
COST_LOOKUP_TIMEOUT = 10.0
"""The timeout in seconds of each lookup request."""


@attrs.frozen
class Wait:
    """A step of a flow: wait ``seconds`` before going on (the transport answers with None)."""

    seconds: float


@attrs.frozen
class Send:
    """A step of a flow: send ``request`` within ``timeout`` seconds (None: the client's default) and answer
    with ``(status, headers, body)``, or throw in the ``MiniLLMError`` it failed with."""

    request: HTTPRequest
    timeout: float | None


_T = TypeVar("_T")

Answer = tuple[int, Mapping[str, str], bytes]
"""The answer to a ``Send``: status, headers and the whole body."""
Step = Wait | Send
"""What a flow asks its transport to do next."""
Flow = Generator[Step, Answer | None, _T]
"""A flow that returns a ``_T``: it yields ``Step``s and receives None after a ``Wait``, the ``Answer`` after a
``Send``."""


@attrs.frozen
class CostLookup:
    """An out-of-band cost query for a reply that carried no usage: send ``request`` up to ``attempts``
    times, ``interval`` seconds apart, until ``parse`` gives a cost."""

    request: HTTPRequest
    provider: SupportsCostLookup
    model: str
    response_id: str
    price: TokenPrice | None
    attempts: int = COST_LOOKUP_ATTEMPTS
    interval: float = COST_LOOKUP_INTERVAL
    timeout: float | None = COST_LOOKUP_TIMEOUT

    def parse(self, status: int, headers: Mapping[str, str], body: bytes) -> CostInfo | None:
        """The cost from one answer, or None when the record is not there yet (or the answer is unusable)."""
        if not 200 <= status < 300:
            return None
        try:
            usage = self.provider.parse_cost_lookup(decode_json_body(body))
        except MalformedResponseError:
            return None
        if usage is None:
            return None
        return cost_info_from_usage(usage, self.price, model=self.model, response_id=self.response_id)


def cost_flow(call: CompletionCall, response: CompletionResponse) -> Flow[CostInfo]:
    """The cost of ``response``: from its usage when it has some; else, where the wire can look it up, the
    lookup's answer, asked for up to ``attempts`` times after waiting ``interval`` seconds each time; else
    (nothing found, or no lookup on this wire) the cost from usage, which is ``UNKNOWN`` without usage.

    A lookup that fails (any ``MiniLLMError``: a timeout, a dropped connection, an error status) counts as
    "not there yet"; any other exception thrown in is a bug and propagates.
    """
    lookup = call.cost_lookup(response)
    if lookup is None:
        return call.cost_from_usage(response)
    for _ in range(lookup.attempts):
        yield Wait(lookup.interval)
        try:
            answer = yield Send(lookup.request, lookup.timeout)
            if answer is None:
                raise TypeError("a flow's Send must be answered with (status, headers, body), not None")
            found = lookup.parse(*answer)
        except MiniLLMError:
            continue
        if found is not None:
            return found
    return call.cost_from_usage(response)
