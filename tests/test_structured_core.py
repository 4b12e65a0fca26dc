"""The pure parts of structured output: schema sources, validation messages, the repair before validation,
the re-ask message, and partial values of a JSON text that arrives in pieces."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import sys
from typing import Any, Literal, TypedDict

import attrs
import pydantic
import pytest

from minillm import ConfigurationError, InvalidParameterError, NodeCompletionParameters, OutputSchema
from minillm.core.stream import StreamChunk, ToolCallDelta
from minillm.core.structured import PartialValues, correction, judge
from minillm.core.structured.partial import PartialJSON


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.define
class Stop:
    name: str = attrs.field(metadata={"description": "the place"})
    on: datetime.date | None = None


@attrs.define
class Route:
    """A route through stops."""

    stops: list[Stop]
    color: Color
    mode: Literal["walk", "bus"] = "walk"
    tags: dict[str, int] = attrs.Factory(dict)


def test_an_attrs_class_becomes_json_schema_with_defs() -> None:
    schema = OutputSchema.of(Route).json_schema
    assert schema["description"] == "A route through stops."
    assert schema["required"] == ["stops", "color"]
    assert schema["properties"]["stops"] == {"type": "array", "items": {"$ref": "#/$defs/Stop"}}
    assert schema["properties"]["color"] == {"enum": ["red", "blue"]}
    assert schema["properties"]["mode"] == {"enum": ["walk", "bus"]}
    assert schema["$defs"]["Stop"]["properties"]["name"] == {"type": "string", "description": "the place"}
    on = schema["$defs"]["Stop"]["properties"]["on"]
    assert on == {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}


def test_an_attrs_value_is_built_with_nested_classes_enums_and_dates() -> None:
    verdict = judge(OutputSchema.of(Route), '{"stops": [{"name": "A", "on": "2026-12-03"}], "color": "red"}')
    assert verdict.ok
    assert verdict.value == Route([Stop("A", datetime.date(2026, 12, 3))], Color.RED)


def test_validation_errors_name_the_path_and_stay_strict_about_types() -> None:
    verdict = judge(OutputSchema.of(Route), '{"stops": [{"name": 7}], "color": "green", "mode": "car"}')
    assert not verdict.ok
    assert "$.stops[0].name: expected a string, got a number" in verdict.errors
    assert any(e.startswith("$.color:") for e in verdict.errors)
    assert verdict.value == {"stops": [{"name": 7}], "color": "green", "mode": "car"}  # the best-effort parse


def test_a_dataclass_and_a_typeddict() -> None:
    @dataclasses.dataclass
    class Point:
        x: float
        y: float = 0.0

    class Pair(TypedDict):
        left: int
        right: str

    assert judge(OutputSchema.of(Point), '{"x": 1}').value == Point(1.0)
    assert OutputSchema.of(Point).json_schema["required"] == ["x"]
    assert judge(OutputSchema.of(Pair), '{"left": 1, "right": "r"}').value == {"left": 1, "right": "r"}
    assert judge(OutputSchema.of(Pair), '{"left": true, "right": "r"}').errors == (
        "$.left: expected an integer, got a boolean",
    )


def test_a_pydantic_model_uses_its_own_schema_and_validation() -> None:
    class Item(pydantic.BaseModel):
        name: str
        qty: int = pydantic.Field(ge=1)

    schema = OutputSchema.of(Item)
    assert schema.json_schema == Item.model_json_schema()
    assert judge(schema, '{"name": "pen", "qty": 2}').value == Item(name="pen", qty=2)
    errors = judge(schema, '{"name": "pen", "qty": 0}').errors
    assert len(errors) == 1 and errors[0].startswith("$.qty: Input should be greater than or equal to 1")
    assert schema.strict_schema is not None
    assert schema.strict_schema["properties"]["qty"] == {"type": "integer", "minimum": 1, "title": "Qty"}


def test_a_dict_schema_is_validated_with_jsonschema() -> None:
    schema = OutputSchema.of({"title": "My list!", "type": "array", "items": {"type": "integer"}})
    assert schema.name == "My_list" and schema.wrapped
    assert schema.object_schema["properties"]["value"]["type"] == "array"
    assert judge(schema, '{"value": [1, 2]}').value == [1, 2]
    assert judge(schema, "[1, 2]").value == [1, 2]  # the bare value is accepted too
    assert judge(schema, '{"value": [1, "x"]}').errors == ("$[1]: 'x' is not of type 'integer'",)


def test_a_dict_schema_without_jsonschema_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(ConfigurationError, match=r"minillm-sdk\[schema\]"):
        NodeCompletionParameters().with_schema({"type": "object", "properties": {}})


def test_sources_that_are_not_schemas_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="with_schema takes"):
        NodeCompletionParameters().with_schema(int)
    with pytest.raises(InvalidParameterError, match="invalid JSON Schema"):
        NodeCompletionParameters().with_schema({"type": 12})
    assert NodeCompletionParameters().with_schema(Route).with_schema(None).schema is None
    with pytest.raises(InvalidParameterError, match="max_reasks"):
        NodeCompletionParameters().with_schema(Route, max_reasks=-1)


def test_a_reply_that_is_not_an_object_says_so() -> None:
    assert judge(OutputSchema.of(Stop), "[1, 2]").errors == ("$: expected an object, got an array",)
    assert judge(OutputSchema.of(Stop), "null").errors == ("$: expected an object, got null",)


def test_replies_go_through_the_json_repair() -> None:
    schema = OutputSchema.of(Stop)
    assert judge(schema, "Here you go: {'name': 'A',}").value == Stop("A")
    assert judge(schema, "no json here").errors == ("$: the reply holds no JSON value; reply with the JSON only",)
    assert judge(schema, "[" * 600).errors[0].startswith("$: the reply is not JSON")


def test_a_null_for_an_optional_field_that_is_not_nullable_is_dropped() -> None:
    @attrs.define
    class Opt:
        a: int = 5

    assert judge(OutputSchema.of(Opt), '{"a": null}').value == Opt(5)


def test_the_correction_lists_each_error() -> None:
    text = correction(["$.a: bad", "$.b: worse"])
    assert text.splitlines()[1:3] == ["- $.a: bad", "- $.b: worse"]
    assert text.endswith("Reply again with only the corrected JSON.")


# ----- partial values -----------------------------------------------------------------------------------


def feed_all(pieces: list[str]) -> list[Any]:
    partial = PartialJSON()
    out: list[Any] = []
    for piece in pieces:
        out += partial.feed(piece)
    return out


TEXT = 'Sure: {"city": "Pa\\"ris", "days": 12, "tags": ["a", {"x": true}], "none": null, "f": -1.5e3} trailing'


def test_partial_values_grow_and_end_with_the_whole_value() -> None:
    values = feed_all(list(TEXT))
    assert values[-1] == {"city": 'Pa"ris', "days": 12, "tags": ["a", {"x": True}], "none": None, "f": -1500.0}
    assert {"city": "Pa"} in values
    assert {"city": 'Pa"ris'} in values
    # A number is only shown once it is complete.
    assert all(v.get("days") in (None, 12) for v in values)
    assert all(values[i] != values[i + 1] for i in range(len(values) - 1))


@pytest.mark.parametrize("cut", range(len(TEXT) + 1))
def test_partial_values_do_not_depend_on_where_the_text_is_split(cut: int) -> None:
    values = feed_all([TEXT[:cut], TEXT[cut:]])
    assert values[-1] == feed_all([TEXT])[-1]


def test_text_that_is_not_strict_json_falls_back_to_the_repair() -> None:
    values = feed_all(list("{'a': 1, 'b': [1 2]}"))
    assert values[-1] == {"a": 1, "b": [1, 2]}


def test_partial_values_read_the_forced_tool_arguments() -> None:
    schema = OutputSchema.of(Stop)
    reader = PartialValues(schema)
    first = StreamChunk(tool_calls=(ToolCallDelta(0, id="t", name="Stop"),))
    assert reader.feed(first) == []
    assert reader.feed(StreamChunk(tool_calls=(ToolCallDelta(0, arguments_fragment='{"name": "Ro'),))) == [
        {"name": "Ro"}
    ]
    assert reader.feed(StreamChunk(delta="ignored prose")) == []


@attrs.define
class TreeNode:
    name: str
    children: list[TreeNode] = attrs.Factory(list)


def test_a_recursive_class_has_no_strict_form_but_validates_at_every_depth() -> None:
    schema = OutputSchema.of(TreeNode)
    assert schema.strict_schema is None
    assert schema.json_schema["$defs"]["TreeNode"]["properties"]["children"]["items"] == {"$ref": "#/$defs/TreeNode"}
    deep = '{"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}'
    assert judge(schema, deep).errors == ("$.children[0].children[0].name: expected a string, got a number",)
    assert judge(schema, '{"name": "a", "children": [{"name": "b"}]}').value == TreeNode("a", [TreeNode("b")])


def test_classes_whose_hints_cannot_be_read_are_refused_clearly() -> None:
    @attrs.define
    class Inner:
        x: int

    @attrs.define
    class Outer:
        inner: Inner

    with pytest.raises(InvalidParameterError, match="define the classes it uses at module level"):
        OutputSchema.of(Outer)
