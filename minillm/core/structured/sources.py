"""Schema sources: a JSON Schema and a validator for each kind of thing ``with_schema`` accepts.

An attrs class, a dataclass or a TypedDict gets a JSON Schema written here from its type hints, and is
validated and built by cattrs with strict primitives (a JSON string is not an int). A pydantic v2 model
brings its own schema (``model_json_schema``) and validation (``model_validate``); pydantic is only touched
when such a model is passed. A JSON Schema dict is validated with the ``jsonschema`` package, an optional
extra (``pip install 'minillm-sdk[schema]'``).

A validator takes a JSON value and returns ``(value, errors)``: the converted value and no errors, or the
best-effort value and a list of short ``"<path>: <message>"`` strings.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from minillm.core.errors import ConfigurationError, InvalidParameterError

__all__ = ["Validator", "describe_source", "schema_and_validator"]

Validator = Callable[[Any], "tuple[Any, list[str]]"]

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_PRIMITIVES: dict[type, dict[str, Any]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): {"type": "null"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
}
# At most this many validation errors are reported (and sent back to the model).
MAX_ERRORS = 8


def safe_name(name: str) -> str:
    """A schema name the wires accept: letters, digits, ``_`` and ``-``, at most 64 characters."""
    cleaned = _NAME_CHARS.sub("_", name).strip("_")[:64]
    return cleaned or "response"


def describe_source(source: object) -> str:
    return source.__name__ if isinstance(source, type) else type(source).__name__


def _is_pydantic_model(source: object) -> bool:
    return (
        isinstance(source, type)
        and callable(getattr(source, "model_json_schema", None))
        and callable(getattr(source, "model_validate", None))
    )


def _is_typeddict(source: object) -> bool:
    return isinstance(source, type) and issubclass(source, dict) and hasattr(source, "__required_keys__")


def _is_record(tp: object) -> bool:
    return isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp) or _is_typeddict(tp))


def schema_and_validator(source: object) -> tuple[str, dict[str, Any], Validator]:
    """``(name, json_schema, validator)`` for a schema source; ``InvalidParameterError`` for anything else."""
    if isinstance(source, Mapping):
        schema = _copy_json(source)
        title = schema.get("title")
        return safe_name(title if isinstance(title, str) else "response"), schema, _dict_validator(schema)
    if _is_pydantic_model(source):
        assert isinstance(source, type)
        schema = source.model_json_schema()  # type: ignore[attr-defined]
        return safe_name(source.__name__), schema, _pydantic_validator(source)
    if _is_record(source):
        assert isinstance(source, type)
        return safe_name(source.__name__), _record_root_schema(source), _cattrs_validator(source)
    raise InvalidParameterError(
        f"with_schema takes a JSON Schema dict, a dataclass, an attrs class, a TypedDict or a pydantic model, "
        f"not {describe_source(source)!r}"
    )


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-like data (mappings become dicts, sequences lists), so later edits by the caller
    do not reach the parameters."""
    if isinstance(value, Mapping):
        return {str(k): _copy_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy_json(v) for v in value]
    return value


# ----- JSON Schema for attrs classes, dataclasses and TypedDicts -----------------------------------------


def _record_root_schema(cls: type) -> dict[str, Any]:
    defs: dict[str, dict[str, Any]] = {}
    root = _record_schema(cls, defs)
    if defs:
        root["$defs"] = defs
    return root


def _description(cls: type) -> str | None:
    doc = cls.__doc__
    if not doc or doc.startswith(cls.__name__ + "("):  # a dataclass's generated signature says nothing new
        return None
    return " ".join(doc.split())


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except NameError as e:
        raise InvalidParameterError(
            f"cannot read the type hints of {cls.__name__} ({e}); define the classes it uses at module level"
        ) from None


def _record_fields(cls: type) -> list[tuple[str, Any, bool, str | None]]:
    """``(name, type, required, description)`` for each field of a record class."""
    if _is_typeddict(cls):
        hints = _hints(cls)
        required = cls.__required_keys__  # type: ignore[attr-defined]
        return [(name, tp, name in required, None) for name, tp in hints.items()]
    hints = _hints(cls)
    out: list[tuple[str, Any, bool, str | None]] = []
    if attrs.has(cls):
        for a in attrs.fields(cls):
            if not a.init:
                continue
            desc = a.metadata.get("description")
            out.append((a.name, hints.get(a.name, a.type), a.default is attrs.NOTHING, desc))
        return out
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, hints.get(f.name, f.type), required, f.metadata.get("description")))
    return out


def _record_schema(cls: type, defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, tp, is_required, desc in _record_fields(cls):
        prop = _type_schema(tp, defs)
        if isinstance(desc, str):
            prop = {**prop, "description": desc}
        properties[name] = prop
        if is_required:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "title": cls.__name__, "properties": properties, "required": required}
    desc = _description(cls)
    if desc:
        schema["description"] = desc
    return schema


def _type_schema(tp: Any, defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if tp is Any or tp is object:
        return {}
    if tp in _PRIMITIVES:
        return dict(_PRIMITIVES[tp])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if _is_record(tp):
        name = safe_name(tp.__name__)
        if name not in defs:
            defs[name] = {}  # reserved first, so a recursive type refers to itself
            defs[name] = _record_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(tp, types.UnionType)):
        return {"anyOf": [_type_schema(a, defs) for a in args]}
    if origin is typing.Annotated:
        return _type_schema(args[0], defs)
    if origin in (list, set, frozenset, Sequence, typing.Sequence) or (
        origin is tuple and len(args) == 2 and args[1] is Ellipsis
    ):
        item = args[0] if args else Any
        return {"type": "array", "items": _type_schema(item, defs)}
    if origin is tuple and args:
        return {
            "type": "array",
            "prefixItems": [_type_schema(a, defs) for a in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in (dict, Mapping, typing.Mapping) or tp in (dict, list):
        value = args[1] if len(args) == 2 else Any
        if tp is list:
            return {"type": "array", "items": {}}
        return {"type": "object", "additionalProperties": _type_schema(value, defs)}
    raise InvalidParameterError(f"with_schema cannot describe the type {tp!r} as JSON Schema; use a simpler type")


# ----- validators -----------------------------------------------------------------------------------------


def _path(parts: Sequence[object]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dict_validator(schema: dict[str, Any]) -> Validator:
    try:
        import jsonschema
    except ImportError:
        raise ConfigurationError(
            "a JSON Schema dict needs the jsonschema package to validate replies: pip install 'minillm-sdk[schema]' "
            "(or pass a dataclass, an attrs class, a TypedDict or a pydantic model instead)"
        ) from None
    kind = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        kind.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise InvalidParameterError(f"with_schema got an invalid JSON Schema: {_short(e.message)}") from None
    checker = kind(schema, format_checker=kind.FORMAT_CHECKER)

    def validate(value: Any) -> tuple[Any, list[str]]:
        errors = sorted(checker.iter_errors(value), key=lambda e: list(e.absolute_path))
        return value, [f"{_path(list(e.absolute_path))}: {_short(e.message)}" for e in errors[:MAX_ERRORS]]

    return validate


def _pydantic_validator(model: type) -> Validator:
    def validate(value: Any) -> tuple[Any, list[str]]:
        try:
            return model.model_validate(value), []  # type: ignore[attr-defined]
        except Exception as e:
            details = getattr(e, "errors", None)
            if not callable(details):
                raise
            return value, [f"{_path(d['loc'])}: {_short(d['msg'])}" for d in details()[:MAX_ERRORS]]

    return validate


class _WrongType(ValueError):
    """A JSON value of the wrong kind for a strict primitive."""


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _strict_converter() -> Any:
    import cattrs

    conv = cattrs.Converter(detailed_validation=True)

    def hook(expected: str, ok: Callable[[Any], bool], make: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
        def structure(value: Any, _: Any) -> Any:
            if not ok(value):
                raise _WrongType(f"expected {expected}, got {_json_kind(value)}")
            return make(value)

        return structure

    def is_int(v: Any) -> bool:
        return not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))

    def iso(kind: Any) -> Callable[[Any, Any], Any]:
        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, str):
                raise _WrongType(f"expected an ISO 8601 string, got {_json_kind(value)}")
            try:
                return kind.fromisoformat(value)
            except ValueError:
                raise _WrongType(f"expected an ISO 8601 {kind.__name__}, got {value!r}") from None

        return structure

    conv.register_structure_hook(str, hook("a string", lambda v: isinstance(v, str), str))
    conv.register_structure_hook(bool, hook("a boolean", lambda v: isinstance(v, bool), bool))
    conv.register_structure_hook(int, hook("an integer", is_int, int))
    conv.register_structure_hook(
        float, hook("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), float)
    )
    for kind in (datetime.datetime, datetime.date, datetime.time):
        conv.register_structure_hook(kind, iso(kind))
    return conv


def _cattrs_validator(cls: type) -> Validator:
    import cattrs

    converter = _strict_converter()

    def message(exc: BaseException, type_: Any) -> str:
        if isinstance(exc, _WrongType):
            return str(exc)
        return cattrs.v.format_exception(exc, type_)

    def validate(value: Any) -> tuple[Any, list[str]]:
        if not isinstance(value, dict):
            return value, [f"$: expected an object, got {_json_kind(value)}"]
        try:
            return converter.structure(value, cls), []
        except Exception as e:
            lines = cattrs.transform_error(e, path="$", format_exception=message)
            out = []
            for line in lines[:MAX_ERRORS]:
                text, _, where = line.rpartition(" @ ")
                out.append(f"{where}: {_short(text)}" if text else _short(line))
            return value, out

    return validate
