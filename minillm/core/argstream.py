"""Live decoding of one tool call's streamed arguments, field by field.

A model that calls ``write_file(path, content)`` streams the arguments as JSON text in small fragments. To
act on ``content`` while it is still being generated (write the file as it arrives, show it in a UI), feed the
fragments to an ``ArgumentStream`` and read a ``FieldHandle``: ``take()`` gives the decoded text that arrived
since the last call, ``done`` / ``value`` the complete value. Fields without a handle are parsed into
``fields()`` as each completes.

Sans-IO, like the rest of the core: nothing here waits. The caller feeds fragments (from ``StreamChunk``
tool-call deltas, sync or async) and reads the handles between feeds; everything decoded by the end of a
``feed`` is available right after it, whatever the fragment boundaries (mid-escape, mid-key, between the
halves of a surrogate pair).

Two modes. ``strict()`` accepts JSON only and raises ``MalformedResponseError`` at the first defect.
``lenient()`` accepts what models actually write inside top-level string values: unescaped quotes, raw
newlines, stray backslashes, a stream cut off mid-string (see ``ArgumentStream.lenient``). Non-string values
(numbers, booleans, null, nested objects and arrays) must be valid JSON in both modes.

Linear in the input: string text is scanned with regular expressions and kept as lists of pieces; the only
text held back between feeds is an incomplete escape or, in lenient mode, a quote whose meaning the next
characters decide, and that look-ahead is capped at ``_LOOKAHEAD_LIMIT`` characters (a longer one counts as
literal text), so tiny fragments cannot make the scan quadratic.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, NoReturn

from minillm.core.errors import InvalidParameterError, JSONRepairError, MalformedResponseError, MiniLLMError

__all__ = ["ArgumentStream", "FieldHandle"]

_log = logging.getLogger("minillm")

# A quote in a lenient string is decided by what follows it; past this many characters without a decision
# it is literal text (keys are short, so a real field boundary is always decided well before).
_LOOKAHEAD_LIMIT = 1024
# Error messages quote the raw arguments up to this many characters.
_RAW_IN_ERRORS = 2000

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset("0123456789abcdefABCDEF")
_WS = re.compile(r"[ \t\n\r]*")
_STRICT_SPECIAL = re.compile(r'["\\\x00-\x1f]')
_LENIENT_SPECIAL = re.compile(r'["\\]')
_RAW_STRING_SPECIAL = re.compile(r'["\\]')
_RAW_SPECIAL = re.compile(r'["{}\[\],]')

# Parser states.
_START, _KEY_OR_CLOSE, _KEY_START, _KEY, _COLON, _VALUE, _STRING, _RAW, _AFTER_VALUE, _DONE = range(10)

# Look-ahead verdicts for a quote in a lenient string.
_END, _LITERAL, _MORE = range(3)
# Escape decoding: not enough text yet.
_NEED_MORE = None


class FieldHandle:
    """The live view of one field of a streamed tool call, from ``ArgumentStream.field(name)``.

    ``take()`` returns the decoded text that arrived since the previous call (string fields only; ``""`` when
    nothing new came). ``done`` turns true when the field is complete or can no longer complete; then
    ``value`` is the parsed value (a ``str`` for string fields) or raises the ``error``.
    """

    __slots__ = ("_error", "_has_value", "_pieces", "_unread", "_value", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._pieces: list[str] = []
        self._unread: list[str] = []
        self._value: Any = None
        self._has_value = False
        self._error: MiniLLMError | None = None

    def take(self) -> str:
        """The decoded text received since the last ``take()`` (``""`` when there is none)."""
        if not self._unread:
            return ""
        new = self._unread[0] if len(self._unread) == 1 else "".join(self._unread)
        self._unread = []
        return new

    @property
    def text(self) -> str:
        """All the decoded text received so far (string fields only)."""
        if len(self._pieces) > 1:
            self._pieces = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def done(self) -> bool:
        """True once the value is complete, or the field failed (``error`` says why)."""
        return self._has_value or self._error is not None

    @property
    def error(self) -> MiniLLMError | None:
        """Why the field cannot complete (the stream failed, or ended without it), else None."""
        return self._error

    @property
    def value(self) -> Any:
        """The complete value. Raises the field's ``error`` when it failed, and ``InvalidParameterError`` when
        it is not complete yet (check ``done`` first, or call ``ArgumentStream.finish()``)."""
        if self._has_value:
            return self._value
        if self._error is not None:
            raise self._error
        raise InvalidParameterError(
            f"the field {self.name!r} is not complete yet; check .done, or call finish() on the ArgumentStream"
        )

    def __repr__(self) -> str:
        state = "done" if self._has_value else "failed" if self._error is not None else "open"
        return f"FieldHandle({self.name!r}, {state})"

    # Fed by the ArgumentStream -------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        self._pieces.append(text)
        self._unread.append(text)

    def _complete(self, value: Any) -> None:
        if not self.done:
            self._value = value
            self._has_value = True

    def _fail(self, error: MiniLLMError) -> None:
        if not self.done:
            self._error = error


class _Field:
    """The top-level field being parsed: its key, where its text goes, and its pieces so far."""

    __slots__ = ("handle", "key", "pieces")

    def __init__(self, key: str, handle: FieldHandle | None) -> None:
        self.key = key
        self.handle = handle
        self.pieces: list[str] = []

    def emit(self, text: str) -> None:
        if text:
            self.pieces.append(text)
            if self.handle is not None:
                self.handle._emit(text)


class ArgumentStream:
    """Feed the streamed argument fragments of one tool call; read fields as they decode.

    Take handles with ``field(name)`` (best before feeding), ``feed(fragment)`` each fragment, and call
    ``finish()`` when the call's arguments are complete. Empty or whitespace-only arguments are a valid call
    without parameters.

    Strict-mode defects raise ``MalformedResponseError("streamed tool arguments: <what> (raw: <text>)")`` from
    the ``feed`` or ``finish`` that meets them: an unterminated string, an object never closed, an invalid
    escape, an unpaired surrogate, a raw control character in a string, text after the closing ``}``, a top
    level that is not an object, a missing ``:``, or a value that is not valid JSON. After an error every
    ``feed`` and ``finish`` raises it again. ``finish`` closes every handle; a handle whose field never came
    fails with "ended without the field '<name>'".

    A duplicate key: the last value wins in ``fields()``; a handle keeps the first complete value.
    """

    def __init__(self, *, lenient: bool = False) -> None:
        self._lenient = lenient
        self._special = _LENIENT_SPECIAL if lenient else _STRICT_SPECIAL
        self._raw: list[str] = []
        self._pending = ""
        self._state = _START
        self._handles: dict[str, FieldHandle] = {}
        self._handled: dict[str, Any] = {}  # complete values of fields that had a handle
        self._fields: dict[str, Any] = {}
        self._key: list[str] = []
        self._field: _Field | None = None
        self._raw_value: list[str] = []
        self._raw_depth = 0
        self._raw_in_string = False
        self._raw_escape = False
        self._error: MiniLLMError | None = None
        self._finished = False

    @classmethod
    def strict(cls) -> ArgumentStream:
        """A stream that accepts JSON only and raises at the first defect."""
        return cls(lenient=False)

    @classmethod
    def lenient(cls) -> ArgumentStream:
        """A stream that reads top-level string values the way models write them.

        An unescaped ``"`` ends the string only when followed (whitespace allowed) by ``, "<key>":``, by ``}``
        at the very end of the input, or by the end of the input; otherwise it is a literal quote. Raw newlines
        and control characters are literal; ``\\`` before a character that is no escape is a literal
        backslash; an invalid ``\\u`` is literal text; an unpaired surrogate becomes U+FFFD. A stream that stops
        mid-string delivers what arrived (a trailing ``\\`` or ``\\u12`` kept as is), and one that stops
        mid-structure keeps the completed fields; ``finish`` then repairs the whole text as JSON (``loads``)
        and adds the keys found that are neither in ``fields()`` nor handled. Known misfire: a string that
        contains ``", "somekey": `` is read as two fields.
        """
        return cls(lenient=True)

    @property
    def is_lenient(self) -> bool:
        return self._lenient

    @property
    def raw(self) -> str:
        """All the text fed so far."""
        if len(self._raw) > 1:
            self._raw = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def finished(self) -> bool:
        """True once ``finish()`` was called (successfully or not)."""
        return self._finished

    def field(self, name: str) -> FieldHandle:
        """A handle on the top-level field ``name``; the field then stays out of ``fields()``.

        A handle taken after its field completed receives the complete value; one taken while the field is
        arriving receives the text so far. Taking a second handle on a name replaces the first, which fails
        with ``InvalidParameterError`` if it was still open.
        """
        if not isinstance(name, str):
            raise InvalidParameterError(f"a field name must be a str, got {name!r}")
        handle = FieldHandle(name)
        old = self._handles.get(name)
        if old is not None:
            old._fail(InvalidParameterError(f"this handle on {name!r} was replaced by a newer field({name!r}) call"))
        self._handles[name] = handle
        if name in self._handled:
            self._deliver(handle, self._handled[name])
        elif name in self._fields:
            self._handled[name] = value = self._fields.pop(name)
            self._deliver(handle, value)
        elif self._error is not None:
            handle._fail(self._error)
        elif self._field is not None and self._field.key == name:
            self._field.handle = handle
            for piece in self._field.pieces:
                handle._emit(piece)
        elif self._finished:
            handle._fail(self._missing(name))
        return handle

    def fields(self) -> dict[str, Any]:
        """The complete fields that have no handle, parsed (a copy)."""
        return dict(self._fields)

    def feed(self, fragment: str) -> None:
        """Take the next fragment of the arguments; decoded text is available on the handles right after."""
        if self._error is not None:
            raise self._error
        if self._finished:
            raise InvalidParameterError("feed() after finish(): this ArgumentStream is complete")
        if not isinstance(fragment, str):
            raise InvalidParameterError(f"feed() takes the arguments' text (str), got {type(fragment).__name__}")
        if not fragment:
            return
        self._raw.append(fragment)
        text = self._pending + fragment if self._pending else fragment
        self._pending = text[self._run(text, eof=False) :]

    def finish(self) -> None:
        """End the arguments: complete what can be completed and close every handle.

        Strict mode raises for an incomplete text. Calling it twice raises ``InvalidParameterError``.
        """
        if self._error is not None:
            raise self._error
        if self._finished:
            raise InvalidParameterError("finish() was already called on this ArgumentStream")
        self._finished = True
        text, self._pending = self._pending, ""
        if text:
            rest = self._run(text, eof=True)
            if rest < len(text) and not self._lenient:
                self._fail_at_end()
        if self._state not in (_DONE, _START):
            if not self._lenient:
                self._fail_at_end()
            if self._state == _STRING and self._field is not None:
                self._complete_field("".join(self._field.pieces))
            self._field = None
            self._repair_pass()
        for name, handle in self._handles.items():
            handle._fail(self._missing(name))

    # ----- parsing --------------------------------------------------------------------------------------

    def _run(self, text: str, eof: bool) -> int:
        """Parse ``text`` from the start; return how far it was consumed (the rest waits for more)."""
        i, n = 0, len(text)
        while i < n:
            state = self._state
            if state == _STRING:
                j = self._string(text, i, eof)
            elif state == _RAW:
                j = self._raw_chars(text, i)
            elif state == _KEY:
                j = self._key_chars(text, i, eof)
            else:
                i = _skip_ws(text, i)
                if i >= n:
                    break
                j = self._structure(text, i)
            if j < 0:  # needs more text to decide; keep it from -j - 1 on
                return -j - 1
            i = j
        return n

    def _structure(self, text: str, i: int) -> int:
        """One structural character (whitespace already skipped) in any state but string, key and raw."""
        c, state = text[i], self._state
        if state == _START:
            if c != "{":
                self._fail(f"the arguments are not a JSON object (they start with {c!r})")
            self._state = _KEY_OR_CLOSE
        elif state in (_KEY_OR_CLOSE, _KEY_START):
            if c == '"':
                self._key = []
                self._state = _KEY
            elif c == "}" and (state == _KEY_OR_CLOSE or self._lenient):
                self._state = _DONE
            else:
                self._fail(f"expected a key in double quotes, found {c!r}")
        elif state == _COLON:
            if c != ":":
                self._fail(f"missing ':' after the key {''.join(self._key)!r}")
            self._state = _VALUE
        elif state == _VALUE:
            key = "".join(self._key)
            if c in ",}":
                self._fail(f"missing value for the key {key!r}")
            self._field = _Field(key, self._target(key))
            if c == '"':
                self._state = _STRING
            else:
                self._state = _RAW
                self._raw_value, self._raw_depth = [], 0
                self._raw_in_string = self._raw_escape = False
                return i  # the raw scanner takes this character too
        elif state == _AFTER_VALUE:
            if c == ",":
                self._state = _KEY_START
            elif c == "}":
                self._state = _DONE
            else:
                self._fail(f"expected ',' or '}}' after the value of {self._last_key()!r}, found {c!r}")
        elif state == _DONE:
            if not self._lenient:
                self._fail("junk after the closing '}'")
            return len(text)  # lenient: whatever follows the object is ignored
        return i + 1

    def _key_chars(self, text: str, i: int, eof: bool) -> int:
        n = len(text)
        while i < n:
            m = self._special.search(text, i)
            if m is None:
                self._key.append(text[i:])
                return n
            j = m.start()
            if j > i:
                self._key.append(text[i:j])
            c = text[j]
            if c == '"':
                self._state = _COLON
                return j + 1
            if c == "\\":
                decoded = self._escape(text, j, eof)
                if decoded is _NEED_MORE:
                    return -j - 1
                piece, i = decoded
                self._key.append(piece)
            else:
                self._fail("raw control character in a key")
        return n

    def _string(self, text: str, i: int, eof: bool) -> int:
        """Text of a top-level string value; at its end the field completes."""
        field = self._field
        assert field is not None
        n = len(text)
        while i < n:
            m = self._special.search(text, i)
            if m is None:
                field.emit(text[i:])
                return n
            j = m.start()
            if j > i:
                field.emit(text[i:j])
            c = text[j]
            if c == "\\":
                decoded = self._escape(text, j, eof)
                if decoded is _NEED_MORE:
                    return -j - 1
                piece, i = decoded
                field.emit(piece)
            elif c == '"':
                verdict = _lookahead(text, j + 1, eof) if self._lenient else _END
                if verdict == _MORE:
                    return -j - 1
                if verdict == _END:
                    self._complete_field("".join(field.pieces))
                    self._state = _AFTER_VALUE
                    return j + 1
                field.emit('"')
                i = j + 1
            else:
                self._fail("raw control character in a string (escape it as \\n, \\t or \\u00XX)")
        return n

    def _escape(self, text: str, i: int, eof: bool) -> tuple[str, int] | None:
        """Decode the escape at ``text[i]`` (a backslash): ``(decoded text, next index)``, or None when the
        text ends too soon to tell. Lenient mode turns what is not an escape into literal text."""
        n = len(text)
        if i + 1 >= n:
            return ("\\", i + 1) if eof and self._lenient else _NEED_MORE
        c = text[i + 1]
        simple = _ESCAPES.get(c)
        if simple is not None:
            return simple, i + 2
        if c != "u":
            if self._lenient:
                return "\\", i + 1
            self._fail(f"invalid escape {text[i : i + 2]!r} in a string")
        digits = text[i + 2 : i + 6]
        if not all(d in _HEX for d in digits):
            if self._lenient:
                return "\\", i + 1
            self._fail(f"invalid escape {text[i : i + 2 + len(digits)]!r} in a string")
        if len(digits) < 4:
            # Strict mode keeps waiting, and fails at finish on the unterminated string.
            return ("\\", i + 1) if eof and self._lenient else _NEED_MORE
        code = int(digits, 16)
        if 0xDC00 <= code <= 0xDFFF:
            return self._unpaired(text[i : i + 6], i + 6)
        if not 0xD800 <= code <= 0xDBFF:
            return chr(code), i + 6
        low = text[i + 6 : i + 12]
        if _may_be_low_surrogate(low):
            if len(low) < 6:
                return self._unpaired(text[i : i + 6], i + 6) if eof and self._lenient else _NEED_MORE
            second = int(low[2:], 16)
            return chr(0x10000 + ((code - 0xD800) << 10) + (second - 0xDC00)), i + 12
        return self._unpaired(text[i : i + 6], i + 6)

    def _unpaired(self, escape: str, end: int) -> tuple[str, int]:
        if not self._lenient:
            self._fail(f"unpaired surrogate {escape!r} in a string")
        return "\ufffd", end

    def _raw_chars(self, text: str, i: int) -> int:
        """A non-string value, kept raw until the ``,`` or ``}`` that ends it, then parsed as JSON."""
        start, n = i, len(text)
        while i < n:
            if self._raw_in_string:
                if self._raw_escape:
                    self._raw_escape = False
                    i += 1
                    continue
                m = _RAW_STRING_SPECIAL.search(text, i)
                if m is None:
                    break
                i = m.end()
                if m.group() == "\\":
                    self._raw_escape = True
                else:
                    self._raw_in_string = False
                continue
            m = _RAW_SPECIAL.search(text, i)
            if m is None:
                break
            j, c = m.start(), m.group()
            if c == '"':
                self._raw_in_string = True
            elif c in "{[":
                self._raw_depth += 1
            elif self._raw_depth > 0 and c in "}]":
                self._raw_depth -= 1
            elif self._raw_depth == 0 and c in ",}":
                self._raw_value.append(text[start:j])
                self._end_raw()
                return j  # the separator is read as structure
            i = j + 1
        self._raw_value.append(text[start:n])
        return n

    def _end_raw(self) -> None:
        raw = "".join(self._raw_value).strip()
        self._raw_value = []
        key = self._last_key()
        try:
            value = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            self._fail(f"the value of {key!r} is not valid JSON: {raw[:200]!r}")
        self._complete_field(value)
        self._state = _AFTER_VALUE

    # ----- fields and handles -------------------------------------------------------------------------------

    def _last_key(self) -> str:
        return self._field.key if self._field is not None else "".join(self._key)

    def _target(self, key: str) -> FieldHandle | None:
        handle = self._handles.get(key)
        return None if handle is None or handle.done else handle

    def _complete_field(self, value: Any) -> None:
        field = self._field
        assert field is not None
        self._field = None
        handle = self._handles.get(field.key)
        if handle is None:
            self._fields[field.key] = value
        elif field.handle is handle:
            self._handled[field.key] = value
            handle._complete(value)
        # else: a duplicate of a field whose handle is already complete; the handle keeps the first value

    @staticmethod
    def _deliver(handle: FieldHandle, value: Any) -> None:
        if isinstance(value, str) and value:
            handle._emit(value)
        handle._complete(value)

    def _repair_pass(self) -> None:
        """Lenient end of an incomplete object: add what the JSON repair finds that nothing else holds."""
        from minillm.core.jsonfix import loads

        try:
            repaired = loads(self.raw)
        except JSONRepairError as e:
            _log.debug("streamed tool arguments: the repair pass found nothing usable (%s)", e)
            return
        if not isinstance(repaired, dict):
            return
        for key, value in repaired.items():
            handle = self._handles.get(key)
            if handle is not None:
                if not handle.done:
                    self._handled[key] = value
                    self._deliver(handle, value)
            elif key not in self._fields:
                self._fields[key] = value

    # ----- errors --------------------------------------------------------------------------------------------

    def _missing(self, name: str) -> MalformedResponseError:
        return MalformedResponseError(
            f"streamed tool arguments: ended without the field {name!r} (raw: {self._raw_preview()})"
        )

    def _raw_preview(self) -> str:
        raw = self.raw
        if len(raw) <= _RAW_IN_ERRORS:
            return raw
        return f"{raw[:_RAW_IN_ERRORS]}… ({len(raw)} characters in all)"

    def _fail_at_end(self) -> NoReturn:
        if self._state in (_STRING, _KEY):
            self._fail("unterminated string")
        self._fail("the object is not closed")

    def _fail(self, what: str) -> NoReturn:
        error = MalformedResponseError(f"streamed tool arguments: {what} (raw: {self._raw_preview()})")
        self._error = error
        self._finished = True
        for handle in self._handles.values():
            handle._fail(error)
        raise error


def _skip_ws(text: str, i: int) -> int:
    """The index of the first character at or after ``i`` that is not JSON whitespace (``len(text)`` if none)."""
    m = _WS.match(text, i)
    assert m is not None  # the pattern matches the empty string, so it matches anywhere
    return m.end()


def _lookahead(text: str, j: int, eof: bool) -> int:
    """What the characters after a quote in a lenient string say about it (``text[j:]`` follows the quote).

    ``_END`` when whitespace then ``, "<key>":``, ``}`` at the very end, or the end itself follows;
    ``_LITERAL`` otherwise; ``_MORE`` when the text so far cannot tell (and is under the look-ahead limit).
    """
    n = len(text)
    more = _LITERAL if n - j > _LOOKAHEAD_LIMIT else _MORE
    k = _skip_ws(text, j)
    if k >= n:
        return _END if eof else more
    c = text[k]
    if c == "}":
        k = _skip_ws(text, k + 1)
        if k >= n:
            return _END if eof else more
        return _LITERAL
    if c != ",":
        return _LITERAL
    k = _skip_ws(text, k + 1)
    if k >= n:
        return _LITERAL if eof else more
    if text[k] != '"':
        return _LITERAL
    k += 1
    while True:  # the candidate key, a JSON string
        m = _RAW_STRING_SPECIAL.search(text, k)
        if m is None:
            return _LITERAL if eof else more
        if m.group() == '"':
            k = m.end()
            break
        k = m.end() + 1
    k = _skip_ws(text, k)
    if k >= n:
        return _LITERAL if eof else more
    return _END if text[k] == ":" else _LITERAL


def _may_be_low_surrogate(text: str) -> bool:
    """Whether ``text`` (up to 6 characters) is, or may become, a ``\\uDC00``-``\\uDFFF`` escape."""
    pattern = ("\\", "u", "dD", "cdefCDEF", _HEX, _HEX)
    return all(ch in allowed for ch, allowed in zip(text, pattern, strict=False))


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")
