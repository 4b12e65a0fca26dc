"""The strict-mode transform, by property: any schema of the supported subset becomes one that OpenAI's strict
rules accept, and a value valid for the transformed schema maps back (``restore``) to a valid original.

OpenAI's strict rules (Structured Outputs guide, "Supported schemas", platform.openai.com/docs/guides/
structured-outputs), as ``minillm.testing.structured.strict_schema_problems`` checks them:

1. the root is an object, not an ``anyOf``;
2. every object has ``additionalProperties: false`` and lists all its properties in ``required`` (optional
   fields become required ones that may be ``null``);
3. only the supported keywords (``type``, ``properties``, ``required``, ``additionalProperties``, ``items``,
   ``anyOf``, ``enum``, ``const``, ``description``, ``title``, ``$ref``/``$defs``, ``pattern``, ``format``,
   ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``multipleOf``, ``minItems``,
   ``maxItems``); ``default``, ``minLength``, ``uniqueItems`` ... are refused;
4. ``format`` is one of date-time, time, date, duration, email, hostname, ipv4, ipv6, uuid;
5. every subschema says what it holds (a type, anyOf, enum, const or $ref);
6. at most 10 levels of nesting, 5000 properties and 1000 enum values in all.

The supported subset generated here: objects (some properties optional, ``additionalProperties`` false or
absent), arrays with ``items``, the scalar types, ``enum``, ``const``, ``anyOf`` whose branches hold different
kinds of JSON value, ``$ref`` to ``$defs``, ``oneOf``, a single ``allOf``, and keywords strict mode refuses
(which must move into the description).
"""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minillm.core.structured.strict import restore, to_strict
from minillm.testing.structured import strict_schema_problems

NAMES = st.sampled_from(["a", "b", "c", "d", "e"])
# Keywords strict mode refuses that do not constrain a value (so a valid strict value stays valid).
HARMLESS = st.fixed_dictionaries(
    {}, optional={"default": st.just(0), "examples": st.just([1]), "deprecated": st.just(False)}
)
# Keywords strict mode refuses that do constrain values (only for the rules property).
CONSTRAINING = st.fixed_dictionaries({}, optional={"minLength": st.just(1), "uniqueItems": st.just(True)})


def scalar(extra: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    base = st.one_of(
        st.just({"type": "string"}),
        st.just({"type": "string", "format": "date"}),
        st.just({"type": "string", "format": "uri"}),  # an unsupported format: moved
        st.builds(lambda m: {"type": "integer", "minimum": m}, st.integers(-5, 5)),
        st.just({"type": "number"}),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.just({"enum": ["x", "y"]}),
        st.just({"type": "string", "enum": ["p", "q"]}),
        st.just({"const": "fixed"}),
    )
    return st.builds(lambda b, e: {**b, **e}, base, extra)


def compound(
    children: st.SearchStrategy[dict[str, Any]], extra: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    def obj(props: dict[str, Any], required: list[str], closed: bool, e: dict[str, Any]) -> dict[str, Any]:
        out = {"type": "object", "properties": props, "required": [r for r in required if r in props], **e}
        if closed:
            out["additionalProperties"] = False
        return out

    objects = st.builds(
        obj,
        st.dictionaries(NAMES, children, min_size=1, max_size=3),
        st.lists(NAMES, unique=True),
        st.booleans(),
        extra,
    )
    arrays = st.builds(lambda item, e: {"type": "array", "items": item, **e}, children, extra)
    # anyOf branches of different kinds: an object, an array and a scalar.
    unions = st.builds(
        lambda o, a, s, key: {key: [o, a, s]},
        objects,
        arrays,
        st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "null"}]),
        st.sampled_from(["anyOf", "oneOf"]),
    )
    wrapped = st.builds(lambda o: {"allOf": [o]}, objects)
    return st.one_of(objects, arrays, unions, wrapped)


def schemas(extra: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    inner = st.recursive(scalar(extra), lambda c: compound(c, extra), max_leaves=6)

    def root(props: dict[str, Any], required: list[str], shared: dict[str, Any], use_ref: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": dict(props),
            "required": [r for r in required if r in props],
        }
        if use_ref:
            out["$defs"] = {"Shared": shared}
            out["properties"]["ref"] = {"$ref": "#/$defs/Shared"}
        return out

    shared = compound(inner, extra).filter(lambda s: s.get("type") == "object")
    return st.builds(
        root, st.dictionaries(NAMES, inner, min_size=1, max_size=4), st.lists(NAMES, unique=True), shared, st.booleans()
    )


def values_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for a strict-mode schema (every property present)."""
    if "anyOf" in schema:
        return st.one_of([values_for(s) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema["type"]
    if isinstance(kind, list):
        return st.one_of([values_for({**schema, "type": k}) for k in kind])
    if kind == "object":
        return st.fixed_dictionaries({k: values_for(v) for k, v in schema["properties"].items()})
    if kind == "array":
        return st.lists(values_for(schema["items"]), max_size=2)
    if kind == "integer":
        low = schema.get("minimum", -100)
        return st.integers(low, low + 100)
    if kind == "number":
        return st.floats(-1e6, 1e6, allow_nan=False)
    if kind == "string":
        return st.dates().map(str) if schema.get("format") == "date" else st.text(max_size=4)
    if kind == "boolean":
        return st.booleans()
    return st.none()


PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(schemas(st.one_of(HARMLESS, CONSTRAINING)))
def test_the_transform_keeps_openais_strict_rules(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    strict = to_strict(schema)
    assert strict is not None
    assert strict_schema_problems(strict) == []


@PROPERTY_SETTINGS
@given(st.data(), schemas(HARMLESS))
def test_a_value_valid_for_the_strict_schema_maps_back_to_a_valid_original(
    data: st.DataObject, schema: dict[str, Any]
) -> None:
    strict = to_strict(schema)
    assert strict is not None
    value = data.draw(values_for(strict))
    jsonschema.validate(value, strict)  # the generator is right about the strict schema
    jsonschema.validate(restore(value, schema), schema)


def test_an_optional_property_becomes_required_and_nullable() -> None:
    strict = to_strict(
        {
            "type": "object",
            "properties": {"a": {"type": "integer", "minLength": 2, "description": "count"}, "b": {"enum": [1, 2]}},
            "required": ["b"],
        }
    )
    assert strict == {
        "type": "object",
        "properties": {
            "a": {"type": ["integer", "null"], "description": "count (minLength: 2)"},
            "b": {"enum": [1, 2]},
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    assert restore({"a": None, "b": 1}, {"type": "object", "properties": {"a": {"type": "integer"}}}) == {"b": 1}


def test_schemas_without_a_strict_form() -> None:
    free_map = {"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "integer"}}}}
    recursive = {
        "type": "object",
        "properties": {"next": {"$ref": "#"}},
    }
    anything = {"type": "object", "properties": {"x": {}}}
    array_root = {"type": "array", "items": {"type": "string"}}
    for schema in (free_map, recursive, anything, array_root):
        assert to_strict(schema) is None
