"""Lenient JSON: repair the almost-JSON that models write, over the ``json-repair`` package.

The rules: a strict parse comes first and the repair parser runs only
when it fails; output is compact JSON with ``", "`` / ``": "`` separators and non-ASCII escaped as ``\\uXXXX``
by default; a result that is the empty string (no JSON found) comes back as ``""`` itself, not ``'""'``.

Every failure surfaces as ``JSONRepairError``. Nesting deeper than 512 levels is
refused before the repair library runs: that library recurses once per level and takes seconds to minutes on
deep inputs (``"{" * 100_000``), so a linear bracket scan rejects them first (denial of service). Below the
limit the library may still give up on broken input a few hundred levels deep (Python's recursion limit);
that too becomes ``JSONRepairError``. Every walk over a parsed value here is iterative.

The repair library is also slow on some flat shapes: it looks ahead from every suspicious quote, so
``'[' + '"a' * n`` costs time quadratic in ``n`` (8 s at 16 KB). Two bounds keep every call near half a
second at most, whatever the input (``bench/bench_repair.py`` measures them): broken text longer than
32 KiB is not handed to the library, and the text it is handed counts every character the library reads,
stopping it past 8 reads per character. Both refusals are ``JSONRepairError``. Valid JSON of any size
never reaches the library: the strict parse takes it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterator
from typing import SupportsIndex

from minillm.core.errors import InvalidParameterError, JSONRepairError, NoJSONFoundError

__all__ = ["extract_json", "is_refusal_value", "loads", "repair_json"]

# Deeper nesting is refused on both paths (strict and repair), so the two never disagree on what is too deep.
_MAX_DEPTH = 512

_MAX_REPAIR_CHARS = 32 * 1024
"""The longest broken text handed to the repair library (characters). It spends 0.5 to 8 µs on each
character even on shapes it handles in linear time, so this keeps a repair under half a second on a
busy machine.
Longer text is repaired only when it holds one valid JSON value between its first opening and its last
closing bracket (prose or a code fence around it); otherwise it is refused with ``JSONRepairError``."""

# The repair library reads a model's broken JSON 1 to 3 times over, and without bound on the quadratic
# shapes; past this many reads per character (plus a floor for short texts) it is stopped.
_READS_PER_CHAR = 8
_READS_FLOOR = 50_000

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
    if len(text) > _MAX_REPAIR_CHARS:
        return _check_value(_parse_long(text))
    import json_repair  # loaded on the first repair: most programs never need one

    metered = _Metered(text)
    try:
        value = json_repair.loads(metered, skip_json_loads=True)
    except _OverBudget:
        raise JSONRepairError(
            f"gave up repairing {len(text):,} characters of broken JSON: the repair library would read them "
            f"more than {_READS_PER_CHAR} times over (unclosed strings with stray quotes are the usual cause, "
            "and they take time quadratic in the length). Ask for the JSON again, or cut the text to the JSON "
            "value first"
        ) from None
    except Exception as e:  # any failure inside the library, including its own recursion guard
        raise JSONRepairError(
            f"json-repair could not repair the text ({type(e).__name__}: {e}); check that it is JSON-like"
        ) from e
    if isinstance(value, _Metered):
        value = str.__str__(value)  # the text itself handed back: a plain str that no longer counts reads
    return _check_value(value)


class _OverBudget(Exception):
    """The repair library read more of the text than its budget allows."""


class _Metered(str):
    """The text handed to the repair library, counting what it reads and stopping it past a budget.

    The library reads the text one character (or slice) at a time through ``[]``; any superlinear work it
    does is re-reading, so a budget on reads bounds its time whatever the shape of the input.
    """

    _left: int

    def __new__(cls, text: str) -> _Metered:
        self = super().__new__(cls, text)
        self._left = _READS_PER_CHAR * len(text) + _READS_FLOOR
        return self

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        item = str.__getitem__(self, key)
        self._left -= len(item) or 1  # a slice costs its length
        if self._left < 0:
            raise _OverBudget
        return item


def _parse_long(text: str) -> object:
    """Broken text longer than the repair bound, in linear time: the one valid value between its first
    ``{``/``[`` and its last ``}``/``]`` (prose or a code fence around it), or a value cut off part-way (a
    reply that hit its token limit) closed where it stops; else ``JSONRepairError``."""
    start = _first_opener(text)
    end = max(text.rfind("}"), text.rfind("]"))
    enclosed = [text[start : end + 1]] if 0 <= start < end else []
    for candidate in itertools.chain(enclosed, _closed_candidates(text[start:]) if start >= 0 else ()):
        try:
            return json.loads(candidate, parse_constant=_reject_constant, parse_float=_parse_float)
        except (ValueError, RecursionError):
            continue
    raise JSONRepairError(
        f"refused to repair {len(text):,} characters of broken JSON: text longer than {_MAX_REPAIR_CHARS:,} "
        "characters is only accepted when it holds a valid JSON value, or one cut off part-way (repairing "
        "anything else could take many seconds). Ask for shorter JSON, or repair a smaller piece"
    )


# A string (perhaps unterminated) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_CLOSER = {"{": "}", "[": "]"}
# A cut drops at most this much of the end (a member cut off part-way), never the bulk of the text.
_MAX_DROPPED = 4096


def _closed_candidates(text: str) -> Iterator[str]:
    """Ways to close JSON text that stops part-way, most complete first: the text as it is (an open string
    closed, a dangling comma dropped, a dangling colon given ``null``), then cut before the last comma,
    then cut after the last opening bracket (when that drops at most ``_MAX_DROPPED`` characters); each
    followed by the closers of the brackets still open at that point.

    One pass over the text, of at most one bracket or string per four characters (real documents have
    fewer): past that the text is given up on."""
    scan = _open_brackets(text, len(text) // 4 + 1000)
    if scan is None:
        return
    stack, strings, count = scan
    whole = text
    last = text[strings[-1][0] : strings[-1][1]] if strings else ""
    if last and strings[-1][1] >= len(text.rstrip("\\")) and not _is_closed_string(last):
        trailing = len(whole) - len(whole.rstrip("\\"))
        whole = whole[: len(whole) - trailing % 2] + '"'  # a lone trailing backslash would escape the quote
    whole = whole.rstrip()
    if whole.endswith(","):
        whole = whole[:-1]
    elif whole.endswith(":"):
        whole += "null"
    yield whole + "".join(reversed(stack))
    for marks, keep in ((",", 0), ("[{", 1)):
        cut = _last_outside_strings(text, marks, strings, count)
        if cut >= 0 and len(text) - cut <= _MAX_DROPPED:
            # The brackets open at the cut: those open at the end, with what the dropped tail did undone.
            at_cut = list(stack)
            tail = [m.group() for m in _TOKENS.finditer(text, cut + keep) if m.group() in "{}[]"]
            for token in reversed(tail):
                if token in "}]":
                    at_cut.append(token)
                elif at_cut:
                    at_cut.pop()
            yield text[: cut + keep] + "".join(reversed(at_cut))


def _open_brackets(text: str, budget: int) -> tuple[list[str], list[tuple[int, int]], int] | None:
    """The closers of the brackets ``text`` leaves open (innermost last), the spans of its last two strings
    and how many strings it has; ``None`` when it closes a bracket it never opened or its first value is
    already complete (then it is not a value cut off), or when it holds more than ``budget`` tokens."""
    stack: list[str] = []
    strings: list[tuple[int, int]] = []
    count = 0
    tokens = _TOKENS.finditer(text)
    for match in itertools.islice(tokens, budget):
        token = match.group()
        if token == "{" or token == "[":
            stack.append(_CLOSER[token])
        elif token == "}" or token == "]":
            if not stack or stack.pop() != token or not stack:
                return None
        else:
            count += 1
            strings.append(match.span())
            if len(strings) > 2:
                del strings[0]
    if not stack or next(tokens, None) is not None:
        return None
    return stack, strings, count


def _is_closed_string(token: str) -> bool:
    """Whether a string token from ``_TOKENS`` ends with its closing quote."""
    return len(token) > 1 and token.endswith('"')


def _last_outside_strings(text: str, marks: str, strings: list[tuple[int, int]], count: int) -> int:
    """The index of the last character of ``marks`` outside strings, or -1. Only the last two strings'
    spans are known, so a mark before them counts only when there are no other strings."""
    end = len(text)
    for start, stop in reversed(strings):
        found = max(text.rfind(mark, stop, end) for mark in marks)
        if found >= 0:
            return found
        end = start
    if count > len(strings):
        return -1
    return max(text.rfind(mark, 0, end) for mark in marks)


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
