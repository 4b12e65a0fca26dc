"""Tools as minillm keeps them, the same for every wire: what a model may call (``ToolDefinition``),
whether and which it must call (``ToolChoice``), and the calls it made (``ToolCall``).

These are wire-neutral values; each provider module maps them to its own JSON (the OpenAI dialect's
``{"type": "function", ...}`` objects, Anthropic's ``input_schema`` tools). A call's arguments stay raw JSON
text until asked for, because that is what the model wrote and what goes back on the wire.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from minillm.core.errors import InvalidParameterError, JSONRepairError, NoJSONFoundError

__all__ = ["ToolCall", "ToolChoice", "ToolDefinition", "check_tool_choice", "to_tool_definitions"]

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


# ---------------------------------------------------------------------------------------------------------
# Validators and converters


def _name(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(
            f"{type(instance).__name__}.{attribute.name} must be a non-empty string, got {value!r}"
        )


def _optional_str(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidParameterError(f"{type(instance).__name__}.{attribute.name} must be a str or None, got {value!r}")


def _optional_bool(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidParameterError(
            f"{type(instance).__name__}.{attribute.name} must be True, False or None, got {value!r}"
        )


def _schema(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private deep copy of a JSON schema (so the caller's dict can change afterwards), checked to be JSON."""
    if value is None:
        return copy.deepcopy(_EMPTY_SCHEMA)
    if not isinstance(value, Mapping):
        raise InvalidParameterError(
            f"ToolDefinition.parameters must be a JSON schema object (a dict), got {type(value).__name__}"
        )
    try:
        return dict(json.loads(json.dumps(value)))
    except (TypeError, ValueError) as e:
        raise InvalidParameterError(f"ToolDefinition.parameters must hold only JSON values: {e}") from e


# ---------------------------------------------------------------------------------------------------------
# ToolDefinition


@attrs.frozen
class ToolDefinition:
    """A tool the model may call: its ``name``, a ``description`` telling the model when to use it, and the
    JSON schema of its arguments (``parameters``; an object with no properties when omitted).

    ``strict`` asks providers that support it to make the arguments follow the schema exactly.
    """

    name: str = attrs.field(validator=_name)
    description: str | None = attrs.field(default=None, validator=_optional_str)
    parameters: dict[str, Any] = attrs.field(
        factory=lambda: copy.deepcopy(_EMPTY_SCHEMA), converter=_schema, hash=False
    )
    strict: bool | None = attrs.field(default=None, validator=_optional_bool)

    def with_strict(self, strict: bool | None = True) -> ToolDefinition:
        """A copy asking for (or, with False, against) strict schema adherence."""
        return attrs.evolve(self, strict=strict)

    def with_description(self, description: str | None) -> ToolDefinition:
        return attrs.evolve(self, description=description)

    def with_parameters(self, parameters: Mapping[str, Any]) -> ToolDefinition:
        return attrs.evolve(self, parameters=parameters)

    def to_dict(self) -> dict[str, Any]:
        """The serialized form ``{"name", "description"?, "parameters", "strict"?}`` (unset keys left out)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            out["description"] = self.description
        out["parameters"] = copy.deepcopy(self.parameters)
        if self.strict is not None:
            out["strict"] = self.strict
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolDefinition:
        """Read the ``to_dict`` form; unknown keys are ignored."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"a tool definition must be an object with a 'name', got {data!r}")
        return cls(
            name=data.get("name"),  # type: ignore[arg-type]  # validated
            description=data.get("description"),
            parameters=data.get("parameters"),
            strict=data.get("strict"),
        )


def to_tool_definitions(value: Iterable[ToolDefinition] | None) -> tuple[ToolDefinition, ...] | None:
    """Tools as a tuple of ``ToolDefinition``; anything else, or two tools with one name, is refused."""
    if value is None:
        return None
    if isinstance(value, (str, Mapping, ToolDefinition)):
        raise InvalidParameterError(
            "tools must be a list of ToolDefinition; to add a single tool use CompletionParameters.with_tool(t)"
        )
    tools = tuple(value)
    seen: set[str] = set()
    for tool in tools:
        if not isinstance(tool, ToolDefinition):
            raise InvalidParameterError(
                f"tools must hold ToolDefinition values, got {type(tool).__name__} "
                "(build one with ToolDefinition(name, description, parameters))"
            )
        if tool.name in seen:
            raise InvalidParameterError(
                f"two tools are named {tool.name!r}; providers refuse duplicate tool names, so rename one"
            )
        seen.add(tool.name)
    return tools


# ---------------------------------------------------------------------------------------------------------
# ToolChoice

_ChoiceKind = Literal["auto", "none", "required", "tool"]
_SETTINGS_NAMES: dict[str, _ChoiceKind] = {"Auto": "auto", "None": "none", "Required": "required"}


def _kind(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("auto", "none", "required", "tool"):
        raise InvalidParameterError(f"ToolChoice.kind must be auto, none, required or tool, got {value!r}")


@attrs.frozen
class ToolChoice:
    """Whether the model may call tools: ``auto()`` (it decides), ``none()`` (it may not), ``required()``
    (it must call one) or ``tool(name)`` (it must call that one). Build it with those classmethods."""

    kind: _ChoiceKind = attrs.field(validator=_kind)
    name: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if (self.kind == "tool") != (self.name is not None):
            raise InvalidParameterError(
                "ToolChoice takes a name exactly when its kind is 'tool'; use ToolChoice.tool(name)"
            )
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise InvalidParameterError(f"ToolChoice.tool needs a non-empty tool name, got {self.name!r}")

    @classmethod
    def auto(cls) -> ToolChoice:
        """The model decides whether to call tools (the providers' default when tools are offered)."""
        return cls("auto")

    @classmethod
    def none(cls) -> ToolChoice:
        """The model may not call any tool."""
        return cls("none")

    @classmethod
    def required(cls) -> ToolChoice:
        """The model must call at least one tool."""
        return cls("required")

    @classmethod
    def tool(cls, name: str) -> ToolChoice:
        """The model must call the tool ``name``."""
        return cls("tool", name)

    @classmethod
    def of(cls, value: ToolChoice | ToolDefinition | str) -> ToolChoice:
        """``value`` as a choice: a ``ToolChoice`` as is, a ``ToolDefinition`` as ``tool(its name)``, and the
        strings ``"auto"``, ``"none"``, ``"required"``."""
        if isinstance(value, ToolChoice):
            return value
        if isinstance(value, ToolDefinition):
            return cls.tool(value.name)
        if value in ("auto", "none", "required"):
            return cls(value)  # type: ignore[arg-type]  # one of the three literals
        if isinstance(value, str) and value:
            raise InvalidParameterError(
                f"unknown tool choice {value!r}; to make the model call that tool use ToolChoice.tool({value!r}), "
                "else ToolChoice.auto(), .none() or .required()"
            )
        raise InvalidParameterError(
            f"unknown tool choice {value!r}; use ToolChoice.auto(), .none(), .required() or .tool(name)"
        )

    def to_settings(self) -> str | dict[str, str]:
        """The settings-object form: ``"Auto"``, ``"None"``, ``"Required"`` or ``{"Tool": name}``."""
        if self.kind == "tool":
            assert self.name is not None
            return {"Tool": self.name}
        return self.kind.capitalize()

    @classmethod
    def from_settings(cls, value: Any) -> ToolChoice:
        """Read the settings form (the lower-case ``"auto"``, ``"none"``, ``"required"`` are accepted too)."""
        if isinstance(value, str):
            kind = _SETTINGS_NAMES.get(value) or _SETTINGS_NAMES.get(value.capitalize())
            if kind is not None:
                return cls(kind)
        elif isinstance(value, Mapping) and set(value) == {"Tool"} and isinstance(value["Tool"], str):
            return cls.tool(value["Tool"])
        raise InvalidParameterError(
            f'unknown tool choice {value!r}; expected "Auto", "None", "Required" or {{"Tool": "<name>"}}'
        )


def check_tool_choice(tools: tuple[ToolDefinition, ...] | None, choice: ToolChoice | None) -> None:
    """Refuse a choice that names a tool which is not offered (when tools are offered at all); the providers
    would answer 400, so say so before sending."""
    if choice is None or choice.kind != "tool" or tools is None:
        return
    names = [t.name for t in tools]
    if choice.name not in names:
        offered = ", ".join(map(repr, names)) or "none"
        raise InvalidParameterError(
            f"tool_choice asks for the tool {choice.name!r}, which is not among the offered tools ({offered}); "
            "add it with with_tool() or fix the name"
        )


# ---------------------------------------------------------------------------------------------------------
# ToolCall


@attrs.frozen
class ToolCall:
    """One call the model asked for: its ``id``, the tool ``name`` and the ``arguments`` as JSON text."""

    id: str
    name: str
    arguments: str = ""

    def arguments_json(self) -> Any:
        """The arguments parsed strictly (empty arguments are ``{}``); invalid JSON raises
        ``InvalidParameterError``."""
        try:
            return json.loads(self.arguments.strip() or "{}")
        except (ValueError, RecursionError) as e:
            raise InvalidParameterError(
                f"tool call {self.name!r} ({self.id}) carries arguments that are not valid JSON: {e}; "
                "use arguments_json_repaired() to accept slightly broken JSON"
            ) from e

    def arguments_json_repaired(self) -> Any:
        """The arguments parsed leniently: the JSON found in them, repaired (code fences, single quotes,
        trailing commas, missing closers ...). Empty arguments are ``{}``; arguments holding nothing
        parseable raise ``InvalidParameterError``."""
        from minillm.core.jsonfix import extract_json

        if not self.arguments.strip():
            return {}
        try:
            return json.loads(extract_json(self.arguments, ensure_ascii=False))
        except (NoJSONFoundError, JSONRepairError, ValueError) as e:
            raise InvalidParameterError(
                f"tool call {self.name!r} ({self.id}) carries unrepairable JSON arguments: {e}"
            ) from e

    def to_dict(self) -> dict[str, str]:
        """The serialized form ``{"id", "name", "arguments"}``."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Read the ``to_dict`` form."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"a tool call must be an object with id, name and arguments, got {data!r}")
        call_id, name, arguments = data.get("id"), data.get("name"), data.get("arguments", "")
        if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, str):
            raise InvalidParameterError(
                f"a tool call needs string 'id', 'name' and 'arguments' (JSON text), got {dict(data)!r}"
            )
        return cls(call_id, name, arguments)
