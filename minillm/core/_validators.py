"""Checks shared by the core's value types, written once so that every type words its errors alike.

The attrs validators check what a caller passes in and raise ``InvalidParameterError`` (also a
``ValueError``) naming the class and field, e.g. ``RetryPolicy.jitter must be a finite, non-negative number,
got -1``. ``token_count`` goes the other way: it reads a count from a provider's JSON, where a bad value is
the provider's slip and counts as 0 rather than failing a reply that is otherwise fine.

Internal: the names here may change without notice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from minillm.core.errors import InvalidParameterError

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]
"""The shape of an attrs validator: ``(instance, attribute, value) -> None``, raising when ``value`` is wrong."""


def where(instance: object, attribute: attrs.Attribute[Any]) -> str:
    """``Class.field``, as error messages name a field."""
    return f"{type(instance).__name__}.{attribute.name}"


def int_at_least(low: int | None, *, optional: bool = True) -> Validator:
    """An integer (not a bool) of at least ``low`` (any integer when ``low`` is None); None too if ``optional``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low):
            bound = "an integer" if low is None else f"an integer >= {low}"
            or_none = " or None" if optional else ""
            raise InvalidParameterError(f"{where(instance, attribute)} must be {bound}{or_none}, got {value!r}")

    return check


def number_in(
    low: float | None = None, high: float | None = None, *, optional: bool = True, unit: str = ""
) -> Validator:
    """A finite int or float (not a bool) from ``low`` to ``high`` (either may be open); None too if ``optional``.

    ``unit`` follows the bound in the error message (" of USD per million tokens").
    """

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        ok = (
            not isinstance(value, bool)
            and isinstance(value, (int, float))
            and math.isfinite(value)
            and (low is None or value >= low)
            and (high is None or value <= high)
        )
        if not ok:
            if low is not None and high is not None:
                bound = f"a number from {low} to {high}"
            elif low == 0:
                bound = "a finite, non-negative number"
            elif low is not None:
                bound = f"a finite number >= {low}"
            else:
                bound = "a finite number"
            raise InvalidParameterError(f"{where(instance, attribute)} must be {bound}{unit}, got {value!r}")

    return check


def boolean(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """True or False, nothing else (not 0 or 1)."""
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{where(instance, attribute)} must be True or False, got {value!r}")


def optional_bool(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """True, False or None."""
    if value is not None and not isinstance(value, bool):
        raise InvalidParameterError(f"{where(instance, attribute)} must be True, False or None, got {value!r}")


def optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """A str or None."""
    if value is not None and not isinstance(value, str):
        raise InvalidParameterError(f"{where(instance, attribute)} must be a str or None, got {value!r}")


def one_of(*choices: str) -> Validator:
    """One of ``choices``, or None."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and value not in choices:
            raise InvalidParameterError(
                f"{where(instance, attribute)} must be one of {', '.join(map(repr, choices))}, got {value!r}"
            )

    return check


def optional_instance(kind: type) -> Validator:
    """An instance of ``kind``, or None."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not isinstance(value, kind):
            raise InvalidParameterError(
                f"{where(instance, attribute)} must be a {kind.__name__} or None, got {type(value).__name__}"
            )

    return check


def optional_callable(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Something callable, or None."""
    if value is not None and not callable(value):
        raise InvalidParameterError(f"{where(instance, attribute)} must be callable or None, got {value!r}")


def strings(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An iterable of str (or None)."""
    for item in value or ():
        if not isinstance(item, str):
            raise InvalidParameterError(f"{where(instance, attribute)} must hold strings only, got {item!r}")


def token_count(value: object) -> int:
    """A token count read from a provider's JSON: a non-negative integer, or an integral float such as 15.0.

    Anything else (a negative number, a fraction, a bool, a string, null) reads as 0: a count is bookkeeping,
    and a provider's slip in it should not fail a reply whose text is fine.
    """
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return 0
