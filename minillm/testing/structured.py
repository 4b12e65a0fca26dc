"""Structured-output replies for the test server: answer a request that carries a schema the way its wire
would, and refuse a strict schema the way OpenAI does.

``Reply.json(value)`` answers with ``value`` as the reply's JSON: as the text on OpenAI-dialect wires and for
Anthropic's ``output_config.format``, as the input of the forced tool when an Anthropic request forces one
(``tool_choice`` naming a tool). A request whose ``response_format`` asks for ``strict: true`` with a schema that
breaks strict mode's rules is answered 400, as OpenAI answers it, whatever the scripted value.

``strict_schema_problems`` writes those rules down, from OpenAI's Structured Outputs guide ("Supported
schemas", platform.openai.com/docs/guides/structured-outputs):

1. The root is an object (``"type": "object"``), not an ``anyOf``.
2. Every object sets ``"additionalProperties": false`` and lists every one of its properties in ``required``
   (an optional field is written as a required one whose type allows ``null``).
3. Only these keywords: ``type``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``anyOf``,
   ``enum``, ``const``, ``description``, ``title``, ``$ref`` / ``$defs``, and the type-specific ``pattern``,
   ``format``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``multipleOf``,
   ``minItems``, ``maxItems``. (``allOf``, ``not``, ``oneOf``, ``if``/``then``/``else``, ``default``,
   ``minLength`` / ``maxLength``, ``patternProperties``, ``uniqueItems`` ... are refused.)
4. ``format`` is one of ``date-time``, ``time``, ``date``, ``duration``, ``email``, ``hostname``, ``ipv4``,
   ``ipv6``, ``uuid``.
5. Every subschema says what it holds: a ``type``, an ``anyOf``, an ``enum``, a ``const`` or a ``$ref``.
6. At most 10 levels of object nesting, 5000 properties in all and 1000 enum values in all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from minillm.testing.replies import Reply, ResponsePlan, TextReply
from minillm.testing.request import RecordedRequest, Wire

__all__ = ["JSONReply", "request_schema", "strict_schema_problems"]

_ALLOWED = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
        "description", "title", "$ref", "$defs", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    }
)  # fmt: skip
_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})


def strict_schema_problems(schema: Any) -> list[str]:
    """What keeps ``schema`` from being a valid strict-mode schema (the rules above); ``[]`` when nothing."""
    problems: list[str] = []
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        return ["the root schema must be an object ('type': 'object'), not anyOf or another type"]
    counts = {"properties": 0, "enum": 0}
    stack: list[tuple[Any, str, int]] = [(schema, "#", 0)]
    while stack:
        node, where, depth = stack.pop()
        if not isinstance(node, Mapping):
            problems.append(f"{where}: a schema must be an object")
            continue
        for key in node:
            if key not in _ALLOWED:
                problems.append(f"{where}: '{key}' is not permitted")
        if "format" in node and node["format"] not in _FORMATS:
            problems.append(f"{where}: format {node['format']!r} is not supported")
        if not any(k in node for k in ("type", "anyOf", "enum", "const", "$ref")):
            problems.append(f"{where}: the schema must have a 'type' (or anyOf, enum, const, $ref)")
        kind = node.get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if "enum" in node:
            counts["enum"] += len(node["enum"]) if isinstance(node["enum"], list) else 0
        if "object" in kinds or "properties" in node:
            if depth >= 10:
                problems.append(f"{where}: objects nest more than 10 levels deep")
            properties = node.get("properties")
            if not isinstance(properties, Mapping):
                problems.append(f"{where}: an object must list its properties")
                properties = {}
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}: 'additionalProperties' is required to be supplied and to be false")
            missing = [name for name in properties if name not in (node.get("required") or ())]
            if missing:
                problems.append(f"{where}: 'required' must list every property; missing {missing}")
            counts["properties"] += len(properties)
            stack.extend((sub, f"{where}/properties/{name}", depth + 1) for name, sub in properties.items())
        if "array" in kinds and "items" in node:
            stack.append((node["items"], f"{where}/items", depth))
        for i, sub in enumerate(node.get("anyOf") or ()):
            stack.append((sub, f"{where}/anyOf/{i}", depth))
        for name, sub in (node.get("$defs") or {}).items():
            stack.append((sub, f"{where}/$defs/{name}", depth))
    if counts["properties"] > 5000:
        problems.append("more than 5000 object properties in all")
    if counts["enum"] > 1000:
        problems.append("more than 1000 enum values in all")
    return problems


def request_schema(request: RecordedRequest) -> tuple[str, dict[str, Any], bool] | None:
    """``(how, schema, strict)`` of the reply schema a request carries: ``how`` is ``"response_format"``,
    ``"tool"`` (an Anthropic forced tool, its name in the schema's place) or ``"output_config"``; None
    when it carries none."""
    body = request.json if isinstance(request.json, dict) else {}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        inner = fmt["json_schema"]
        return "response_format", inner.get("schema") or {}, inner.get("strict") is True
    config = body.get("output_config")
    if isinstance(config, dict) and isinstance(config.get("format"), dict):
        return "output_config", config["format"].get("schema") or {}, True
    choice = body.get("tool_choice")
    if request.wire is Wire.ANTHROPIC and isinstance(choice, dict) and choice.get("type") == "tool":
        for tool in body.get("tools") or ():
            if isinstance(tool, dict) and tool.get("name") == choice.get("name"):
                return "tool", tool.get("input_schema") or {}, False
    return None


@attrs.frozen(kw_only=True)
class JSONReply(Reply):
    """A reply whose JSON is ``value`` (a str is sent as it is: broken JSON, prose), shaped for the request's
    wire and schema (see the module docstring). ``chunk_size`` as in ``Reply.text``."""

    value: Any = None
    chunk_size: int = 8

    def render(self, request: RecordedRequest, *, sequence: int) -> ResponsePlan:
        text = self.value if isinstance(self.value, str) else json.dumps(self.value, ensure_ascii=False)
        found = request_schema(request)
        if found is not None and found[0] == "response_format" and found[2]:
            problems = strict_schema_problems(found[1])
            if problems:
                name = request.json["response_format"]["json_schema"].get("name", "")
                message = f"Invalid schema for response_format '{name}': {problems[0]}"
                return Reply.error(400, message).render(request, sequence=sequence)
        reply = TextReply(
            content=text,
            chunk_size=self.chunk_size,
            delay=self.delay,
            headers=self.headers,
            drop_after_bytes=self.drop_after_bytes,
        )
        if found is not None and found[0] == "tool":
            tool_name = request.json["tool_choice"]["name"]
            reply = attrs.evolve(reply, content="", tool_calls=[(f"toolu_{sequence:04d}", tool_name, text)])
        return reply.render(request, sequence=sequence)
