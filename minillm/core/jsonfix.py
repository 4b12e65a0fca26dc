"""Lenient JSON: repair the almost-JSON that models write, over the ``json-repair`` package.

The rules: a strict parse comes first and the repair parser runs only
when it fails; output is compact JSON with ``", "`` / ``": "`` separators and non-ASCII escaped as ``\\uXXXX``
by default; a result that is the empty string (no JSON found) comes back as ``""`` itself, not ``'""'``.

Every failure surfaces as ``JSONRepairError``. Nesting deeper than 512 levels is
refused before the repair library runs: that library recurses once per level and takes seconds to minutes on
deep inputs (``"{" * 100_000``), so a linear bracket scan rejects them first (denial of service). Below the
limit the library may still give up on broken input a few hundred levels deep (Python's recursion limit);
that too becomes ``JSONRepairError``. Every walk over a parsed value here is iterative.
"""

from __future__ import annotations

import json
import math
import re

from minillm.core.errors import InvalidParameterError, JSONRepairError, NoJSONFoundError

__all__ = ["extract_json", "is_refusal_value", "loads", "repair_json"]

# Deeper nesting is refused on both paths (strict and repair), so the two never disagree on what is too deep.
_MAX_DEPTH = 512

_BRACKETS = re.compile(r"[\[\]{}]")
# Characters json.dumps(ensure_ascii=False) leaves raw but repair_json escapes: the C1 controls and DEL (a
# terminal may act on them) and lone surrogates (no UTF-8 encoder accepts them). None can occur outside a
# string in JSON text.
_RAW_UNSAFE = re.compile("[\x7f-\x9f\ud800-\udfff]")


def repair_json(text: str, *, ensure_ascii: bool = True) -> str:
    """Return ``text`` as compact, valid JSON, repairing it only if a strict parse fails.

    Returns ``""`` when no JSON value is found. Raises ``JSONRepairError`` when the text cannot be repaired
    (for example, nesting deeper than 512 levels).
    """
    value = _parse(text, "repair_json")
    if isinstance(value, str) and not value:
        return ""
    return _dumps(value, ensure_ascii=ensure_ascii)


def loads(text: str) -> object:
    """Parse ``text`` as JSON, repairing it if needed, and return the value (``""`` when none is found).

    Raises ``JSONRepairError`` when the text cannot be repaired.
    """
    return _parse(text, "loads")


def extract_json(text: str, *, ensure_ascii: bool = True) -> str:
    """Find the JSON in ``text`` (prose, code fences, broken syntax around it) and return it repaired.

    Raises ``NoJSONFoundError`` when the text holds no JSON value, and ``JSONRepairError`` when what it
    holds cannot be repaired.
    """
    value = _parse(text, "extract_json")
    if isinstance(value, str) and not value:
        # A '#' or '//' in prose starts a comment that eats the rest of its line ("Result #1: {...}"), so
        # give the repair parser a second look starting at the first bracket.
        start = _first_opener(text)
        if start > 0:
            value = _parse(text[start:], "extract_json")
    if isinstance(value, str) and not value:
        raise NoJSONFoundError(text)
    return _dumps(value, ensure_ascii=ensure_ascii)


def is_refusal_value(value: object) -> bool:
    """Whether a parsed value counts as "no usable JSON": ``None``, ``""``, ``[]`` or ``{}``. ``crash_on_refusal``
    decides on this value, not on whether the text holds a brace (``"I can't help. {}"`` is a refusal)."""
    if value is None:
        return True
    return isinstance(value, (str, list, dict)) and len(value) == 0


def _parse(text: str, caller: str) -> object:
    """Strict parse first; on failure, the depth guard and then the repair parser."""
    if not isinstance(text, str):
        raise InvalidParameterError(f"{caller}() expects str, got {type(text).__name__}; decode bytes first")
    try:
        value: object = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float)
    except (ValueError, RecursionError):
        # Not strict JSON (or too deep for the C parser): fall through to the repair path.
        pass
    else:
        return _check_value(value)
    if _exceeds_depth_limit(text):
        raise _too_deep()
    import json_repair  # loaded on the first repair: most programs never need one

    try:
        value = json_repair.loads(text, skip_json_loads=True)
    except Exception as e:  # any failure inside the library, including its own recursion guard
        raise JSONRepairError(
            f"json-repair could not repair the text ({type(e).__name__}: {e}); check that it is JSON-like"
        ) from e
    return _check_value(value)


def _reject_constant(name: str) -> object:
    """``NaN`` and ``Infinity`` are not JSON: send such text to the repair parser."""
    raise ValueError(f"{name} is not valid JSON")


def _parse_float(literal: str) -> float | str:
    """A float literal, or the literal itself when it overflows (``1e400``): JSON cannot hold infinity, and the
    digits the model wrote are kept rather than lost."""
    number = float(literal)
    return number if math.isfinite(number) else literal


def _first_opener(text: str) -> int:
    """Index of the first ``{`` or ``[`` in ``text``, or -1."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return min(starts, default=-1)


def _exceeds_depth_limit(text: str) -> bool:
    """Whether some run of unclosed ``[``/``{`` in ``text`` is deeper than the limit.

    Linear in ``len(text)`` and stops at the first level past the limit. Brackets inside strings count too:
    the repair parser may not read quotes the way a scanner would, so an over-estimate is the safe error.
    """
    if text.count("[") + text.count("{") <= _MAX_DEPTH:
        return False  # too few openers to nest that deep, whatever the layout
    depth = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return True
        elif depth:
            depth -= 1
    return False


def _check_value(value: object) -> object:
    """Refuse values nested deeper than the limit and turn non-finite floats into strings, in place.

    Iterative, so no depth reaches Python's recursion limit. Returns the value (replaced if it is itself a
    non-finite float).
    """
    if isinstance(value, float) and not math.isfinite(value):
        return _non_finite_text(value)
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if depth >= _MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, dict):
            for key, child in node.items():
                if isinstance(child, float) and not math.isfinite(child):
                    node[key] = _non_finite_text(child)  # replacing a value while iterating is allowed
                elif isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
        else:
            for index, child in enumerate(node):
                if isinstance(child, float) and not math.isfinite(child):
                    node[index] = _non_finite_text(child)
                elif isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
    return value


def _too_deep() -> JSONRepairError:
    """The error for input nested past the limit."""
    return JSONRepairError(
        f"cannot repair JSON nested more than {_MAX_DEPTH} levels deep; "
        "flatten the data or check that the text is really JSON"
    )


def _non_finite_text(number: float) -> str:
    """The spelling kept for a float JSON cannot hold (the repair parser turns ``1e400`` into infinity)."""
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _dumps(value: object, *, ensure_ascii: bool) -> str:
    """Serialize with ``", "`` / ``": "`` separators, and with the C1 controls, DEL and lone surrogates escaped
    even when ``ensure_ascii`` is off."""
    try:
        out = json.dumps(value, ensure_ascii=ensure_ascii, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as e:
        raise JSONRepairError(f"the repaired value could not be serialized as JSON ({type(e).__name__}: {e})") from e
    if not ensure_ascii:
        out = _RAW_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)
    return out
