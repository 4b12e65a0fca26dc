"""The re-ask policy: judge each reply of a completion with a schema, and say what to send next.

The tree's network methods drive it: complete, hand the reply to ``after``, and complete again from the node
it returns, until it returns None (the reply is valid) or raises ``SchemaValidationError`` (the re-asks ran
out). Each re-ask is a user message under the failed reply, so the tree keeps the whole exchange as a branch:
``prompt → bad reply → correction → ... → valid reply``. A re-ask is a new completion, with its own transport
retries; a retried request is never a re-ask, and a re-ask never multiplies the retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from minillm.core.errors import InvalidParameterError, SchemaValidationError
from minillm.core.structured.outcome import OutputSchema, correction, judge

if TYPE_CHECKING:
    from minillm.core.fallback import FallbackGenerator
    from minillm.core.generator import GeneratorInfo
    from minillm.core.params import NodeCompletionParameters
    from minillm.core.response import CompletionResponse
    from minillm.core.seam import AsyncCompletionClient, SyncCompletionClient
    from minillm.core.tree import ChatNode
    from minillm.core.usage import CostInfo

__all__ = [
    "ERRORS_KEY",
    "REASK_KEY",
    "Reasks",
    "acomplete",
    "acomplete_costed",
    "add_costs",
    "append_structured",
    "complete",
    "complete_costed",
    "correction_node",
]

ERRORS_KEY = "schema_errors"
"""Metadata key of a reply that failed its schema: the validation errors (a list of strings)."""
REASK_KEY = "reask"
"""Metadata key of a correction message: which re-ask it is (1, 2, ...)."""


class Reasks:
    """The re-asks of one completion with ``schema``: at most ``max_reasks`` of them."""

    __slots__ = ("count", "max_reasks", "schema")

    def __init__(self, schema: OutputSchema, max_reasks: int) -> None:
        self.schema = schema
        self.max_reasks = max_reasks
        self.count = 0

    def after(self, reply: ChatNode) -> ChatNode | None:
        """Judge ``reply``. Valid: its ``parsed`` is set and None is returned. Invalid: its errors go in its
        metadata, and the correction message (a new user child of ``reply``) is returned to be completed; when
        no re-ask is left, ``SchemaValidationError`` carries the reply instead."""
        raw = reply.text or ""
        verdict = judge(self.schema, raw)
        if verdict.ok:
            reply._parsed = verdict.value
            return None
        reply.metadata[ERRORS_KEY] = list(verdict.errors)
        if self.count >= self.max_reasks:
            shown = "; ".join(verdict.errors[:3])
            asked = f"after {self.count} re-ask(s)" if self.count else "and no re-ask was allowed"
            raise SchemaValidationError(
                f"the reply did not match the schema {self.schema.name!r} {asked}: {shown}. The reply is kept in "
                "the tree (.node); raise max_reasks, simplify the schema, or use the best-effort .value",
                node=reply,
                raw=raw,
                value=verdict.value,
                errors=verdict.errors,
            )
        self.count += 1
        node = reply.add_user(correction(verdict.errors))
        node.metadata[REASK_KEY] = self.count
        return node


def add_costs(first: CostInfo, second: CostInfo) -> CostInfo:
    """The cost of two completions together (a reply and its re-ask): counts summed, the later one's model
    and id, and a resolution no better than the worse of the two (an unknown part makes the sum unknown)."""
    from minillm.core.usage import CostResolution

    order = [CostResolution.RESOLVED, CostResolution.UNPRICED, CostResolution.UNKNOWN]
    worse = max(first.resolution, second.resolution, key=order.index)
    reasoning = None
    if first.reasoning_tokens is not None or second.reasoning_tokens is not None:
        reasoning = (first.reasoning_tokens or 0) + (second.reasoning_tokens or 0)
    return attrs.evolve(
        second,
        cost=first.cost + second.cost,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        total_tokens=first.total_tokens + second.total_tokens,
        cache_read_tokens=first.cache_read_tokens + second.cache_read_tokens,
        cache_write_tokens=first.cache_write_tokens + second.cache_write_tokens,
        reasoning_tokens=reasoning,
        resolution=worse,
    )


def complete(
    transport: SyncCompletionClient,
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
) -> ChatNode:
    """``node.complete``: with a schema, complete, judge, and complete each correction until a reply is valid."""
    if params is None or params.schema is None:
        return transport.complete(node, generator, params)
    reasks = Reasks(params.schema, params.max_reasks)
    ask: ChatNode | None = node
    while ask is not None:
        reply = transport.complete(ask, generator, params)
        ask = reasks.after(reply)
    return reply


async def acomplete(
    transport: AsyncCompletionClient,
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
) -> ChatNode:
    """``complete``, awaited."""
    if params is None or params.schema is None:
        return await transport.acomplete(node, generator, params)
    reasks = Reasks(params.schema, params.max_reasks)
    ask: ChatNode | None = node
    while ask is not None:
        reply = await transport.acomplete(ask, generator, params)
        ask = reasks.after(reply)
    return reply


def complete_costed(
    transport: SyncCompletionClient,
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
) -> tuple[ChatNode, CostInfo]:
    """``complete``, with the cost of every request it made."""
    if params is None or params.schema is None:
        return transport.complete_costed(node, generator, params)
    reasks = Reasks(params.schema, params.max_reasks)
    ask: ChatNode | None = node
    total: CostInfo | None = None
    while ask is not None:
        reply, cost = transport.complete_costed(ask, generator, params)
        total = cost if total is None else add_costs(total, cost)
        ask = reasks.after(reply)
    assert total is not None
    return reply, total


async def acomplete_costed(
    transport: AsyncCompletionClient,
    node: ChatNode,
    generator: GeneratorInfo | FallbackGenerator,
    params: NodeCompletionParameters | None,
) -> tuple[ChatNode, CostInfo]:
    """``complete_costed``, awaited."""
    if params is None or params.schema is None:
        return await transport.acomplete_costed(node, generator, params)
    reasks = Reasks(params.schema, params.max_reasks)
    ask: ChatNode | None = node
    total: CostInfo | None = None
    while ask is not None:
        reply, cost = await transport.acomplete_costed(ask, generator, params)
        total = cost if total is None else add_costs(total, cost)
        ask = reasks.after(reply)
    assert total is not None
    return reply, total


def append_structured(node: ChatNode, response: CompletionResponse, params: NodeCompletionParameters) -> ChatNode:
    """``node.append_response(response, params)`` with a schema: add the reply and judge it, no re-ask."""
    from minillm.core.flow import structured_reply

    assert params.schema is not None
    reply = structured_reply(node, response, params, register=True)
    Reasks(params.schema, 0).after(reply)
    return reply


def correction_node(reply: ChatNode, params: NodeCompletionParameters) -> ChatNode:
    """The correction message under ``reply``, a reply that failed its schema (``node.reask``)."""
    errors = reply.metadata.get(ERRORS_KEY)
    if params.schema is None or not isinstance(errors, list) or not errors:
        what = "no schema errors" if params.schema is not None else "params without a schema"
        raise InvalidParameterError(
            "reask needs a reply that failed its schema (its metadata holds 'schema_errors') and the params "
            f"with that schema (with_schema); here there are {what}"
        )
    node = reply.add_user(correction(errors))
    node.metadata[REASK_KEY] = 1
    return node
