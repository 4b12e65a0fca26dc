"""Partial values of a JSON reply while it streams in.

``PartialJSON`` is fed the reply's text piece by piece and gives, after each piece, the value of the text so
far with its open strings, arrays and objects closed: ``{"city": "Par`` reads as ``{"city": "Par"}``. A key
without its value yet, and a number or ``true`` / ``false`` / ``null`` still being written, are left out until
they complete, so a partial value never shows a wrong scalar.

Linear scanning: one pass over each piece keeps the nesting stack and the last point where the text is a
complete prefix; the value itself is then parsed by the C JSON parser from that prefix plus the closing
brackets. Text that is not strict JSON (prose around it, a missing comma) switches to the JSON repair
(``minillm.core.jsonfix``), which is run again only once the text has grown by an eighth, so the total work
stays linear in the reply's length.
"""

from __future__ import annotations

import json
from typing import Any

from minillm.core.errors import JSONRepairError
from minillm.core.jsonfix import loads as repair_loads

__all__ = ["PartialJSON"]

_CLOSE = {"{": "}", "[": "]"}
_NOTHING = object()
# Scanner states inside the current container.
_VALUE, _AFTER_VALUE, _KEY, _AFTER_KEY, _SCALAR, _STRING = range(6)


class PartialJSON:
    """The best value so far of a JSON text that arrives in pieces (see the module docstring)."""

    __slots__ = (
        "_cut", "_cut_stack", "_escape", "_in_key", "_last", "_repair_at", "_repairing", "_stack", "_start",
        "_state", "_text",
    )  # fmt: skip

    def __init__(self) -> None:
        self._text = ""
        self._start = -1  # where the JSON value starts (its first bracket)
        self._stack: list[str] = []
        self._state = _VALUE
        self._in_key = False
        self._escape = False
        self._cut = 0  # the text up to here is a complete prefix ...
        self._cut_stack: tuple[str, ...] = ()  # ... inside these open containers
        self._last: Any = _NOTHING
        self._repairing = False
        self._repair_at = 0

    @property
    def text(self) -> str:
        """The text fed so far."""
        return self._text

    def feed(self, piece: str) -> list[Any]:
        """Add ``piece``; return ``[value]`` when the value so far changed, else ``[]``."""
        if not piece:
            return []
        start = len(self._text)
        self._text += piece
        text = self._text
        if not self._repairing:
            self._scan(text, start)
        value = self._value(text)
        if value is _NOTHING or value == self._last:
            return []
        self._last = value
        return [value]

    def _scan(self, text: str, i: int) -> None:
        if self._start < 0:
            starts = [j for j in (text.find("{", i), text.find("[", i)) if j >= 0]
            if not starts:
                return
            i = self._start = min(starts)
        n = len(text)
        while i < n:
            c = text[i]
            if self._state == _STRING:
                if self._escape:
                    self._escape = False
                elif c == "\\":
                    self._escape = True
                elif c == '"':
                    self._state = _AFTER_KEY if self._in_key else _AFTER_VALUE
                    if not self._in_key:
                        self._mark(i + 1)
                i += 1
                continue
            if c in " \t\r\n":
                if self._state == _SCALAR:
                    self._end_scalar(i)
                i += 1
                continue
            if self._state == _SCALAR:
                if c in ",]}":
                    self._end_scalar(i)
                    continue
                i += 1
                continue
            if c in "{[":
                if self._state != _VALUE and self._stack:
                    self._repairing = True
                    return
                self._stack.append(c)
                self._state = _KEY if c == "{" else _VALUE
                self._mark(i + 1)
            elif c in "}]":
                if not self._stack or _CLOSE[self._stack[-1]] != c or self._state in (_AFTER_KEY,):
                    self._repairing = True
                    return
                self._stack.pop()
                self._state = _AFTER_VALUE
                self._mark(i + 1)
                if not self._stack:
                    return  # the value is complete; anything after it is ignored
            elif c == ",":
                if self._state != _AFTER_VALUE:
                    self._repairing = True
                    return
                self._state = _KEY if self._stack[-1] == "{" else _VALUE
            elif c == ":":
                if self._state != _AFTER_KEY:
                    self._repairing = True
                    return
                self._state = _VALUE
            elif c == '"':
                self._in_key = self._state == _KEY
                if self._state not in (_KEY, _VALUE):
                    self._repairing = True
                    return
                self._state = _STRING
            elif self._state == _VALUE:
                self._state = _SCALAR
            else:
                self._repairing = True
                return
            i += 1

    def _end_scalar(self, i: int) -> None:
        self._state = _AFTER_VALUE
        self._mark(i)

    def _mark(self, i: int) -> None:
        self._cut = i
        self._cut_stack = tuple(self._stack)

    def _value(self, text: str) -> Any:
        if self._repairing:
            if len(text) < self._repair_at:
                return _NOTHING
            self._repair_at = len(text) + len(text) // 8 + 1
            try:
                value = repair_loads(text)
            except JSONRepairError:
                return _NOTHING
            return _NOTHING if value == "" else value
        if self._start < 0:
            return _NOTHING
        if self._state == _STRING and not self._in_key:
            # An open string value shows what it holds so far.
            body = text[self._start :]
            if self._escape:
                body = body[:-1]
            candidate = body + '"' + "".join(_CLOSE[c] for c in reversed(self._stack))
        else:
            candidate = text[self._start : self._cut] + "".join(_CLOSE[c] for c in reversed(self._cut_stack))
        try:
            return json.loads(candidate)
        except ValueError:
            return _NOTHING
