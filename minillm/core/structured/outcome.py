"""The schema a request carries, and what becomes of a reply to it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import JSONRepairError
from minillm.core.jsonfix import loads, repair_json
from minillm.core.structured.partial import PartialJSON
from minillm.core.structured.sources import Validator, describe_source, schema_and_validator
from minillm.core.structured.strict import restore, to_strict

if TYPE_CHECKING:
    from minillm.core.response import CompletionResponse
    from minillm.core.stream import StreamChunk
    from minillm.core.tools import ToolCall

__all__ = ["OutputSchema", "PartialValues", "Verdict", "correction", "judge", "prompt_instruction", "reply_text"]

_WRAP_KEY = "value"


@attrs.frozen(eq=False, repr=False)
class OutputSchema:
    """A reply schema, ready for every wire: made once by ``with_schema`` from its source.

    ``json_schema`` is the source's JSON Schema (what replies are validated against); ``object_schema`` is
    the same with a non-object root wrapped as ``{"value": ...}`` (wires want an object at the root);
    ``strict_schema`` is its strict-mode form, or None when it has none (see ``minillm.core.structured.strict``).
    """

    name: str
    source: object
    json_schema: dict[str, Any]
    object_schema: dict[str, Any]
    strict_schema: dict[str, Any] | None
    wrapped: bool
    _validate: Validator

    @classmethod
    def of(cls, source: object) -> OutputSchema:
        """The schema for a JSON Schema dict, a dataclass, an attrs class, a TypedDict or a pydantic v2 model."""
        if isinstance(source, OutputSchema):
            return source
        name, schema, validate = schema_and_validator(source)
        wrapped = schema.get("type") != "object" and "properties" not in schema and "$ref" not in schema
        obj: dict[str, Any] = schema
        if wrapped:
            defs: dict[str, Any] = {k: schema[k] for k in ("$defs", "definitions") if k in schema}
            inner = {k: v for k, v in schema.items() if k not in defs}
            obj = {"type": "object", "properties": {_WRAP_KEY: inner}, "required": [_WRAP_KEY], **defs}
        return cls(name, source, schema, obj, to_strict(obj), wrapped, validate)

    @property
    def tool_name(self) -> str:
        """The name of the tool a forced-tool wire (Anthropic) asks the model to call."""
        return self.name

    def validate(self, value: Any) -> tuple[Any, list[str]]:
        """``(converted value, [])`` for a valid JSON value, else ``(value, errors)``."""
        if self.wrapped:
            if not isinstance(value, dict) or _WRAP_KEY not in value:
                return value, [f"$: expected an object with the key {_WRAP_KEY!r}"]
            value = value[_WRAP_KEY]
        return self._validate(restore(value, self.json_schema))

    def __repr__(self) -> str:
        return f"OutputSchema({describe_source(self.source)}, name={self.name!r})"


@attrs.frozen
class Verdict:
    """What one reply held: the converted ``value`` when ``errors`` is empty, else the best-effort parse."""

    value: Any
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def reply_text(response: CompletionResponse, schema: OutputSchema) -> tuple[str, tuple[ToolCall, ...]]:
    """The reply's JSON text and its remaining tool calls: a call to the schema's forced tool is the reply
    (its arguments are the text); otherwise the text is the content."""
    calls = tuple(response.tool_calls or ())
    for call in calls:
        if call.name == schema.tool_name:
            return call.arguments, tuple(c for c in calls if c is not call)
    return response.content, calls


def repaired(text: str) -> str:
    """``text`` as compact JSON when it can be repaired into a value, else unchanged."""
    try:
        fixed = repair_json(text)
    except JSONRepairError:
        return text
    return fixed or text


def judge(schema: OutputSchema, text: str) -> Verdict:
    """Parse ``text`` (repairing it as ``parse_json`` does) and validate it against ``schema``."""
    try:
        value = loads(text)
    except JSONRepairError as e:
        return Verdict(None, (f"$: the reply is not JSON ({e})",))
    if value == "" and text.strip() not in ('""', "''"):
        return Verdict(None, ("$: the reply holds no JSON value; reply with the JSON only",))
    if schema.wrapped and not (isinstance(value, dict) and _WRAP_KEY in value):
        value = {_WRAP_KEY: value}  # a bare value where the wrapper object was asked for is still the value
    converted, errors = schema.validate(value)
    return Verdict(converted if not errors else value, tuple(errors))


def correction(errors: tuple[str, ...] | list[str]) -> str:
    """The user message a re-ask sends: the validation errors (path and message), then what to do."""
    lines = "\n".join(f"- {e}" for e in errors)
    return f"Your reply did not match the required JSON schema:\n{lines}\nReply again with only the corrected JSON."


def prompt_instruction(schema: OutputSchema) -> str:
    """The system-prompt text that asks for the schema on a wire that cannot constrain the reply."""
    shown = json.dumps(schema.object_schema, ensure_ascii=False, separators=(",", ":"))
    return "Reply with only a JSON value, no prose and no code fence, that matches this JSON Schema:\n" + shown


class PartialValues:
    """A stream's partial JSON values, from its chunks: the text deltas, or the arguments of the schema's
    forced tool call when the wire answers through a tool."""

    __slots__ = ("_index", "_json", "_tool_name")

    def __init__(self, schema: OutputSchema | None) -> None:
        self._json = PartialJSON()
        self._tool_name = None if schema is None else schema.tool_name
        self._index: int | None = None

    def feed(self, chunk: StreamChunk) -> list[Any]:
        """The new partial value after ``chunk`` (``[value]``), or ``[]`` when it did not change."""
        out: list[Any] = []
        for delta in chunk.tool_calls or ():
            if delta.name is not None and delta.name == self._tool_name:
                self._index = delta.index
            if delta.index == self._index and delta.arguments_fragment:
                out = self._json.feed(delta.arguments_fragment) or out
        if chunk.delta and self._index is None:
            out = self._json.feed(chunk.delta) or out
        return out
