"""OpenAI's strict mode: a schema made acceptable to it, and a reply mapped back to the original schema.

OpenAI (and OpenRouter, passing it on) constrain a reply to a schema only when the schema keeps strict
mode's rules: every object lists all its properties in ``required`` and sets ``additionalProperties: false``;
only a subset of keywords is allowed; the root is an object. ``to_strict`` rewrites a schema that way:

- a property that was optional becomes required but nullable (its type gains ``null``);
- ``additionalProperties: false`` is set on every object;
- ``$ref`` is inlined (and ``allOf`` of one schema merged), ``oneOf`` becomes ``anyOf``;
- keywords strict mode does not take (``minLength``, ``default``, ``uniqueItems`` ...) move into the
  ``description``, where the model still reads them.

Some schemas have no strict form: a free-form object (``dict[str, int]``, ``additionalProperties`` a schema),
an array without ``items``, an empty schema (any value), a recursive ``$ref``, or one past OpenAI's size
limits. ``to_strict`` returns None for those, and the wire sends the schema with ``strict: false``.

The original schema is what replies are validated against: ``restore`` removes the ``null`` a model wrote for
an optional property that the original does not let be null, so a reply valid for the strict schema is valid
for the original (moved keywords aside: those the validation still checks, and a re-ask corrects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["STRICT_KEYWORDS", "SUPPORTED_FORMATS", "accepts_null", "restore", "to_strict"]

STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
        "description", "title", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    }
)  # fmt: skip
"""The keywords strict mode accepts (``$defs`` / ``$ref`` too, which ``to_strict`` inlines)."""
SUPPORTED_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
_MAX_DEPTH = 10
_MAX_PROPERTIES = 5000
_MAX_ENUM_VALUES = 1000
_IGNORED = frozenset({"$schema", "$id", "$defs", "definitions", "$comment"})


class _NoStrictForm(Exception):
    """The schema cannot be written in strict mode's subset."""


def to_strict(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The strict-mode form of ``schema`` (an object at the root), or None when it has none."""
    counts = {"properties": 0, "enum": 0}
    try:
        out = _node(schema, schema, (), 0, counts)
    except _NoStrictForm:
        return None
    if out.get("type") != "object" or counts["properties"] > _MAX_PROPERTIES or counts["enum"] > _MAX_ENUM_VALUES:
        return None
    return out


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise _NoStrictForm
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise _NoStrictForm
        node = node[part]
    if not isinstance(node, Mapping):
        raise _NoStrictForm
    return node


def _flatten(
    node: Mapping[str, Any], root: Mapping[str, Any], refs: tuple[str, ...]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``node`` with its ``$ref`` and single ``allOf`` merged in (the node's own keywords win)."""
    out = dict(node)
    while True:
        if "$ref" in out:
            ref = out.pop("$ref")
            if ref in refs:
                raise _NoStrictForm  # recursive
            refs = (*refs, ref)
            out = {**_resolve(ref, root), **out}
        elif "allOf" in out and isinstance(out["allOf"], list) and len(out["allOf"]) == 1:
            (only,) = out.pop("allOf")
            out = {**only, **out}
        else:
            return out, refs


def _node(
    node: Mapping[str, Any], root: Mapping[str, Any], refs: tuple[str, ...], depth: int, counts: dict[str, int]
) -> dict[str, Any]:
    if depth > _MAX_DEPTH or not isinstance(node, Mapping):
        raise _NoStrictForm
    flat, refs = _flatten(node, root, refs)
    if "oneOf" in flat and "anyOf" not in flat:
        flat["anyOf"] = flat.pop("oneOf")
    out: dict[str, Any] = {}
    moved: list[str] = []
    for key, value in flat.items():
        if key in _IGNORED:
            continue
        if key == "format" and value not in SUPPORTED_FORMATS:
            moved.append(f"format: {value}")
        elif key not in STRICT_KEYWORDS:
            moved.append(f"{key}: {json.dumps(value, ensure_ascii=False, default=str)}")
        else:
            out[key] = value
    kind = out.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "anyOf" in out:
        if not isinstance(out["anyOf"], list) or not out["anyOf"]:
            raise _NoStrictForm
        out["anyOf"] = [_node(s, root, refs, depth + 1, counts) for s in out["anyOf"]]
    elif "object" in kinds or "properties" in out:
        _object(out, root, refs, depth, counts)
    elif "array" in kinds:
        if not isinstance(out.get("items"), Mapping):
            raise _NoStrictForm
        out["items"] = _node(out["items"], root, refs, depth + 1, counts)
    elif kind is None and "enum" not in out and "const" not in out:
        raise _NoStrictForm  # any value: strict mode has no way to say it
    if "enum" in out:
        counts["enum"] += len(out["enum"])
    if moved:
        note = "; ".join(moved)
        described = out.get("description")
        out["description"] = f"{described} ({note})" if isinstance(described, str) and described else note
    return out


def _object(
    out: dict[str, Any], root: Mapping[str, Any], refs: tuple[str, ...], depth: int, counts: dict[str, int]
) -> None:
    properties = out.get("properties")
    extra = out.get("additionalProperties")
    if not isinstance(properties, Mapping) or not properties or (extra is not None and extra is not False):
        raise _NoStrictForm  # a free-form object (a map): strict mode needs every key named
    required = set(out.get("required") or ())
    counts["properties"] += len(properties)
    new: dict[str, Any] = {}
    for name, sub in properties.items():
        converted = _node(sub, root, refs, depth + 1, counts)
        new[name] = converted if name in required else nullable(converted)
    out["type"] = "object"
    out["properties"] = new
    out["required"] = list(new)
    out["additionalProperties"] = False


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts ``null``."""
    if accepts_null(schema, {}):
        return schema
    out = dict(schema)
    if "const" in out:
        return {"anyOf": [out, {"type": "null"}]}
    if "anyOf" in out:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
        return out
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        kind = out["type"]
        out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
        return out
    if "enum" in out:
        return out
    return {"anyOf": [out, {"type": "null"}]}


def accepts_null(schema: Any, root: Mapping[str, Any]) -> bool:
    """Whether ``schema`` lets a value be null (an unreadable schema counts as yes: nothing is removed)."""
    if not isinstance(schema, Mapping):
        return True
    try:
        flat, _ = _flatten(schema, root, ())
    except _NoStrictForm:
        return True
    if any(k in flat for k in ("anyOf", "oneOf")):
        return any(accepts_null(s, root) for s in flat.get("anyOf", flat.get("oneOf")) or ())
    if "const" in flat:
        return flat["const"] is None
    if "enum" in flat and None not in flat["enum"]:
        return False
    kind = flat.get("type")
    if kind is None:
        return True
    return "null" in kind if isinstance(kind, list) else kind == "null"


def restore(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """``value`` (valid for the strict form of ``schema``) with the nulls of optional properties that
    ``schema`` does not let be null removed, at every depth the schema describes. Works on a copy. It recurses
    once per level of the value, which the JSON parser bounds (512 levels)."""
    root = schema if root is None else root
    try:
        flat, _ = _flatten(schema, root, ())
    except _NoStrictForm:
        return value
    branches = flat.get("anyOf", flat.get("oneOf"))
    if isinstance(branches, list):
        for branch in branches:
            if _fits(value, branch, root):
                return restore(value, branch, root)
        return value
    if isinstance(value, dict):
        properties = flat.get("properties")
        if not isinstance(properties, Mapping):
            return value
        required = set(flat.get("required") or ())
        out = {}
        for key, item in value.items():
            sub = properties.get(key)
            if item is None and key not in required and sub is not None and not accepts_null(sub, root):
                continue
            out[key] = item if sub is None else restore(item, sub, root)
        return out
    if isinstance(value, list) and isinstance(flat.get("items"), Mapping):
        return [restore(item, flat["items"], root) for item in value]
    return value


def _fits(value: Any, schema: Any, root: Mapping[str, Any]) -> bool:
    """A rough test of which ``anyOf`` branch a value was written for: its JSON kind, and for an object,
    every key being one of the branch's properties."""
    try:
        flat, _ = _flatten(schema, root, ()) if isinstance(schema, Mapping) else ({}, ())
    except _NoStrictForm:
        return False
    kind = flat.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if isinstance(value, dict):
        properties = flat.get("properties")
        return ("object" in kinds or properties is not None) and (
            not isinstance(properties, Mapping) or all(k in properties for k in value)
        )
    if isinstance(value, list):
        return "array" in kinds
    if value is None:
        return accepts_null(flat, root)
    return "object" not in kinds and "array" not in kinds
