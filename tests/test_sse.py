"""Tests for the SSE decoder (minillm.core.sse).

Every stream goes through ``decode_every_way``: besides one ``feed``, it is fed byte by byte and split in two
at every offset, with empty feeds in between, and every way must give the same events and decoder state.
The vectors transcribe, as data, the cases of web-platform-tests ``eventsource/format-*`` and of the
``eventsource-parser`` npm package's fixtures (noted per case), plus the rules of WHATWG HTML section 9.2.
"""

from __future__ import annotations

import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minillm.core.errors import StreamError
from minillm.core.sse import DEFAULT_MAX_EVENT_BYTES, EventTooLargeError, ServerSentEvent, SSEDecoder

E = ServerSentEvent
BOM = b"\xef\xbb\xbf"


# --- the every-offset harness -----------------------------------------------------------------------------

Outcome = tuple[list[ServerSentEvent], str | None, int | None]


def _run(pieces: list[bytes]) -> Outcome:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    events += decoder.finish()
    return events, decoder.last_event_id, decoder.reconnection_time


def _fragmentations(stream: bytes) -> list[list[bytes]]:
    byte_by_byte = [b""]
    for i in range(len(stream)):
        byte_by_byte += [stream[i : i + 1], b""]
    ways = [byte_by_byte]
    ways += [[stream[:i], b"", stream[i:]] for i in range(len(stream) + 1)]
    return ways


def decode_every_way_full(stream: bytes) -> Outcome:
    """Decode ``stream`` in one feed, then every other way; all must agree. Returns the one-feed outcome."""
    expected = _run([stream])
    for pieces in _fragmentations(stream):
        assert _run(pieces) == expected, f"split {[len(p) for p in pieces][:8]}... differs"
    return expected


def decode_every_way(stream: bytes) -> list[ServerSentEvent]:
    return decode_every_way_full(stream)[0]


# --- the value type ---------------------------------------------------------------------------------------


def test_event_defaults_and_equality() -> None:
    event = ServerSentEvent(data="x")
    assert (event.event, event.data, event.id, event.retry) == ("message", "x", None, None)
    assert event == ServerSentEvent("message", "x", None, None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


# --- line endings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_each_line_ending(eol: bytes) -> None:
    stream = b"data: a" + eol + b"data: b" + eol + eol + b"data: c" + eol + eol
    assert decode_every_way(stream) == [E(data="a\nb"), E(data="c")]


def test_mixed_line_endings() -> None:
    stream = b"data: 1\rdata: 2\ndata: 3\r\n\rdata: 4\r\n\n"
    assert decode_every_way(stream) == [E(data="1\n2\n3"), E(data="4")]


def test_cr_then_crlf_is_a_line_then_a_blank_line() -> None:
    # eventsource-parser: a blank CR line ending a chunk dispatches exactly once.
    assert decode_every_way(b"data: one\r\r\n") == [E(data="one")]


def test_crlf_split_across_feeds_counts_once() -> None:
    # eventsource-parser issue 17: "data: A\r\n" "data: B\r" "\n" "data: C\r\n" "\n" is one event.
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in [b"data: A\r\n", b"data: B\r", b"\n", b"data: C\r\n", b"\n"]:
        events += decoder.feed(piece)
    assert events == [E(data="A\nB\nC")]


def test_split_crlf_survives_empty_feeds() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []  # the LF completes the CRLF; it is not a blank line
    assert decoder.feed(b"\n") == [E(data="x")]


def test_event_is_returned_by_the_feed_that_completes_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [E(data="a")]  # a CR ends the blank line at once, no wait for an LF
    assert decoder.feed(b"data: b\n") == []
    assert decoder.feed(b"\ndata: c") == [E(data="b")]


def test_wpt_newline_fest() -> None:
    # web-platform-tests eventsource/format-newlines
    assert decode_every_way(b"data:test\r\ndata\ndata:test\r\n\r") == [E(data="test\n\ntest")]


@pytest.mark.parametrize(
    "char",
    ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"],
    ids=["LS", "PS", "NEL", "VT", "FF", "FS", "GS", "RS"],
)
def test_only_cr_and_lf_end_lines(char: str) -> None:
    # str.splitlines would break these lines apart; SSE must not.
    stream = f"data: a{char}b\nevent: x{char}y\n\n".encode()
    assert decode_every_way(stream) == [E(event=f"x{char}y", data=f"a{char}b")]


# --- UTF-8 ------------------------------------------------------------------------------------------------


def test_multibyte_characters_survive_every_split() -> None:
    text = "é…漢字😀 我現在都看實況不玩遊戲"
    assert decode_every_way(f"data: {text}\n\n".encode()) == [E(data=text)]


def test_wpt_always_utf8() -> None:
    # web-platform-tests eventsource/format-utf-8: decoded as UTF-8 whatever the charset says.
    assert decode_every_way(b"data:ok\xe2\x80\xa6\n\n") == [E(data="ok\u2026")]


def test_invalid_utf8_is_replaced() -> None:
    stream = b"data: a\xffb\ndata: \xe2\x80\ndata: \xc3\n\n"
    assert decode_every_way(stream) == [E(data="a\ufffdb\n\ufffd\n\ufffd")]


def test_null_character_in_data_is_kept() -> None:
    # web-platform-tests eventsource/format-null-character
    assert decode_every_way(b"data:\x00\n\n") == [E(data="\x00")]


# --- byte-order mark --------------------------------------------------------------------------------------


def test_leading_bom_is_stripped() -> None:
    # web-platform-tests eventsource/format-bom: only the first BOM is dropped; a later one spoils its line.
    stream = BOM + b"data:1\n\n" + BOM + b"data:2\n\ndata:3\n\n"
    assert decode_every_way(stream) == [E(data="1"), E(data="3")]


def test_only_one_bom_is_stripped() -> None:
    # web-platform-tests eventsource/format-bom-2: with two BOMs the first line is an unknown field.
    stream = BOM + BOM + b"data:1\n\ndata:2\n\ndata:3\n\n"
    assert decode_every_way(stream) == [E(data="2"), E(data="3")]


def test_bom_split_across_feeds_is_stripped() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(BOM[:1]) == []
    assert decoder.feed(BOM[1:2]) == []
    assert decoder.feed(BOM[2:] + b"data: x\n\n") == [E(data="x")]


def test_bom_alone_then_a_blank_line() -> None:
    assert decode_every_way(BOM + b"\ndata: x\n\n") == [E(data="x")]


def test_bom_after_leading_blank_line_is_not_stripped() -> None:
    assert decode_every_way(b"\n" + BOM + b"data: x\n\ndata: y\n\n") == [E(data="y")]


def test_eventsource_parser_bom_fixture() -> None:
    # eventsource-parser "leading bom" / "multiple places": bomful 1, (bomful 2 lost), bomless 3, done.
    stream = (
        BOM + b"data: bomful 1\n\n" + BOM + b"data: bomful 2\n\ndata: bomless 3\n\nevent: done\ndata: \xe2\x9c\x94\n\n"
    )
    assert decode_every_way(stream) == [E(data="bomful 1"), E(data="bomless 3"), E(event="done", data="\u2714")]


# --- comments ---------------------------------------------------------------------------------------------


def test_comments_are_ignored() -> None:
    stream = b": hello\n:\n:data: fail\ndata: a\n: between lines of one event\ndata: b\n\n"
    assert decode_every_way(stream) == [E(data="a\nb")]


def test_comment_only_stream_has_no_events() -> None:
    assert decode_every_way(b":comment line 1\n:comment line 2\r\n\n\n") == []


def test_wpt_comment_fest() -> None:
    # web-platform-tests eventsource/format-comments (with a shorter filler so every split stays fast).
    filler = b"x" * 40
    stream = b"data:1\r:\x00\n:\r\ndata:2\n:" + filler + b"\rdata:3\n:data:fail\r:" + filler + b"\ndata:4\n\n"
    assert decode_every_way(stream) == [E(data="1\n2\n3\n4")]


def test_eventsource_parser_mixed_comments() -> None:
    # eventsource-parser "even more odd uses of comments": the final data:5 has no line ending, not emitted.
    filler = b"x" * 30
    stream = (
        b"data:1\r\r:\x00\n:\r\ndata:2\n\n:" + filler + b"\rdata:3\n\n:data:fail\r:" + filler + b"\ndata:4\n\ndata:5"
    )
    assert decode_every_way(stream) == [E(data="1"), E(data="2"), E(data="3"), E(data="4")]


def test_long_comment_split_over_many_feeds() -> None:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in [b": \xd0\x9f\xd0", b"\xb5\xd1\x80" * 50, b":" * 300, b"\n", b"data: First\n\n"]:
        events += decoder.feed(piece)
    assert events == [E(data="First")]


# --- field parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (b"data:x", "x"),
        (b"data: x", "x"),
        (b"data:  x", " x"),  # only one space is removed
        (b"data: x ", "x "),  # trailing spaces stay
        (b"data:\tx", "\tx"),  # a tab is not the optional space
        (b"data: a:b: c", "a:b: c"),  # the first colon separates
        (b"data:", ""),
        (b"data: ", ""),
        (b"data", ""),  # no colon: the whole line is the name, the value is empty
    ],
)
def test_field_value_parsing(line: bytes, data: str) -> None:
    assert decode_every_way(line + b"\n\n") == [E(data=data)]


def test_wpt_data_field_parsing() -> None:
    # web-platform-tests eventsource/format-field-data; eventsource-parser "oddly shaped data field".
    assert decode_every_way(b"data:\n\ndata\ndata\n\ndata:test\n\n") == [E(data=""), E(data="\n"), E(data="test")]


def test_unknown_fields_are_ignored() -> None:
    # eventsource-parser "unknown fields"; names are case-sensitive and a leading space is part of the name.
    stream = b"data:abc\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\nData: no\nDATA\ndata:123\n\n"
    assert decode_every_way(stream) == [E(data="abc\n\n123")]


def test_multiline_data_is_joined_with_lf() -> None:
    # eventsource-parser "multi-line data events"
    stream = b"event: stock\ndata: YHOO\ndata: +2\ndata: 10\n\nevent: stock\ndata: GOOG\ndata: -8\ndata: 1881\n\n"
    assert decode_every_way(stream) == [E(event="stock", data="YHOO\n+2\n10"), E(event="stock", data="GOOG\n-8\n1881")]


def test_json_data_is_left_as_text() -> None:
    assert decode_every_way(b'data: {"a": [1, 2]}\n\n') == [E(data='{"a": [1, 2]}')]


# --- dispatch ---------------------------------------------------------------------------------------------


def test_blank_line_without_data_dispatches_nothing() -> None:
    stream = b"\n\n\nevent: ping\n\nid: 7\n\nretry: 10\n\n: keep-alive\n\n"
    assert decode_every_way(stream) == []


def test_leading_blank_lines_then_event() -> None:
    # eventsource-parser "multi-byte events with some empty lines thrown in"
    stream = "\n\n\n\nid: 1\ndata: 我現在都看實況不玩遊戲\n\nevent: done\ndata: ✔\n\n".encode()
    assert decode_every_way(stream) == [E(data="我現在都看實況不玩遊戲", id="1"), E(event="done", data="✔", id="1")]


def test_extra_blank_lines_between_events_add_nothing() -> None:
    assert decode_every_way(b"data: a\n\n\n\n\ndata: b\n\n") == [E(data="a"), E(data="b")]


# --- event type -------------------------------------------------------------------------------------------


def test_wpt_event_type_resets_after_dispatch() -> None:
    # web-platform-tests eventsource/format-field-event
    assert decode_every_way(b"event:test\ndata:x\n\ndata:x\n\n") == [E(event="test", data="x"), E(data="x")]


def test_wpt_empty_event_field_means_message() -> None:
    # web-platform-tests eventsource/format-field-event-empty
    assert decode_every_way(b"event: \ndata:data\n\n") == [E(data="data")]


def test_event_type_resets_after_a_block_without_data() -> None:
    # eventsource-parser "empty event field", plus a named block that carried no data.
    stream = b"event:\ndata: Hello 1\n\nevent: lost\n\ndata: plain\n\nevent: done\ndata: ok\n\n"
    assert decode_every_way(stream) == [E(data="Hello 1"), E(data="plain"), E(event="done", data="ok")]


def test_last_event_line_wins() -> None:
    assert decode_every_way(b"event: a\nevent: b\ndata: x\n\n") == [E(event="b", data="x")]


# --- id ---------------------------------------------------------------------------------------------------


def test_wpt_id_persists() -> None:
    # web-platform-tests eventsource/format-field-id-3 "persists"
    assert decode_every_way(b"id: 1\ndata: 1\n\ndata:2\n\n") == [E(data="1", id="1"), E(data="2", id="1")]


def test_wpt_id_changes_and_persists() -> None:
    # web-platform-tests eventsource/format-field-id-3 "changes and persists"
    stream = b"id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n"
    assert decode_every_way(stream) == [E(data="1", id="1"), E(data="2", id="2"), E(data="3", id="2")]


def test_wpt_id_resets() -> None:
    # web-platform-tests eventsource/format-field-id-3 "resets": an empty id field sets the empty string.
    stream = b"id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n"
    assert decode_every_way(stream) == [E(data="1", id="1"), E(data="2", id=""), E(data="3", id="")]


def test_wpt_id_non_ascii() -> None:
    # web-platform-tests eventsource/format-field-id and -id-2: an id of U+2026.
    assert decode_every_way("id: …\ndata: hello\n\n".encode()) == [E(data="hello", id="…")]


def test_id_with_null_is_ignored() -> None:
    # eventsource-parser "id field containing a NULL"; WPT format-field-id-null: the previous id survives.
    assert decode_every_way(b"id: 123\nid: bad\x00id\ndata: hello\n\n") == [E(data="hello", id="123")]
    assert decode_every_way(b"id: \x00\x00\ndata: hello\n\n") == [E(data="hello", id=None)]


def test_id_without_data_updates_last_event_id_at_the_blank_line() -> None:
    # eventsource-parser "reports an id from a block without data when the block is dispatched".
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 42\n") == []
    assert decoder.last_event_id is None  # not before the blank line
    assert decoder.feed(b"\n") == []
    assert decoder.last_event_id == "42"
    assert decoder.feed(b"id: bad\x00id\n\n") == []
    assert decoder.last_event_id == "42"
    assert decoder.feed(b"id:\n\n") == []
    assert decoder.last_event_id == ""
    assert decode_every_way_full(b"id: 42\r\r")[1] == "42"


def test_id_of_an_unfinished_block_is_not_the_last_event_id() -> None:
    # web-platform-tests eventsource/format-data-before-final-empty-line
    events, last_id, retry = decode_every_way_full(b"retry:1000\ndata:test1\n\nid:test\ndata:test2\n")
    assert events == [E(data="test1", retry=1000)]
    assert (last_id, retry) == (None, 1000)


def test_id_keeps_spaces_after_the_first() -> None:
    assert decode_every_way(b"id:  5 \ndata: x\n\n") == [E(data="x", id=" 5 ")]


# --- retry ------------------------------------------------------------------------------------------------


def test_retry_is_attached_to_its_event() -> None:
    # eventsource-parser "identified messages + retry interval"
    stream = b"event: tick\nid: 1337\nretry: 50\ndata: 1337\n\nevent: tick\nid: 1338\nretry: 50\ndata: 1338\n\n"
    events, last_id, retry = decode_every_way_full(stream)
    assert events == [E("tick", "1337", "1337", 50), E("tick", "1338", "1338", 50)]
    assert (last_id, retry) == ("1338", 50)


def test_wpt_retry_is_decimal() -> None:
    # web-platform-tests eventsource/format-field-retry: "02000" is 2000, not octal.
    assert decode_every_way(b"retry:02000\ndata:x\n\n") == [E(data="x", retry=2000)]


def test_wpt_retry_bogus_is_ignored() -> None:
    # web-platform-tests eventsource/format-field-retry-bogus; eventsource-parser "partially incorrect retry".
    events, _, retry = decode_every_way_full(b"retry:2000\nretry:1000x\ndata:x\n\n")
    assert events == [E(data="x", retry=2000)]
    assert retry == 2000


@pytest.mark.parametrize(
    "value",
    [b"", b" ", b"  10", b"10 ", b"1e3", b"-5", b"+5", b"1.5", b"0x10", "١٢".encode(), "²".encode(), b"5" * 13],
)
def test_retry_that_is_not_ascii_digits_is_ignored(value: bytes) -> None:
    events, _, retry = decode_every_way_full(b"retry:" + value + b"\ndata: x\n\n")
    assert events == [E(data="x")]
    assert retry is None


def test_retry_edge_values() -> None:
    assert decode_every_way(b"retry: 0\ndata: x\n\n") == [E(data="x", retry=0)]
    assert decode_every_way(b"retry: 000000000000000000007\ndata: x\n\n") == [E(data="x", retry=7)]
    assert decode_every_way(b"retry: 999999999999\ndata: x\n\n") == [E(data="x", retry=999_999_999_999)]


def test_huge_retry_does_not_crash() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: " + b"9" * 100_000 + b"\ndata: x\n\n") == [E(data="x")]
    assert decoder.reconnection_time is None


def test_retry_only_block_updates_reconnection_time_not_later_events() -> None:
    # eventsource-parser "incorrect retry fields" and "empty retry field"
    stream = b"\nretry: 500\n\ndata: first\n\nretry: 50x\n\nid:2\nretry:\ndata:second\n\n"
    events, last_id, retry = decode_every_way_full(stream)
    assert events == [E(data="first"), E(data="second", id="2")]
    assert (last_id, retry) == ("2", 500)


# --- end of stream ----------------------------------------------------------------------------------------


def test_unterminated_event_is_discarded() -> None:
    assert decode_every_way(b"data: a\n\ndata: b\n") == [E(data="a")]
    assert decode_every_way(b"data: a\n\ndata: b\ndata: c") == [E(data="a")]


def test_unterminated_final_line_is_not_processed() -> None:
    # WHATWG: "Once the end of the file is reached, any pending data must be discarded."
    events, last_id, retry = decode_every_way_full(b"id: 1\ndata: a\n\nretry: 3000")
    assert events == [E(data="a", id="1")]
    assert (last_id, retry) == ("1", None)


def test_finish_returns_nothing_and_the_decoder_starts_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 9\nretry: 20\ndata: a\n\ndata: half") == [E(data="a", id="9", retry=20)]
    assert decoder.finish() == []
    assert (decoder.last_event_id, decoder.reconnection_time) == ("9", 20)
    # A new body: the half line is gone, a BOM is expected again and the id buffer starts empty.
    assert decoder.feed(BOM + b"data: b\n\n") == [E(data="b")]
    assert decoder.last_event_id is None
    assert decoder.finish() == []


def test_empty_stream() -> None:
    assert decode_every_way(b"") == []
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.finish() == []


# --- real-world shapes ------------------------------------------------------------------------------------


def test_openrouter_like_stream() -> None:
    chunks = [
        {"id": "gen-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "gen-1", "choices": [{"index": 0, "delta": {"content": "lo \u2028 wörld"}}]},
        {"id": "gen-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"cost": 1e-5}},
    ]
    body = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n"
    for chunk in chunks:
        body += b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
    body += b"data: [DONE]\n\n"
    events = decode_every_way(body)
    assert [e.event for e in events] == ["message"] * 4
    assert [json.loads(e.data) for e in events[:3]] == chunks
    assert events[1].data.count("\u2028") == 1  # U+2028 stayed inside its one line
    assert events[3].data == "[DONE]"


def test_openai_stream_with_crlf_and_keepalive_between_events() -> None:
    body = b'data: {"a":1}\r\n\r\n: ping\r\n\r\ndata: {"b":2}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert [e.data for e in decode_every_way(body)] == ['{"a":1}', '{"b":2}', "[DONE]"]


def test_anthropic_like_named_events() -> None:
    body = (
        b"event: message_start\ndata: {}\n\n"
        b"event: ping\ndata: {}\n\n"
        b'event: content_block_delta\ndata: {"delta": {"text": "Hi"}}\n\n'
        b"event: message_stop\ndata: {}\n\n"
    )
    events = decode_every_way(body)
    assert [e.event for e in events] == ["message_start", "ping", "content_block_delta", "message_stop"]


def test_large_event_in_small_pieces() -> None:
    payload = bytes(range(32, 127)) * 22_000  # about 2 MB, no line endings
    stream = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for i in range(0, len(stream), 1024):
        events += decoder.feed(stream[i : i + 1024])
    assert events == [E(data=payload.decode())]


# --- the size bound: max_event_bytes ------------------------------------------------------------------------

Capped = tuple[list[ServerSentEvent], bool]


def _run_capped(pieces: list[bytes], cap: int) -> Capped:
    """The events a decoder bounded by ``cap`` gives (those carried by the error included), and whether an
    event was too large."""
    decoder = SSEDecoder(cap)
    events: list[ServerSentEvent] = []
    try:
        for piece in pieces:
            events += decoder.feed(piece)
    except EventTooLargeError as e:
        return events + e.events, True
    return events + decoder.finish(), False


def decode_capped_every_way(stream: bytes, cap: int) -> Capped:
    """Like ``decode_every_way``, with a bound: every split gives the same events and the same verdict."""
    expected = _run_capped([stream], cap)
    for pieces in _fragmentations(stream):
        assert _run_capped(pieces, cap) == expected, f"split {[len(p) for p in pieces][:8]}... differs"
    return expected


def test_the_default_bound_is_16_mib() -> None:
    assert DEFAULT_MAX_EVENT_BYTES == 16 * 1024 * 1024
    assert SSEDecoder()._max == DEFAULT_MAX_EVENT_BYTES


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_an_event_of_exactly_the_bound_passes_one_byte_more_does_not(eol: bytes) -> None:
    # An event's size: its lines with one byte per line ending ("data: abc" + 1 = 10), the blank line free.
    stream = b"data: 1" + eol + eol + b"data: abc" + eol + eol + b"data: 2" + eol + eol
    assert decode_capped_every_way(stream, 10) == ([E(data="1"), E(data="abc"), E(data="2")], False)
    assert decode_capped_every_way(stream, 9) == ([E(data="1")], True)


def test_every_line_of_an_event_counts() -> None:
    stream = b": note\nevent: x\nid: 1\ndata: a\ndata: b\n\ndata: z\n\n"
    size = len(b": note\nevent: x\nid: 1\ndata: a\ndata: b\n")  # 36
    assert decode_capped_every_way(stream, size) == ([E("x", "a\nb", "1"), E(data="z", id="1")], False)
    assert decode_capped_every_way(stream, size - 1) == ([], True)


def test_one_endless_line_is_stopped_once_it_passes_the_bound() -> None:
    decoder = SSEDecoder(1000)
    assert decoder.feed(b"data: before\n\ndata: ") == [E(data="before")]
    fed = 6
    with pytest.raises(EventTooLargeError) as info:
        while True:  # an endless line: no line ending ever comes
            decoder.feed(b"x" * 100)
            fed += 100
    assert fed <= 1000 < fed + 100  # stopped by the piece that crossed the bound
    assert isinstance(info.value, StreamError) and info.value.events == [] and info.value.limit == 1000
    assert "1000 bytes" in str(info.value) and "max_event_bytes" in str(info.value)
    assert len(decoder._pending) == 0  # what it buffered is dropped


def test_endless_data_lines_without_a_blank_line_are_stopped() -> None:
    decoder = SSEDecoder(1000)
    with pytest.raises(EventTooLargeError):
        for _ in range(1000):
            decoder.feed(b'data: {"choices": []}\n')
    assert decoder._data == []


def test_the_events_completed_before_the_oversized_one_in_the_same_piece_travel_with_the_error() -> None:
    stream = b"data: a\n\ndata: b\n\n" + b"data: " + b"x" * 50 + b"\n\ndata: never\n\n"
    assert decode_capped_every_way(stream, 40) == ([E(data="a"), E(data="b")], True)
    decoder = SSEDecoder(40)
    with pytest.raises(EventTooLargeError) as info:
        decoder.feed(stream)
    assert info.value.events == [E(data="a"), E(data="b")]


def test_after_the_error_the_body_is_refused_until_finish() -> None:
    decoder = SSEDecoder(10)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"data: " + b"y" * 20)
    with pytest.raises(EventTooLargeError):
        decoder.feed(b"\n\ndata: ok\n\n")
    assert decoder.finish() == []
    assert decoder.feed(b"data: ok\n\n") == [E(data="ok")]  # a new body starts afresh


def test_many_small_events_never_add_up() -> None:
    stream = b"".join(b"data: %d\n\n" % i for i in range(2000))
    events, too_large = _run_capped([stream], 16)
    assert not too_large and len(events) == 2000


def test_a_huge_event_in_small_pieces_is_stopped_in_linear_time() -> None:
    # The bound adds a constant amount of work per piece: 64 MiB fed in 1 KiB pieces against a 32 MiB bound.
    piece = b"x" * 1024
    decoder = SSEDecoder(32 * 1024 * 1024)
    decoder.feed(b"data: ")
    with pytest.raises(EventTooLargeError):
        for _ in range(64 * 1024):
            decoder.feed(piece)


@settings(max_examples=200, deadline=None)
@given(case=st.data())
def test_random_streams_meet_the_bound_the_same_however_fragmented(case: st.DataObject) -> None:
    stream = case.draw(_streams())[0]
    cap = case.draw(st.integers(1, max(1, len(stream))))
    cuts = sorted(case.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = _run_capped([stream], cap)
    assert _run_capped(pieces, cap) == whole
    assert _run_capped([stream[i : i + 1] for i in range(len(stream))], cap) == whole
    if not whole[1]:
        assert whole[0] == _run([stream])[0]  # under the bound, exactly the unbounded events


# --- property: random events, random line endings, random fragmentation -------------------------------------

# --- property: random events, random line endings, random fragmentation -----------------------------------

_TEXT = st.text(
    alphabet=st.sampled_from(["a", "Z", "0", " ", ":", "é", "😀", "\u2028", "\u0085", "\x0c", "\ufeff", "\x00", "\t"]),
    max_size=8,
)
_UNKNOWN_NAMES = st.sampled_from(["foo", "Data", "ID", "dat", " data", "retry2", "\ufeffdata"])


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent], str | None, int | None]:
    """A random event stream as bytes, with the events, last event ID and reconnection time it must give."""
    lines: list[str] = []
    line_retry: list[int | None] = []  # the valid retry each line carries, applied once the line is ended
    expected: list[ServerSentEvent] = []
    id_buffer: str | None = None
    last_event_id: str | None = None
    blocks = draw(st.integers(0, 4))
    for index in range(blocks + 1):
        terminated = index < blocks  # the last block never gets its blank line: it must be discarded
        data: list[str] = []
        event_type = ""
        retry: int | None = None
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["data", "data", "event", "id", "retry", "bad-retry", "comment", "unknown"]))
            number: int | None = None
            if kind == "comment":
                name, value = "", draw(_TEXT)
            elif kind == "unknown":
                name, value = draw(_UNKNOWN_NAMES), draw(_TEXT)
            elif kind == "retry":
                number = retry = draw(st.integers(0, 10**9))
                name, value = "retry", "0" * draw(st.integers(0, 2)) + str(number)
            elif kind == "bad-retry":
                name, value = "retry", draw(st.sampled_from(["", "x", "1x", " 1", "1 ", "-1", "\u0661"]))
            else:
                name, value = kind, draw(_TEXT)
                if kind == "data":
                    data.append(value)
                elif kind == "event":
                    event_type = value
                elif "\x00" not in value:
                    id_buffer = value
            if value == "" and name and draw(st.booleans()):
                lines.append(name)  # no colon at all
            else:
                space = " " if value.startswith(" ") or draw(st.booleans()) else ""
                lines.append(f"{name}:{space}{value}")
            line_retry.append(number)
        if terminated:
            lines.append("")
            line_retry.append(None)
            last_event_id = id_buffer
            if data:
                expected.append(ServerSentEvent(event_type or "message", "\n".join(data), id_buffer, retry))
    endings = [draw(st.sampled_from(["\n", "\r", "\r\n"])) for _ in lines]
    for i in range(1, len(lines)):
        # "\r" then a blank line ended by "\n" would read as one CRLF: end that blank line with CRLF instead.
        if endings[i - 1] == "\r" and lines[i] == "" and endings[i] == "\n":
            endings[i] = "\r\n"
    if lines and lines[-1] != "" and draw(st.booleans()):
        endings[-1] = ""  # the discarded tail may also lack its final line ending: that line is not processed
    reconnection_time: int | None = None
    for number, end in zip(line_retry, endings, strict=True):
        if number is not None and end:
            reconnection_time = number
    text = "".join(line + end for line, end in zip(lines, endings, strict=True))
    # Only one leading BOM is dropped, so a first line that starts with U+FEFF needs a real BOM before it.
    bom = (bool(lines) and lines[0].startswith("\ufeff")) or draw(st.booleans())
    return (BOM if bom else b"") + text.encode(), expected, last_event_id, reconnection_time


@settings(max_examples=200, deadline=None)
@given(case=_streams(), data=st.data())
def test_random_streams_decode_the_same_however_fragmented(
    case: tuple[bytes, list[ServerSentEvent], str | None, int | None], data: st.DataObject
) -> None:
    stream, expected, last_event_id, reconnection_time = case
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert _run([stream]) == (expected, last_event_id, reconnection_time)
    assert _run(pieces) == (expected, last_event_id, reconnection_time)


# --- the decoder's fast path (a lone "data: " line in one piece) ------------------------------------------

sse_lines = st.lists(
    st.one_of(
        st.builds(lambda v: f"data: {v}", st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=8)),
        st.builds(lambda v: f"data:{v}", st.text(alphabet="ab :", max_size=4)),
        st.sampled_from(["event: delta", "id: 7", "retry: 50", ": comment", "data", ""]),
    ),
    max_size=12,
)


def _events_of(pieces: list[bytes]) -> list[tuple[str, str, str | None, int | None]]:
    decoder = SSEDecoder()
    out = [e for piece in pieces for e in decoder.feed(piece)] + decoder.finish()
    return [(e.event, e.data, e.id, e.retry) for e in out]


@given(sse_lines, st.sampled_from(["\n", "\r\n"]))
def test_whole_events_decode_as_byte_by_byte(lines: list[str], newline: str) -> None:
    # Whole events in one piece each take the fast path when they are a lone "data: " line; one byte at a
    # time never does. Both must give the same events.
    blocks = newline.join(lines).split(newline + newline) if lines else []
    pieces = [(block + newline + newline).encode() for block in blocks]
    body = b"".join(pieces)
    assert _events_of(pieces) == _events_of([body[i : i + 1] for i in range(len(body))])


def test_the_fast_path_keeps_the_event_type_id_and_retry_set_before_it() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n\n") == [ServerSentEvent("message", "first")]  # the first piece: BOM check
    assert decoder.feed(b"event: delta\nid: 9\nretry: 5\n") == []
    (event,) = decoder.feed(b"data: x\n\n")
    assert (event.event, event.data, event.id, event.retry) == ("delta", "x", "9", 5)
    (event,) = decoder.feed(b"data: y\n\n")
    assert (event.event, event.data, event.id, event.retry) == ("message", "y", "9", None)
