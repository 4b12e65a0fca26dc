"""Request parameters: what to ask the model (``CompletionParameters``) and how to run the request
(``NodeCompletionParameters``), plus OpenRouter routing (``ProviderSettings``).

All are frozen values; every ``with_*`` builder returns a changed copy. ``CompletionParameters`` is the
normalized intent, not a wire shape: each provider wire maps it to its own body.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

import attrs

from minillm.core import _validators as _v
from minillm.core.budget import Budget
from minillm.core.errors import InvalidParameterError
from minillm.core.structured import OutputSchema
from minillm.core.tools import ToolChoice, ToolDefinition, to_tool_definitions
from minillm.core.usage import CostInfo, TokenPrice

__all__ = [
    "CompletionParameters",
    "NodeCompletionParameters",
    "ProviderSettings",
    "ReasoningConfig",
    "ResponseFormat",
    "apply_defaults",
]

_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------------------
# Converters (the validators, shared with the other value types, are in minillm.core._validators)


def _str_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """A list of strings as a tuple; a lone string is one item (``stop="\\n"`` means one stop sequence)."""
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


def _tool_choice(value: ToolChoice | ToolDefinition | str | None) -> ToolChoice | None:
    return None if value is None else ToolChoice.of(value)


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A read-only copy (the caller's dict can change afterwards without touching the parameters)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidParameterError(f"expected a mapping of str keys, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise InvalidParameterError(f"keys must be strings, got {key!r}")
    return types.MappingProxyType(dict(value))


def _frozen_str_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return types.MappingProxyType({})
    frozen = _frozen_map(value)
    assert frozen is not None
    for key, item in frozen.items():
        if not isinstance(item, str):
            raise InvalidParameterError(f"format kwarg {key!r} must be a str, got {type(item).__name__}")
    return frozen


def _map_repr(value: Mapping[str, Any] | None) -> str:
    return "None" if value is None else repr(dict(value))


def _settings_value(value: Any) -> Any:
    """A field value in its JSON settings form."""
    if isinstance(value, ResponseFormat):
        return value.to_settings()
    if isinstance(value, ReasoningConfig):
        return value.to_dict()
    if isinstance(value, ToolChoice):
        return value.to_settings()
    if isinstance(value, tuple):
        return [_settings_value(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


# ---------------------------------------------------------------------------------------------------------
# Small parameter values


@attrs.frozen
class ReasoningConfig:
    """How much the model should think: ``effort`` ("none", "minimal", "low", "medium", "high", "xhigh"),
    a ``max_tokens`` budget, and ``exclude`` to keep the reasoning out of the answer.

    Each wire translates it: OpenRouter's ``reasoning`` object as it is, OpenAI's ``reasoning_effort`` (an
    effort only), Anthropic's ``thinking`` with a token budget (an effort becomes a share of ``max_tokens``).
    """

    effort: str | None = attrs.field(default=None, validator=_v.optional_str)
    max_tokens: int | None = attrs.field(default=None, validator=_v.int_at_least(0))
    exclude: bool | None = attrs.field(default=None, validator=_v.optional_bool)

    def to_dict(self) -> dict[str, Any]:
        """The wire object, unset keys omitted."""
        out: dict[str, Any] = {}
        if self.effort is not None:
            out["effort"] = self.effort
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.exclude is not None:
            out["exclude"] = self.exclude
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReasoningConfig:
        """Read the ``to_dict`` form (snake_case keys; unknown keys ignored)."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"reasoning must be an object, got {data!r}")
        return cls(effort=data.get("effort"), max_tokens=data.get("max_tokens"), exclude=data.get("exclude"))


class ResponseFormat(enum.Enum):
    """A constraint on the reply's format. ``JSON_OBJECT`` asks for a JSON object (OpenAI-dialect wires only)."""

    JSON_OBJECT = "json_object"

    def to_dict(self) -> dict[str, str]:
        """The wire object, e.g. ``{"type": "json_object"}``."""
        return {"type": self.value}

    def to_settings(self) -> str:
        """The settings-object form, e.g. ``"jsonObject"``."""
        head, *rest = self.value.split("_")
        return head + "".join(word.capitalize() for word in rest)

    @classmethod
    def from_settings(cls, value: Any) -> ResponseFormat:
        """Read the settings form (``"jsonObject"``); the wire spelling ``"json_object"`` is accepted too."""
        for member in cls:
            if value in (member.to_settings(), member.value):
                return member
        choices = ", ".join(repr(m.to_settings()) for m in cls)
        raise InvalidParameterError(f"unknown response format {value!r}; expected one of {choices}")


@attrs.frozen(kw_only=True)
class ProviderSettings:
    """OpenRouter routing preferences: which upstream providers may serve a request, and how to choose.

    Only the OpenRouter wire sends them (under ``provider``); attach them with
    ``NodeCompletionParameters.with_openrouter_routing``.
    """

    order: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple, validator=_v.strings)
    sort: Literal["price", "throughput", "latency"] | None = attrs.field(
        default=None, validator=_v.one_of("price", "throughput", "latency")
    )
    ignore: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple, validator=_v.strings)
    data_collection: Literal["allow", "deny"] | None = attrs.field(default=None, validator=_v.one_of("allow", "deny"))
    allow_fallbacks: bool | None = attrs.field(default=None, validator=_v.optional_bool)
    require_parameters: bool | None = attrs.field(default=None, validator=_v.optional_bool)

    def with_order(self, providers: Iterable[str]) -> ProviderSettings:
        """Try these providers first, in this order (e.g. ``["Anthropic", "OpenAI"]``)."""
        return attrs.evolve(self, order=_str_tuple(providers))

    def sort_by_price(self) -> ProviderSettings:
        return attrs.evolve(self, sort="price")

    def sort_by_throughput(self) -> ProviderSettings:
        return attrs.evolve(self, sort="throughput")

    def sort_by_latency(self) -> ProviderSettings:
        return attrs.evolve(self, sort="latency")

    def with_ignore(self, providers: Iterable[str]) -> ProviderSettings:
        """Never route to these providers."""
        return attrs.evolve(self, ignore=_str_tuple(providers))

    def deny_data_collection(self) -> ProviderSettings:
        """Only use providers that do not store or train on the prompts."""
        return attrs.evolve(self, data_collection="deny")

    def allow_data_collection(self) -> ProviderSettings:
        return attrs.evolve(self, data_collection="allow")

    def with_fallbacks(self, allow: bool) -> ProviderSettings:
        """Whether OpenRouter may fall back to providers outside ``order``."""
        return attrs.evolve(self, allow_fallbacks=allow)

    def with_require_parameters(self, require: bool) -> ProviderSettings:
        """Whether to route only to providers that support every parameter sent."""
        return attrs.evolve(self, require_parameters=require)

    def to_dict(self) -> dict[str, Any]:
        """The wire object (snake_case keys, unset ones omitted)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(ProviderSettings):
            value = getattr(self, field.name)
            if value is not None:
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProviderSettings:
        """Read the ``to_dict`` form; unknown keys are ignored."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"provider settings must be an object, got {data!r}")
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def billing_provider(self) -> str | None:
        """The one provider that will certainly serve (and bill) the request, if the settings pin one.

        That is ``order[0]`` only when ``order`` has exactly one entry and fallbacks are explicitly off;
        sorting never pins, and unset fallbacks may route elsewhere.
        """
        if self.order is not None and len(self.order) == 1 and self.allow_fallbacks is False:
            return self.order[0]
        return None


# ---------------------------------------------------------------------------------------------------------
# CompletionParameters

_SETTINGS_KEYS: dict[str, str] = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "repetitionPenalty": "repetition_penalty",
    "stop": "stop",
    "seed": "seed",
    "responseFormat": "response_format",
    "tools": "tools",
    "toolChoice": "tool_choice",
    "parallelToolCalls": "parallel_tool_calls",
    "reasoning": "reasoning",
    "extra": "extra",
}


@attrs.frozen(kw_only=True)
class CompletionParameters:
    """What to ask the model: sampling, limits, format, tools and extra body keys.

    The defaults are not empty: ``max_tokens=4096`` and ``temperature=0.7`` are always sent unless set to
    ``None``. Every other field is unset (``None``) and then not sent. ``extra`` keys are merged into the
    top level of every wire's request body (a key that collides with one the wire already set is an error).
    """

    max_tokens: int | None = attrs.field(default=4096, validator=_v.int_at_least(0))
    temperature: float | None = attrs.field(default=0.7, validator=_v.number_in(0.0))
    top_p: float | None = attrs.field(default=None, validator=_v.number_in(0.0, 1.0))
    top_k: int | None = attrs.field(default=None, validator=_v.int_at_least(0))
    frequency_penalty: float | None = attrs.field(default=None, validator=_v.number_in())
    presence_penalty: float | None = attrs.field(default=None, validator=_v.number_in())
    repetition_penalty: float | None = attrs.field(default=None, validator=_v.number_in(0.0))
    stop: tuple[str, ...] | None = attrs.field(default=None, converter=_str_tuple, validator=_v.strings)
    seed: int | None = attrs.field(default=None, validator=_v.int_at_least(None))
    response_format: ResponseFormat | None = attrs.field(default=None, validator=_v.optional_instance(ResponseFormat))
    tools: tuple[ToolDefinition, ...] | None = attrs.field(default=None, converter=to_tool_definitions, hash=False)
    tool_choice: ToolChoice | None = attrs.field(default=None, converter=_tool_choice)
    parallel_tool_calls: bool | None = attrs.field(default=None, validator=_v.optional_bool)
    reasoning: ReasoningConfig | None = attrs.field(default=None, validator=_v.optional_instance(ReasoningConfig))
    extra: Mapping[str, Any] | None = attrs.field(default=None, converter=_frozen_map, repr=_map_repr, hash=False)

    # Builders -----------------------------------------------------------------------------------------

    def with_max_tokens(self, max_tokens: int | None) -> CompletionParameters:
        """Limit the reply to ``max_tokens`` tokens (``None``: send no limit, where the wire allows)."""
        return attrs.evolve(self, max_tokens=max_tokens)

    def with_temperature(self, temperature: float | None) -> CompletionParameters:
        return attrs.evolve(self, temperature=temperature)

    def with_top_p(self, top_p: float | None) -> CompletionParameters:
        return attrs.evolve(self, top_p=top_p)

    def with_top_k(self, top_k: int | None) -> CompletionParameters:
        return attrs.evolve(self, top_k=top_k)

    def with_frequency_penalty(self, penalty: float | None) -> CompletionParameters:
        return attrs.evolve(self, frequency_penalty=penalty)

    def with_presence_penalty(self, penalty: float | None) -> CompletionParameters:
        return attrs.evolve(self, presence_penalty=penalty)

    def with_repetition_penalty(self, penalty: float | None) -> CompletionParameters:
        return attrs.evolve(self, repetition_penalty=penalty)

    def with_stop(self, stop: str | Iterable[str] | None) -> CompletionParameters:
        """Stop sequences (a single string is one sequence)."""
        return attrs.evolve(self, stop=stop)

    def with_seed(self, seed: int | None) -> CompletionParameters:
        return attrs.evolve(self, seed=seed)

    def with_json_response(self) -> CompletionParameters:
        """Ask for a JSON object reply (``response_format`` ``json_object``; OpenAI-dialect wires only)."""
        return attrs.evolve(self, response_format=ResponseFormat.JSON_OBJECT)

    def with_reasoning(self, reasoning: ReasoningConfig | None) -> CompletionParameters:
        return attrs.evolve(self, reasoning=reasoning)

    def with_tools(self, tools: Iterable[ToolDefinition] | None) -> CompletionParameters:
        """Offer these tools (replaces any offered before; ``None`` offers none)."""
        return attrs.evolve(self, tools=tools)

    def with_tool(self, tool: ToolDefinition) -> CompletionParameters:
        """Offer one more tool (its name must differ from the others')."""
        return attrs.evolve(self, tools=(*(self.tools or ()), tool))

    def with_tool_choice(self, choice: ToolChoice | ToolDefinition | str | None) -> CompletionParameters:
        """Whether and which tool the model must call: a ``ToolChoice`` (``auto()``, ``none()``,
        ``required()``, ``tool(name)``), a ``ToolDefinition`` (that tool), or ``"auto"`` / ``"none"`` /
        ``"required"``."""
        return attrs.evolve(self, tool_choice=choice)

    def with_parallel_tool_calls(self, parallel: bool | None) -> CompletionParameters:
        """Allow (True) or forbid (False) several tool calls in one reply; ``None`` leaves it to the provider."""
        return attrs.evolve(self, parallel_tool_calls=parallel)

    def with_extra(self, key: str, value: Any) -> CompletionParameters:
        """Add (or replace) one extra top-level body key."""
        return attrs.evolve(self, extra={**(self.extra or {}), key: value})

    def with_extras(self, extras: Mapping[str, Any] | None) -> CompletionParameters:
        """Replace the whole extra map."""
        return attrs.evolve(self, extra=extras)

    def merge(self, other: CompletionParameters) -> CompletionParameters:
        """These parameters overlaid by ``other``: each field is ``other``'s when set, else ours.

        ``extra`` is the union of both, ``other``'s keys winning. Note that ``other``'s defaults count as
        set: merging ``CompletionParameters()`` over anything gives ``max_tokens`` 4096 and temperature 0.7.
        """
        changes: dict[str, Any] = {}
        for field in attrs.fields(CompletionParameters):
            if field.name == "extra":
                continue
            value = getattr(other, field.name)
            if value is not None:
                changes[field.name] = value
        if self.extra is None and other.extra is None:
            changes["extra"] = None
        else:
            changes["extra"] = {**(self.extra or {}), **(other.extra or {})}
        return attrs.evolve(self, **changes)

    # Settings (camelCase JSON) form ---------------------------------------------------------------------

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> CompletionParameters:
        """Read a camelCase settings object (``{"maxTokens": 1024, "topP": 0.9}``).

        Every key is optional (missing means the default, so ``{}`` gives 4096 / 0.7), an explicit ``null``
        means unset, and unknown keys are ignored. ``responseFormat`` is ``"jsonObject"``; ``reasoning``
        keeps snake_case keys; ``tools`` is a list of ``{"name", "description"?, "parameters", "strict"?}``;
        ``toolChoice`` is ``"Auto"``, ``"None"``, ``"Required"`` or ``{"Tool": "<name>"}``.
        """
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"completion settings must be a JSON object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for camel, name in _SETTINGS_KEYS.items():
            if camel not in data:
                continue
            value = data[camel]
            if value is not None and name == "response_format":
                value = ResponseFormat.from_settings(value)
            elif value is not None and name == "reasoning":
                value = ReasoningConfig.from_dict(value)
            elif value is not None and name == "tools":
                if not isinstance(value, list):
                    raise InvalidParameterError(f"tools must be a list of tool objects, got {value!r}")
                value = [ToolDefinition.from_dict(item) for item in value]
            elif value is not None and name == "tool_choice":
                value = ToolChoice.from_settings(value)
            kwargs[name] = value
        return cls(**kwargs)

    def to_settings(self) -> dict[str, Any]:
        """The camelCase settings object; fields at their default are left out, so it reads back the same."""
        out: dict[str, Any] = {}
        for camel, name in _SETTINGS_KEYS.items():
            value = getattr(self, name)
            if value != getattr(_DEFAULT_PARAMS, name):
                out[camel] = None if value is None else _settings_value(value)
        return out


_DEFAULT_PARAMS = CompletionParameters()
_ONLY_EXTRAS = CompletionParameters(max_tokens=None, temperature=None)


# ---------------------------------------------------------------------------------------------------------
# NodeCompletionParameters


@attrs.frozen(kw_only=True)
class NodeCompletionParameters:
    """How to run one completion on a node: the model parameters plus prompt, retry, parsing and cost options.

    ``params`` is merged over the generator's ``default_params``. ``retry`` counts extra attempts (4 means up
    to 5 in all). ``timeout_secs`` is the total deadline of a plain request and the idle timeout of a stream
    (``None`` or 0: none). ``openrouter_routing`` is sent only on the OpenRouter wire.
    """

    params: CompletionParameters | None = attrs.field(
        default=None, validator=_v.optional_instance(CompletionParameters)
    )
    system_prompt: str | None = attrs.field(default=None, validator=_v.optional_str)
    format_kwargs: Mapping[str, str] = attrs.field(
        factory=lambda: types.MappingProxyType({}), converter=_frozen_str_map, repr=_map_repr, hash=False
    )
    add_child: bool = attrs.field(default=True, validator=_v.boolean)
    parse_json: bool = attrs.field(default=False, validator=_v.boolean)
    use_cache: bool = attrs.field(default=False, validator=_v.boolean)
    force_prepend: str | None = attrs.field(default=None, validator=_v.optional_str)
    retry: int = attrs.field(default=4, validator=_v.int_at_least(0))
    exp_back_off: bool = attrs.field(default=False, validator=_v.boolean)
    back_off_time: float = attrs.field(default=1.0, validator=_v.number_in(0.0))
    max_back_off: float = attrs.field(default=15.0, validator=_v.number_in(0.0))
    crash_on_refusal: bool = attrs.field(default=False, validator=_v.boolean)
    crash_on_empty_response: bool = attrs.field(default=False, validator=_v.boolean)
    timeout_secs: float | None = attrs.field(default=None, validator=_v.number_in(0.0))
    track_cost: bool = attrs.field(default=False, validator=_v.boolean)
    token_price: TokenPrice | None = attrs.field(default=None, validator=_v.optional_instance(TokenPrice))
    cost_callback: Callable[[CostInfo], Any] | None = attrs.field(default=None, validator=_v.optional_callable)
    openrouter_routing: ProviderSettings | None = attrs.field(
        default=None, validator=_v.optional_instance(ProviderSettings)
    )
    budget: Budget | None = attrs.field(default=None, validator=_v.optional_instance(Budget), eq=False)
    schema: OutputSchema | None = attrs.field(default=None, validator=_v.optional_instance(OutputSchema))
    max_reasks: int = attrs.field(default=2, validator=_v.int_at_least(0, optional=False))

    # Builders -----------------------------------------------------------------------------------------

    def with_params(self, params: CompletionParameters | None) -> NodeCompletionParameters:
        return attrs.evolve(self, params=params)

    def with_system_prompt(self, system_prompt: str | None) -> NodeCompletionParameters:
        """Use this system prompt for the request, in place of the thread's own."""
        return attrs.evolve(self, system_prompt=system_prompt)

    def with_format_kwargs(self, kwargs: Mapping[str, str]) -> NodeCompletionParameters:
        """Replace the completion-level format kwargs (a node's own kwargs still win over these)."""
        return attrs.evolve(self, format_kwargs=kwargs)

    def with_format_kwarg(self, key: str, value: str) -> NodeCompletionParameters:
        """Add (or replace) one completion-level format kwarg."""
        return attrs.evolve(self, format_kwargs={**self.format_kwargs, key: value})

    def with_add_child(self, add_child: bool) -> NodeCompletionParameters:
        """``False``: the reply is not attached to the tree (a phantom node whose parent does not list it)."""
        return attrs.evolve(self, add_child=add_child)

    def with_parse_json(self, parse_json: bool = True) -> NodeCompletionParameters:
        """Repair the reply's text into JSON."""
        return attrs.evolve(self, parse_json=parse_json)

    def expecting_json(self) -> NodeCompletionParameters:
        """Shorthand for ``with_parse_json(True)``."""
        return attrs.evolve(self, parse_json=True)

    def with_cache(self, use_cache: bool = True) -> NodeCompletionParameters:
        """Mark the last outgoing message as a prompt-cache breakpoint."""
        return attrs.evolve(self, use_cache=use_cache)

    def with_force_prepend(self, prefix: str | None) -> NodeCompletionParameters:
        """Prime the reply with ``prefix`` (sent as a trailing assistant message, kept on the result)."""
        return attrs.evolve(self, force_prepend=prefix)

    def with_retry(self, retry: int) -> NodeCompletionParameters:
        """Extra attempts after the first (0: try once)."""
        return attrs.evolve(self, retry=retry)

    def with_exp_back_off(self, exp_back_off: bool = True) -> NodeCompletionParameters:
        """Double the wait after each failed attempt (capped by ``max_back_off``)."""
        return attrs.evolve(self, exp_back_off=exp_back_off)

    def with_back_off_time(self, seconds: float) -> NodeCompletionParameters:
        """The first (or, without exponential backoff, every) wait between attempts."""
        return attrs.evolve(self, back_off_time=seconds)

    def with_max_back_off(self, seconds: float) -> NodeCompletionParameters:
        return attrs.evolve(self, max_back_off=seconds)

    def with_crash_on_refusal(self, crash: bool = True) -> NodeCompletionParameters:
        """With ``parse_json``: an error (and a retry) when the reply holds no usable JSON."""
        return attrs.evolve(self, crash_on_refusal=crash)

    def with_crash_on_empty(self, crash: bool = True) -> NodeCompletionParameters:
        """An error (and a retry) when the reply's text is blank."""
        return attrs.evolve(self, crash_on_empty_response=crash)

    def with_timeout(self, seconds: float | None) -> NodeCompletionParameters:
        """Total deadline of a plain request, idle timeout of a stream (``None`` or 0: none)."""
        return attrs.evolve(self, timeout_secs=seconds)

    def with_cost_tracking(self, track: bool = True) -> NodeCompletionParameters:
        """Ask the provider to report usage (needed for cost on some wires)."""
        return attrs.evolve(self, track_cost=track)

    def with_token_price(self, price: TokenPrice | None) -> NodeCompletionParameters:
        """Price this request with ``price`` instead of the generator's."""
        return attrs.evolve(self, token_price=price)

    def with_cost_callback(self, callback: Callable[[CostInfo], Any] | None) -> NodeCompletionParameters:
        """Call ``callback(cost_info)`` once per accepted reply (an ``async def`` one is awaited on the async
        path). Setting it also asks the provider for usage; a reply whose cost cannot be known is reported as
        ``UNKNOWN``, never as a free $0."""
        return attrs.evolve(self, cost_callback=callback)

    def with_extra(self, key: str, value: Any) -> NodeCompletionParameters:
        """Add one extra top-level body key to ``params``, sent on every wire.

        When ``params`` is unset it becomes parameters holding only this key (``max_tokens`` and
        ``temperature`` unset too), so the generator's ``default_params`` still apply.
        """
        params = self.params if self.params is not None else _ONLY_EXTRAS
        return attrs.evolve(self, params=params.with_extra(key, value))

    def with_budget(self, budget: Budget | None) -> NodeCompletionParameters:
        """Spend from ``budget`` (shared by every request it is set on): a request whose high estimate would
        exceed what is left is refused with ``BudgetExceededError`` before it is sent, and each reply's actual
        cost is recorded. Enforced by ``ChatNode``'s network methods."""
        return attrs.evolve(self, budget=budget)

    def with_openrouter_routing(self, settings: ProviderSettings | None) -> NodeCompletionParameters:
        """OpenRouter routing preferences, sent (as ``provider``) only on the OpenRouter wire."""
        return attrs.evolve(self, openrouter_routing=settings)

    def with_schema(self, schema: object, *, max_reasks: int = 2) -> NodeCompletionParameters:
        """Ask for a reply that matches ``schema`` and validate it: a JSON Schema dict, a dataclass, an attrs
        class, a TypedDict or a pydantic v2 model (``None`` removes it).

        The reply node's ``parsed`` holds the validated value (an instance of the class, or the JSON value for
        a dict schema). A reply that does not validate is answered with its errors, up to ``max_reasks``
        times, each re-ask a branch of the tree; then ``SchemaValidationError``. A dict schema needs the
        ``jsonschema`` package (``pip install 'minillm-sdk[schema]'``).
        """
        prepared = None if schema is None else OutputSchema.of(schema)
        return attrs.evolve(self, schema=prepared, max_reasks=max_reasks)

# ---------------------------------------------------------------------------------------------------------
# Client-level defaults: a client's NodeCompletionParameters under each call's


_DEFAULT_NODE_PARAMS = NodeCompletionParameters()


def _is_default(field: attrs.Attribute[Any], value: Any) -> bool:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    try:
        return value is default or bool(value == default)
    except Exception:  # a value whose == refuses to compare (an array, say) is taken as set
        return False


def _merge_model_params(
    defaults: CompletionParameters | None, call: CompletionParameters | None
) -> CompletionParameters | None:
    """A call's model parameters over a client's, field by field (None or the class default: not set); a
    field neither set is left unset (None), so the generator's ``default_params`` fill it when the request
    is built."""
    if defaults is None:
        return call
    changes: dict[str, Any] = {}
    for field in attrs.fields(CompletionParameters):
        if field.name == "extra":
            continue
        mine = getattr(call, field.name) if call is not None else None
        if mine is not None and not _is_default(field, mine):
            changes[field.name] = mine
            continue
        theirs = getattr(defaults, field.name)
        changes[field.name] = None if _is_default(field, theirs) else theirs
    extra = {**(defaults.extra or {}), **((call.extra if call is not None else None) or {})}
    changes["extra"] = extra or None
    return CompletionParameters(**changes)


def apply_defaults(
    params: NodeCompletionParameters | None, defaults: NodeCompletionParameters | None
) -> NodeCompletionParameters:
    """The parameters a call runs with, given a client's ``defaults``: the call's own value for each field it
    set, else the client's.

    A field counts as set when it differs from the class default (``retry`` 4, ``timeout_secs`` None, ...),
    so a call cannot ask for a library default the client overrides: ``with_retry(4)`` under a client whose
    default is ``retry=0`` keeps 0. ``format_kwargs`` and the model parameters' ``extra`` are unions, the
    call's keys winning; the model parameters merge field by field, and a field neither set is left to the
    generator's ``default_params``. Without client defaults the call's parameters are used as they are.
    """
    if defaults is None:
        return _DEFAULT_NODE_PARAMS if params is None else params
    if params is None:
        params = _DEFAULT_NODE_PARAMS
    changes: dict[str, Any] = {}
    for field in attrs.fields(NodeCompletionParameters):
        if not field.init:
            continue
        name = field.alias or field.name
        mine, theirs = getattr(params, field.name), getattr(defaults, field.name)
        if field.name == "params":
            changes[name] = _merge_model_params(theirs, mine)
        elif field.name == "format_kwargs":
            changes[name] = {**theirs, **mine}
        elif _is_default(field, mine) and not _is_default(field, theirs):
            changes[name] = theirs
    return attrs.evolve(params, **changes)
