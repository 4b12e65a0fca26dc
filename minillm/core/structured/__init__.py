"""Structured output: a schema in, a validated value out.

``OutputSchema.of(source)`` turns what ``with_schema`` accepts into the schemas each wire sends and the
validator replies go through; ``judge`` reads one reply; ``correction`` is the re-ask message; ``PartialValues``
gives a stream's partial values. All pure: the tree runs the re-asks, the wires put the schema in the body.
"""

from minillm.core.structured.outcome import (
    OutputSchema,
    PartialValues,
    Verdict,
    correction,
    judge,
    prompt_instruction,
    reply_text,
)

__all__ = ["OutputSchema", "PartialValues", "Verdict", "correction", "judge", "prompt_instruction", "reply_text"]
