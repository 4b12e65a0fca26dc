"""A sans-IO decoder for Server-Sent Events (``text/event-stream``), as the WHATWG HTML standard defines it.

Bytes go in with ``SSEDecoder.feed()`` in whatever pieces the network delivers; ``ServerSentEvent`` values come
out. ``finish()`` marks the end of the body. Nothing here touches a socket, so the sync and async transports and
the tests drive the same code (the shape of h11's connection object).

The rules (WHATWG HTML, "9.2.5 Parsing an event stream" and "9.2.6 Interpreting an event stream"):

- A line ends at CRLF, LF or CR. A CR that ends one piece and an LF that starts the next are one line ending.
  ``str.splitlines`` is never used: it also splits on U+2028, U+0085, form feed and others, which SSE keeps.
- The stream is UTF-8, decoded with replacement; only complete lines are decoded, so a character split across
  two pieces decodes correctly. One leading byte-order mark is dropped, even when it arrives split.
- A line starting with ``:`` is a comment and ignored (OpenRouter sends ``: OPENROUTER PROCESSING``).
- ``field:value`` with one optional space after the colon removed; a line without a colon is a field with an
  empty value. ``data`` lines are joined with ``\\n``; ``event`` names the type ("message" when empty) and
  resets after every blank line; ``id`` is sticky and ignored when it holds U+0000; ``retry`` counts only
  when it is all ASCII digits. Unknown fields are ignored.
- A blank line dispatches the event, unless no ``data`` line came since the previous blank line.

Denial of service: an event is handed over whole, so the decoder bounds its size, ``max_event_bytes``
(``DEFAULT_MAX_EVENT_BYTES``, 16 MiB, unless set): an event grows by each of its lines (a data line, a
comment, any field; one byte for each line ending) from the previous blank line, and the line still being
read counts at once, so neither one endless line nor endless ``data:`` lines without a blank line can grow
memory without limit. A larger event raises ``StreamError`` (see ``EventTooLargeError``) and drops what was
buffered. The verdict does not depend on how the body is split into pieces. Its time is linear in the input,
so a server cannot make it spin by sending a huge event in small pieces either.
Each fed byte is looked at a constant number of times, by the piece it came in (a search for CR and, when one
is there, a CR/CRLF rewrite; a search for LF; one UTF-8 decode when its line is complete), the unfinished line
is grown in a ``bytearray`` (amortized O(1) per byte, never rebuilt or re-scanned when a piece arrives) and
decoded alone when its line ending comes, the other lines of a piece are decoded together and split once, and an
event's ``data`` lines are joined once when it is dispatched. A naive ``buffer += piece`` and re-scan per
piece is quadratic: a 64 MiB event in 1 KiB pieces would copy about 2 TB. Likewise a ``retry`` value longer
than ``_MAX_RETRY_DIGITS`` significant digits is ignored rather than converted, because turning a huge digit
string into an ``int`` is itself super-linear (and raises past Python's digit limit).
"""

from __future__ import annotations

from typing import NoReturn

import attrs

from minillm.core.errors import StreamError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "EventTooLargeError", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""The largest event a decoder accepts unless told otherwise (16 MiB): far above any completion chunk (a
base64 image in one event is a few MiB), far below what would exhaust a process's memory."""

_BOM = b"\xef\xbb\xbf"
_CR = b"\r"
_LF = b"\n"
_CRLF = b"\r\n"

# Enough for any sane reconnection delay in milliseconds (about 31 years), small enough that int() is cheap.
_MAX_RETRY_DIGITS = 12


@attrs.frozen
class ServerSentEvent:
    """One dispatched event.

    ``event`` is the type ("message" unless an ``event:`` line named another). ``data`` is the ``data``
    lines joined with ``\\n``. ``id`` is the last event ID in force when the event was dispatched (sticky
    across events; ``None`` when the stream never set one, ``""`` after an empty ``id:``). ``retry`` is the
    reconnection time in milliseconds given by a valid ``retry:`` line in this event's block, else ``None``.
    """

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class EventTooLargeError(StreamError):
    """An event grew past the decoder's ``max_event_bytes``. ``events`` are the events the same ``feed()``
    completed before it, which would otherwise be lost; the caller still owes them to whoever reads."""

    def __init__(self, limit: int, events: list[ServerSentEvent]) -> None:
        super().__init__(
            f"the server sent an event larger than {limit} bytes (max_event_bytes): the stream was stopped to "
            "bound memory; if the provider really sends events this large, raise max_event_bytes on the client"
        )
        self.limit = limit
        self.events = events


class SSEDecoder:
    """Turns the bytes of one ``text/event-stream`` body into ``ServerSentEvent`` values, incrementally.

    Call ``feed()`` with each piece as it arrives; it returns the events those bytes completed, in order.
    Call ``finish()`` at the end of the body. The decoder does no I/O and keeps no global state.
    ``max_event_bytes`` bounds one event (see the module docstring): past it ``feed()`` raises
    ``EventTooLargeError``, and keeps raising it until ``finish()``.
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._last_event_id: str | None = None
        self._reconnection_time: int | None = None
        self._reset_stream()

    def _reset_stream(self) -> None:
        # The unfinished line: bytes after the last line ending, grown in place (see the module docstring).
        self._pending = bytearray()
        # The previous piece ended with CR: an LF at the start of the next piece belongs to that line ending.
        self._skip_lf = False
        # No line decoded yet, so a leading byte-order mark may still be ahead.
        self._at_start = True
        self._data: list[str] = []
        self._event_type = ""
        self._id_buffer: str | None = None
        self._retry: int | None = None
        # The bytes of the complete lines of the event being read (each with one byte for its line ending).
        self._size = 0
        self._too_large = False

    @property
    def last_event_id(self) -> str | None:
        """The last event ID as of the latest blank line (``None`` until an ``id`` field was seen).

        It follows the WHATWG "last event ID string": a block with an ``id`` but no ``data`` still updates it,
        although no event is dispatched.
        """
        return self._last_event_id

    @property
    def reconnection_time(self) -> int | None:
        """The latest valid ``retry`` value in milliseconds, from any block, even one that dispatched nothing."""
        return self._reconnection_time

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Take the next piece of the body and return the events it completed (often none).

        Raises ``EventTooLargeError`` (carrying the events completed before it) when an event grows past
        ``max_event_bytes``.
        """
        if self._too_large:
            raise EventTooLargeError(self._max, [])
        if (
            data.startswith(b"data: ")
            and data.endswith(b"\n\n")
            and not self._pending
            and not self._data
            and not self._skip_lf
            and not self._at_start
            and data.count(_LF) == 2
            and _CR not in data
        ):
            # The usual piece of a completion stream, one whole event of one data line with nothing before
            # it: what the general path below would do, without splitting lines.
            if self._size + len(data) - 1 > self._max:
                self._overflow([])
            self._size = 0
            # What _event does, written out: this runs once per event of a completion stream.
            self._last_event_id = self._id_buffer
            event = ServerSentEvent(
                self._event_type or "message", data[6:-2].decode("utf-8", "replace"), self._id_buffer, self._retry
            )
            self._event_type, self._retry = "", None
            return [event]
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == _LF:
                data = data[1:]
        if _CR in data:
            # A CR always ends a line at once; remember a trailing one so a split CRLF counts once.
            self._skip_lf = data.endswith(_CR)
            data = data.replace(_CRLF, _LF).replace(_CR, _LF)
        end = data.rfind(_LF)
        if end < 0:
            self._pending += data
            if self._size + len(self._pending) > self._max:
                self._overflow([])
            return []
        events: list[ServerSentEvent] = []
        start = 0
        if self._pending:
            # The first LF completes the pending line: decode it alone, so a huge line is never split or re-scanned.
            start = data.find(_LF) + 1
            self._pending += data[: start - 1]
            self._count_line(len(self._pending), events)
            self._take_lines(self._pending, events, one_line=True)
            self._pending = bytearray()
        if start <= end:
            block = data[start:end]
            if self._size + len(block) + 1 <= self._max:
                # No line of the block can reach the limit: take it whole, and count what follows its last
                # blank line.
                self._take_lines(block, events, one_line=False)
                self._size = _size_after(block, self._size)
            else:
                # Near the limit: line by line, so the events before the line that crosses it are kept.
                for line in block.split(_LF):
                    self._count_line(len(line), events)
                    self._take_lines(line, events, one_line=True)
        if end + 1 < len(data):
            self._pending += data[end + 1 :]
            if self._size + len(self._pending) > self._max:
                self._overflow(events)
        return events

    def finish(self) -> list[ServerSentEvent]:
        """End the body and return the events still due: always none, because of the WHATWG rule below.

        "Once the end of the file is reached, any pending data must be discarded. (If the file ends in the
        middle of an event, before the final empty line, the incomplete event is not dispatched.)" A line is
        only a line once its CR, LF or CRLF arrives (the grammar ends every field with ``end-of-line``), so an
        unterminated final line is pending data too: it is discarded without being processed (a trailing
        ``retry:`` without a line ending does not change ``reconnection_time``). The list return keeps
        ``events += decoder.finish()`` uniform with ``feed()``.

        The decoder is then ready for another body (as after a reconnection): ``last_event_id`` and
        ``reconnection_time`` are kept, everything else starts afresh.
        """
        self._reset_stream()
        return []

    def _count_line(self, length: int, events: list[ServerSentEvent]) -> None:
        """Add a complete line of ``length`` bytes to the event's size (a blank line ends the event)."""
        if length == 0:
            self._size = 0
            return
        self._size += length + 1
        if self._size > self._max:
            self._overflow(events)

    def _overflow(self, events: list[ServerSentEvent]) -> NoReturn:
        """Drop what the oversized event buffered and refuse the rest of the body."""
        self._pending = bytearray()
        self._data = []
        self._size = 0
        self._too_large = True
        raise EventTooLargeError(self._max, events)

    def _take_lines(self, block: bytes | bytearray, events: list[ServerSentEvent], *, one_line: bool) -> None:
        """Process complete lines (LF-separated, without the final LF), adding any dispatched events."""
        if self._at_start:
            self._at_start = False
            if block.startswith(_BOM):
                block = block[len(_BOM) :]
        # Decoding several complete lines at once equals decoding each alone: CR and LF bytes never occur
        # inside a UTF-8 sequence, and a sequence cut short by a line ending becomes one U+FFFD either way.
        # Only LF separates lines here (CRs were rewritten in feed()), so str.split("\n") is exact.
        text = block.decode("utf-8", "replace")
        for line in [text] if one_line else text.split("\n"):
            if not line:
                event = self._dispatch()
                if event is not None:
                    events.append(event)
            elif line.startswith("data:"):
                # Nearly every line of a completion stream: handled here, as _process_field would.
                self._data.append(line[6:] if line.startswith(" ", 5) else line[5:])
            else:
                self._process_field(line)

    def _process_field(self, line: str) -> None:
        if line[0] == ":":
            return
        colon = line.find(":")
        if colon < 0:
            name, value = line, ""
        else:
            name = line[:colon]
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == " " else line[colon + 1 :]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif name == "retry":
            retry = _parse_retry(value)
            if retry is not None:
                self._retry = retry
                self._reconnection_time = retry

    def _dispatch(self) -> ServerSentEvent | None:
        data = self._data
        if not data:
            # WHATWG dispatch: the last event ID is updated even for a block that carries no data.
            self._last_event_id = self._id_buffer
            self._event_type, self._retry = "", None
            return None
        self._data = []
        return self._event("\n".join(data))

    def _event(self, data: str) -> ServerSentEvent:
        """Dispatch the event being read, with ``data`` (its data lines joined), and start the next one."""
        self._last_event_id = self._id_buffer  # updated first (WHATWG), kept across events
        event = ServerSentEvent(self._event_type or "message", data, self._id_buffer, self._retry)
        self._event_type, self._retry = "", None
        return event


def _size_after(block: bytes, size: int) -> int:
    """The event size after the complete lines ``block`` (LF-separated, its final LF not included), from
    ``size`` before it: the bytes after the block's last blank line, or ``size`` plus all of it."""
    if not block or block.endswith(_LF):
        return 0  # the last line is blank
    blank = block.rfind(b"\n\n")
    if blank >= 0:
        return len(block) - blank - 1
    if block.startswith(_LF):
        return len(block)
    return size + len(block) + 1


def _parse_retry(value: str) -> int | None:
    """The value as an integer when it is all ASCII digits (and not absurdly long), else ``None``."""
    if not (value.isascii() and value.isdigit()):
        return None
    significant = value.lstrip("0")
    if len(significant) > _MAX_RETRY_DIGITS:
        return None
    return int(significant or "0")
