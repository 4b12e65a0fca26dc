"""ArgumentStream: live per-field decoding of streamed tool arguments.

The cases are the Rust library's (MiniLLMLib-RS) table of inputs and decoded values, strict and lenient, and
every case runs with its text fed whole, split in two
at every offset, and one character at a time: the decoded values (and the text the handles stream) must not
depend on where the fragments break.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minillm.core.argstream import ArgumentStream, FieldHandle
from minillm.core.errors import InvalidParameterError, MalformedResponseError

S, L = "strict", "lenient"
ERROR = object()  # the stream itself fails (some feed, or finish)


def splits(raw: str) -> Iterator[Sequence[str]]:
    """The fragment sequences every case is fed with: whole, two pieces at every offset, one char at a time."""
    yield [raw]
    for k in range(len(raw) + 1):
        yield [raw[:k], raw[k:]]
    yield list(raw)


def _stream(mode: str) -> ArgumentStream:
    return ArgumentStream.strict() if mode == S else ArgumentStream.lenient()


def run(raw: str | Sequence[str], mode: str, handles: Sequence[str] = ("content",)) -> dict[str, Any]:
    """Feed ``raw`` (or these fragments) and report what came out: each handle's value (or its error), the
    text each handle streamed through ``take()``, the fields, or the stream's error."""
    stream = _stream(mode)
    taken = {name: stream.field(name) for name in handles}
    texts = dict.fromkeys(handles, "")
    fragments = [raw] if isinstance(raw, str) else raw
    try:
        for fragment in fragments:
            stream.feed(fragment)
            for name, handle in taken.items():
                texts[name] += handle.take()
        stream.finish()
    except MalformedResponseError as e:
        assert str(e).startswith("streamed tool arguments: ")
        assert "(raw: " in str(e)
        return {"error": e}
    values: dict[str, Any] = {}
    for name, handle in taken.items():
        texts[name] += handle.take()
        assert handle.done
        values[name] = handle.value if handle.error is None else handle.error
    return {"values": values, "texts": texts, "fields": stream.fields()}


def check(
    raw: str, mode: str, expected: Any, fields: dict[str, Any] | None = None, handles: Sequence[str] = ("content",)
) -> None:
    """Run every split of ``raw``; each must give ``expected`` (a value per handle, or ERROR) and ``fields``."""
    if not isinstance(expected, dict) and expected is not ERROR:
        expected = {handles[0]: expected}
    for fragments in splits(raw):
        got = run(fragments, mode, handles)
        where = f"fragments {list(fragments)!r}"
        if expected is ERROR:
            assert "error" in got, where
            continue
        assert "error" not in got, f"{where}: {got.get('error')}"
        for name, value in expected.items():
            actual = got["values"][name]
            if isinstance(value, type) and issubclass(value, Exception):
                assert isinstance(actual, value), where
            else:
                assert actual == value and type(actual) is type(value), where
                if isinstance(value, str):
                    assert got["texts"][name] == value, f"{where}: streamed text differs from the value"
        if fields is not None:
            assert got["fields"] == fields, where


# ----- strict rows: well-formed JSON arguments ---------------------------------------------------------------------


def test_plain_string() -> None:
    check('{"content": "hello world"}', S, "hello world", {})


def test_every_escape_is_undone() -> None:
    raw = '{"content":"a\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\tiéj"}'
    check(raw, S, 'a"b\\c/d\be\ff\ng\rh\tiéj', {})
    check(raw.replace("é", "\\u00e9"), S, 'a"b\\c/d\be\ff\ng\rh\tiéj', {})


def test_astral_characters_raw_and_as_a_surrogate_pair() -> None:
    check('{"content":"ok 😀!"}', S, "ok 😀!")
    check('{"content":"ok \\ud83d\\ude00!"}', S, "ok 😀!")
    check('{"content":"ok \\uD83D\\uDE00!"}', L, "ok 😀!")


def test_whitespace_around_and_an_empty_string() -> None:
    check('  { "content" : "" }  ', S, "", {})


def test_other_fields_of_every_kind() -> None:
    raw = (
        '{"lang": "py\\"x", "n": 4.5e2, "flag": true, "meta": {"a": ["b", {"c": 1}]}, "content": "payload", "after": 1}'
    )
    expected_fields = {"lang": 'py"x', "n": 450.0, "flag": True, "meta": {"a": ["b", {"c": 1}]}, "after": 1}
    check(raw, S, "payload", expected_fields)
    check(raw, L, "payload", expected_fields)


@pytest.mark.parametrize(
    "raw",
    [
        '{"content": "unterminated',
        '{"content": "no brace"',
        '{"content": "bad \\q escape"}',
        '{"content": "lone \\ud800 high"}',
        '{"content": "lone \\udc00 low"}',
        '{"content": "a"} trailing',
        '{"content": "raw\nnewline"}',
        '["content"]',
        '"content"',
        '{"content" "missing colon"}',
        '{"content": "a",}',
        '{"content": "a" "b": 1}',
        '{"content": }',
        '{"n": NaN, "content": "x"}',
        '{"content": "bad \\u12zz"}',
    ],
)
def test_strict_errors(raw: str) -> None:
    check(raw, S, ERROR)


def test_missing_field_fails_its_handle_only() -> None:
    check('{"other": "x"}', S, {"content": MalformedResponseError}, {"other": "x"})
    got = run('{"other": "x"}', S)
    assert "ended without the field 'content'" in str(got["values"]["content"])


# ----- lenient rows: what models write that is not quite JSON -----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"content": "say "hi" ok"}', 'say "hi" ok'),
        ('{"content": "line1\nline2"}', "line1\nline2"),
        ('{"content": "C:\\path \\q \\ x"}', "C:\\path \\q \\ x"),
        ('{"content": "the model stopped here', "the model stopped here"),
        ('{"content": "done"', "done"),
        ('{"content": "ends with \\', "ends with \\"),
        ('{"content": "ends with \\u12', "ends with \\u12"),
        ('{"content": "a "} b"}', 'a "} b'),
        ('{"content": "x \\ud800 y"}', "x \ufffd y"),
        ('{"content": "abc", "de', 'abc", "de'),
        ('{"content": "tab\there\\u00e9 \\uZZ"}', "tab\there\u00e9 \\uZZ"),
        ('{"content": "ctrl \x01 kept"}', "ctrl \x01 kept"),
        ('{"content": "x \\udc00 low"}', "x \ufffd low"),
    ],
)
def test_lenient_strings(raw: str, expected: str) -> None:
    check(raw, L, expected)


def test_lenient_unescaped_quotes_in_another_field() -> None:
    check('{"note": "he said "hi" there", "content": "ok"}', L, "ok", {"note": 'he said "hi" there'})


def test_lenient_keys_may_contain_spaces() -> None:
    check('{"a": "v "x"","some thing":"w","content":"c"}', L, "c", {"a": 'v "x"', "some thing": "w"})


def test_lenient_documented_misfire() -> None:
    check('{"content": "embed ", "meta": " done"}', L, "embed ", {"meta": " done"})


def test_lenient_repair_pass_adds_the_unfinished_field() -> None:
    check('{"content": "x", "meta": 1', L, "x", {"meta": 1})


def test_lenient_stream_cut_mid_string_without_a_handle() -> None:
    check('{"note": "he died her', L, {}, {"note": "he died her"}, handles=())


@pytest.mark.parametrize("mode", [S, L])
def test_two_handles(mode: str) -> None:
    check(
        '{"old_code": "a\\nb", "new_code": "c\\nd"}',
        mode,
        {"old_code": "a\nb", "new_code": "c\nd"},
        {},
        handles=("old_code", "new_code"),
    )


def test_handle_on_a_number() -> None:
    check('{"line": 42, "content": "x"}', S, {"line": 42}, {"content": "x"}, handles=("line",))


def test_duplicate_keys_last_wins_in_fields() -> None:
    check('{"path": "a", "path": "b"}', S, {}, {"path": "b"}, handles=())


@pytest.mark.parametrize("mode", [S, L])
def test_broken_number_is_an_error_in_both_modes(mode: str) -> None:
    raw = '{"line": 4x2, "content": "y"}'
    check(raw, mode, ERROR)
    stream = _stream(mode)
    with pytest.raises(MalformedResponseError, match="'line' is not valid JSON"):
        stream.feed(raw)  # a feed error, not only at the end


@pytest.mark.parametrize("mode", [S, L])
@pytest.mark.parametrize("raw", ["", "   ", " \n\t "])
def test_empty_arguments_are_a_call_without_parameters(mode: str, raw: str) -> None:
    stream = _stream(mode)
    stream.feed(raw)
    stream.finish()
    assert stream.fields() == {}


# ----- live behaviour ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [S, L])
def test_text_is_available_at_each_feed_boundary(mode: str) -> None:
    stream = _stream(mode)
    content = stream.field("content")
    stream.feed('{"content": "ab')
    assert content.take() == "ab"
    assert not content.done
    assert content.take() == ""
    stream.feed("c\\")  # an escape cut in half waits for its second character
    assert content.take() == "c"
    stream.feed("n")
    assert content.take() == "\n"
    stream.feed("\\ud83d")  # half a surrogate pair waits for the other half
    assert content.take() == ""
    stream.feed('\\ude00", "x": 1}')  # (a lenient '"}' would wait for the end of the input)
    assert content.take() == "😀"
    assert content.done and content.value == "abc\n😀"
    assert content.text == "abc\n😀"
    stream.finish()
    assert stream.fields() == {"x": 1}


def test_lenient_quote_waits_for_what_follows() -> None:
    stream = ArgumentStream.lenient()
    content = stream.field("content")
    stream.feed('{"content": "say "')
    assert content.take() == "say "
    stream.feed("h")
    assert content.take() == '"h'
    stream.feed('i", "x": 1}')
    assert content.value == 'say "hi'
    stream.finish()
    assert stream.fields() == {"x": 1}


def test_lenient_lookahead_is_bounded() -> None:
    # A quote followed by what might become a key is held back, but not forever: past the look-ahead limit it
    # is literal text and streams on.
    stream = ArgumentStream.lenient()
    content = stream.field("content")
    stream.feed('{"content": "a", "')
    assert content.take() == "a"
    stream.feed("x" * 5000)
    assert content.take() == '", "' + "x" * 5000
    stream.feed('"}')
    stream.finish()
    assert content.value == 'a", "' + "x" * 5000


def test_handle_taken_after_the_field_completed_gets_the_value() -> None:
    stream = ArgumentStream.strict()
    stream.feed('{"path": "a.txt", "content": "hi"')
    assert stream.fields() == {"path": "a.txt", "content": "hi"}
    late = stream.field("content")
    assert late.done and late.value == "hi" and late.take() == "hi"
    assert stream.fields() == {"path": "a.txt"}  # handled fields are not duplicated
    stream.feed("}")
    stream.finish()


def test_handle_taken_mid_field_gets_the_text_so_far() -> None:
    stream = ArgumentStream.strict()
    stream.feed('{"content": "hello ')
    handle = stream.field("content")
    assert handle.take() == "hello "
    stream.feed('world"}')
    stream.finish()
    assert handle.take() == "world"
    assert handle.value == "hello world"
    assert stream.fields() == {}


def test_second_handle_replaces_the_first() -> None:
    stream = ArgumentStream.strict()
    first = stream.field("content")
    second = stream.field("content")
    assert first.done and isinstance(first.error, InvalidParameterError)
    with pytest.raises(InvalidParameterError, match="replaced"):
        _ = first.value
    stream.feed('{"content": "x"}')
    stream.finish()
    assert second.value == "x"


def test_duplicate_key_keeps_the_first_value_on_the_handle() -> None:
    stream = ArgumentStream.strict()
    handle = stream.field("path")
    stream.feed('{"path": "a", "path": "b"}')
    stream.finish()
    assert handle.value == "a"
    assert stream.fields() == {}


def test_value_before_completion_is_a_usage_error() -> None:
    stream = ArgumentStream.strict()
    handle = stream.field("content")
    stream.feed('{"content": "par')
    assert not handle.done and handle.error is None
    with pytest.raises(InvalidParameterError, match="not complete yet"):
        _ = handle.value
    assert repr(handle) == "FieldHandle('content', open)"


def test_after_an_error_every_call_fails() -> None:
    stream = ArgumentStream.strict()
    handle = stream.field("content")
    with pytest.raises(MalformedResponseError) as info:
        stream.feed('{"content": "bad \\q"}')
    assert handle.error is info.value
    with pytest.raises(MalformedResponseError) as again:
        stream.feed("more")
    assert again.value is info.value
    with pytest.raises(MalformedResponseError):
        stream.finish()
    assert stream.field("other").error is info.value


def test_finish_twice_and_feed_after_finish_are_refused() -> None:
    stream = ArgumentStream.lenient()
    stream.feed('{"a": 1}')
    stream.finish()
    assert stream.finished
    with pytest.raises(InvalidParameterError, match="already called"):
        stream.finish()
    with pytest.raises(InvalidParameterError, match="after finish"):
        stream.feed("x")
    late = stream.field("b")
    assert isinstance(late.error, MalformedResponseError)
    assert "ended without the field 'b'" in str(late.error)


def test_strict_finish_reports_the_raw_text() -> None:
    stream = ArgumentStream.strict()
    stream.feed('{"content": "no brace"')
    with pytest.raises(MalformedResponseError) as info:
        stream.finish()
    assert str(info.value) == ('streamed tool arguments: the object is not closed (raw: {"content": "no brace")')
    assert stream.raw == '{"content": "no brace"'


def test_lenient_repair_completes_a_pending_handle() -> None:
    stream = ArgumentStream.lenient()
    meta = stream.field("meta")
    stream.feed('{"content": "x", "meta": [1, 2')
    stream.finish()
    assert meta.value == [1, 2]
    assert stream.fields() == {"content": "x"}


def test_feed_takes_text_only() -> None:
    stream = ArgumentStream.strict()
    with pytest.raises(InvalidParameterError):
        stream.feed(b"{}")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        stream.field(1)  # type: ignore[arg-type]


def test_a_long_value_in_many_small_fragments() -> None:
    body = "".join(f'line {i}: "quoted" \\ and é\n' for i in range(3000))
    raw = json.dumps({"path": "big.txt", "content": body})
    for mode in (S, L):
        stream = _stream(mode)
        handle = stream.field("content")
        out: list[str] = []
        for start in range(0, len(raw), 3):
            stream.feed(raw[start : start + 3])
            out.append(handle.take())
        stream.finish()
        assert "".join(out) + handle.take() == body == handle.value
        assert stream.fields() == {"path": "big.txt"}


# ----- properties ----------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=6
)


@settings(max_examples=200, deadline=None)
@given(
    obj=st.dictionaries(st.text(), _values, max_size=5),
    ensure_ascii=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    mode=st.sampled_from([S, L]),
)
def test_any_json_object_decodes_the_same_however_it_is_split(
    obj: dict[str, Any], ensure_ascii: bool, cuts: list[int], mode: str
) -> None:
    raw = json.dumps(obj, ensure_ascii=ensure_ascii)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    fragments = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    stream = _stream(mode)
    handles: dict[str, FieldHandle] = {}
    if obj:
        key = next(iter(obj))
        handles[key] = stream.field(key)
    streamed = ""
    for fragment in fragments:
        stream.feed(fragment)
        for handle in handles.values():
            streamed += handle.take()
    stream.finish()
    expected = dict(obj)
    for key, handle in handles.items():
        assert handle.value == expected.pop(key)
        if isinstance(handle.value, str):
            assert streamed + handle.take() == handle.value
    assert stream.fields() == expected


def test_lenient_accepts_a_trailing_comma_and_ignores_text_after_the_object() -> None:
    check('{"content": "x", "a": 1,}', L, "x", {"a": 1})
    check('{"content": "x", "a": 1} and some prose', L, "x", {"a": 1})
    check('{"content": "x", "a": 1,}', S, ERROR)
    # After a string, only ', "<key>":' or a final '}' end it: here the quote is literal text.
    check('{"a": 1, "content": "x"} and some prose', L, 'x"} and some prose', {"a": 1})
