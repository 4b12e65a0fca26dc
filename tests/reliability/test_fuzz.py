"""Fuzzing: every parser of untrusted input gets arbitrary input and may only raise ``MiniLLMError``s.

Untrusted input is anything a server or a file can hand minillm: SSE bytes, response bodies, stream events,
saved threads, JSON from a model. A ``KeyError``, ``TypeError``, ``IndexError``, ``AttributeError``,
``RecursionError``, ``UnicodeDecodeError`` or a plain ``ValueError`` escaping from one of them would crash a
user's service on a bad answer instead of raising the typed error it can catch. Each property runs a bounded
number of examples (CI stays fast); inputs that once broke something are kept below as explicit cases.
"""

from __future__ import annotations

import faulthandler
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from minillm import ChatNode, MiniLLMError, extract_json, loads, repair_json
from minillm.core.errors import APIError, MalformedResponseError, StreamError, ThreadFormatError
from minillm.core.http import api_error, decode_json_body
from minillm.core.providers import AnthropicProvider, GenericProvider, OpenAIProvider, OpenRouterProvider
from minillm.core.providers.base import Provider, StreamEnd
from minillm.core.providers.openrouter import parse_generation_record
from minillm.core.retry import parse_retry_after
from minillm.core.sse import ServerSentEvent, SSEDecoder
from minillm.core.stream import StreamChunk, StreamParser

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HANG = 120.0
"""Seconds after which a test here counts as hung: the process dumps every thread's stack and exits, so a
loader that never returns fails CI loudly instead of stalling it. Each test takes a second or two."""


@pytest.fixture(autouse=True)
def _never_hangs() -> Iterator[None]:
    faulthandler.dump_traceback_later(HANG, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()

PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
    "openrouter": OpenRouterProvider(),
    "generic": GenericProvider(),
    "anthropic": AnthropicProvider(),
}

# Keys the wires read, so that random objects often have the right names with the wrong values.
WIRE_KEYS = [
    "id", "model", "object", "choices", "index", "message", "delta", "content", "role", "refusal",
    "finish_reason", "usage", "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
    "cached_tokens", "cache_write_tokens", "completion_tokens_details", "reasoning_tokens", "cost",
    "cost_details", "upstream_inference_cost", "is_byok", "tool_calls", "function", "name", "arguments",
    "type", "images", "image_url", "url", "error", "code", "text", "stop_reason", "input_tokens",
    "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "content_block", "input",
    "partial_json", "data", "total_cost", "tokens_prompt", "tokens_completion", "native_tokens_cached",
    "native_tokens_reasoning", "status", "metadata",
]
WIRE_STRINGS = [
    "message", "text", "tool_use", "text_delta", "input_json_delta", "message_start", "message_delta",
    "message_stop", "content_block_start", "content_block_delta", "content_block_stop", "ping", "error",
    "assistant", "user", "stop", "length", "end_turn", "tool_calls", "function", "[DONE]", "",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WIRE_STRINGS),
    st.text(max_size=20),
)
keys = st.one_of(st.sampled_from(WIRE_KEYS), st.text(max_size=8))
jsonish: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=6),
    ),
    max_leaves=30,
)


def _valid_openai() -> dict[str, Any]:
    return {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def _valid_anthropic() -> dict[str, Any]:
    return {
        "id": "msg",
        "type": "message",
        "model": "m",
        "content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """``value`` with the node reached by following ``path`` (indices into sorted keys / items) replaced."""
    if not path or not isinstance(value, (dict, list)) or not value:
        return replacement
    index, rest = path[0], path[1:]
    if isinstance(value, dict):
        key = sorted(value)[index % len(value)]
        return {**value, key: _mutate(value[key], rest, replacement)}
    i = index % len(value)
    return [*value[:i], _mutate(value[i], rest, replacement), *value[i + 1 :]]


# Valid bodies with one node replaced by something arbitrary: deep in the shape, where parsers go wrong.
mutated_bodies = st.builds(
    _mutate,
    st.sampled_from([_valid_openai(), _valid_anthropic()]),
    st.lists(st.integers(min_value=0, max_value=10), max_size=6),
    jsonish,
)
bodies = st.one_of(jsonish, mutated_bodies)


def _only_minillm_errors(function: Callable[[], object]) -> object:
    """Run ``function``; a ``MiniLLMError`` is an acceptable outcome, anything else fails the test."""
    try:
        return function()
    except MiniLLMError as e:
        return e


# ----- the SSE decoder ---------------------------------------------------------------------------------------

sse_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [b"", b"data: x", b"data:", b"event: error", b": comment", b"id: 1", b"retry: 10", b"\xef\xbb\xbf"]
        ),
        st.binary(max_size=30),
        st.builds(lambda v: b"data: " + json.dumps(v).encode(), jsonish),
    ),
    max_size=12,
)


@FUZZ
@given(st.one_of(st.binary(max_size=400), sse_lines.map(b"\n".join), sse_lines.map(b"\r\n".join)),
       st.lists(st.integers(min_value=0, max_value=400), max_size=6))
@example(b"\xff\xfe\xfd\n\n", [1])
@example(b"\xef\xbb", [1])
@example(b"data: \xe2\x82\n\n", [8])
def test_sse_decoder_never_raises_and_yields_text(data: bytes, cuts: list[int]) -> None:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    offsets = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(offsets):
        events += decoder.feed(data[start:end])
    events += decoder.finish()
    for event in events:
        assert isinstance(event.data, str) and isinstance(event.event, str)
        assert event.retry is None or (isinstance(event.retry, int) and event.retry >= 0)


# ----- provider parsers --------------------------------------------------------------------------------------


@FUZZ
@given(data=bodies)
@example(data={"choices": [{"message": {"content": "x", "tool_calls": [None]}}]})
@example(data={"choices": [{"message": {"content": "x", "images": [{"image_url": None}]}}]})
@example(data={"error": {"code": "not-a-number", "message": None}})
@example(data={"error": {"code": 10**30, "message": "big"}})
@example(data={"type": "error", "error": None})
@example(data={"content": [{"type": "tool_use", "id": None, "name": 5, "input": "x"}]})
@example(data={"usage": {"prompt_tokens": -5, "completion_tokens": 1e300}, **_valid_openai()})
def test_every_parse_response_only_raises_minillm_errors(data: Any) -> None:
    for provider in PROVIDERS.values():
        outcome = _only_minillm_errors(lambda: provider.parse_response(data))  # noqa: B023
        if isinstance(outcome, MiniLLMError):
            assert isinstance(outcome, (APIError, MalformedResponseError))
        else:
            assert isinstance(outcome.content, str)  # type: ignore[attr-defined]


events = st.builds(
    ServerSentEvent,
    event=st.one_of(st.sampled_from(WIRE_STRINGS), st.text(max_size=10)),
    data=st.one_of(st.text(max_size=60), jsonish.map(json.dumps), mutated_bodies.map(json.dumps)),
)


@FUZZ
@given(event=events)
@example(event=ServerSentEvent("error", "not json"))
@example(event=ServerSentEvent("message", '{"choices": [{"delta": {"tool_calls": [{"index": true}]}}]}'))
@example(event=ServerSentEvent("message", '{"type": "content_block_start", "index": -1, '
                                          '"content_block": {"type": "tool_use", "input": {"a": NaN}}}'))
@example(event=ServerSentEvent("message", "1" * 5000))
def test_every_parse_stream_event_only_raises_minillm_errors(event: ServerSentEvent) -> None:
    for provider in PROVIDERS.values():
        outcome = _only_minillm_errors(lambda: provider.parse_stream_event(event))  # noqa: B023
        assert outcome is None or isinstance(outcome, (StreamChunk, StreamEnd, APIError, MalformedResponseError))


@FUZZ
@given(pieces=st.lists(st.one_of(st.binary(max_size=40), events.map(
    lambda e: f"event: {e.event}\ndata: {e.data}\n\n".encode("utf-8", "surrogatepass"))), max_size=8),
    include_usage=st.booleans())
def test_every_stream_parser_only_raises_stream_errors(pieces: list[bytes], include_usage: bool) -> None:
    for provider in PROVIDERS.values():
        parser = StreamParser(provider, "m", include_usage)
        delivered: list[str] = []
        try:
            for piece in pieces:
                delivered += [c.delta for c in parser.feed(piece)]
            response = parser.finish({})
        except StreamError as e:
            assert e.partial_text == "".join(delivered)  # the error carries exactly what was handed over
            continue
        assert response.content == "".join(delivered)


# ----- small parsers of server answers ----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
@example(b"1" * 5000)
@example(b"[" * 100_000)
@example(b"\xff\xfe")
def test_decode_json_body_only_raises_malformed_response(body: bytes) -> None:
    outcome = _only_minillm_errors(lambda: decode_json_body(body))
    assert not isinstance(outcome, MiniLLMError) or isinstance(outcome, MalformedResponseError)


@FUZZ
@given(st.integers(min_value=100, max_value=999), st.dictionaries(st.sampled_from(
    ["retry-after", "Retry-After", "retry-after-ms", "x-request-id", "request-id"]), st.text(max_size=40)),
    st.one_of(st.binary(max_size=200), bodies.map(lambda v: json.dumps(v).encode())))
@example(429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"")
@example(429, {"retry-after": "Mon, 99 Foo 99999 99:99:99 GMT"}, b"")
@example(503, {"retry-after-ms": "1e309"}, b"[" * 100_000)
def test_api_error_always_builds_an_error(status: int, headers: dict[str, str], body: bytes) -> None:
    error = api_error(status, headers, body)
    assert isinstance(error, APIError) and error.status_code == status
    assert error.retry_after is None or error.retry_after >= 0
    str(error)


@FUZZ
@given(st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms", "Retry-After"]),
                       st.one_of(st.text(max_size=40), st.from_regex(r"\A[0-9. ]{0,12}\Z"))))
@example({"retry-after": "9" * 400})
@example({"retry-after-ms": "." + "9" * 400})
@example({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"})
@example({"retry-after": "Thu, 01 Jan 0001 00:00:00 GMT"})
def test_parse_retry_after_never_raises(headers: dict[str, str]) -> None:
    value = parse_retry_after(headers)
    assert value is None or value >= 0


@FUZZ
@given(bodies)
def test_generation_record_parser_never_raises(data: Any) -> None:
    outcome = _only_minillm_errors(lambda: parse_generation_record({"data": data} if isinstance(data, dict) else data))
    assert not isinstance(outcome, MiniLLMError)


# ----- the thread loader -------------------------------------------------------------------------------------

THREAD_KEYS = [
    "prompts", "message", "role", "content", "format_kwargs", "metadata", "required_kwargs", "image_data",
    "audio_data", "type", "text", "image_url", "url", "detail", "input_audio", "data", "format", "file",
    "cache_breakpoint", "tool_calls", "tool_call_id", "name", "id", "arguments", "media_type",
]
THREAD_STRINGS = ["system", "user", "assistant", "tool", "text", "image_url", "input_audio", "file",
                  "data:image/png;base64,iVBORw0KGgo=", "https://x/y.png", "{name}", "iVBOR", "SUQz", ""]
thread_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(THREAD_STRINGS), st.text(max_size=12)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(THREAD_KEYS), st.text(max_size=6)), children, max_size=5),
    ),
    max_leaves=30,
)
entries = st.one_of(
    thread_values,
    st.fixed_dictionaries({"message": st.fixed_dictionaries({"role": st.sampled_from(THREAD_STRINGS)},
                                                            optional={"content": thread_values,
                                                                      "cache_breakpoint": thread_values,
                                                                      "tool_calls": thread_values,
                                                                      "name": thread_values})},
                          optional={"format_kwargs": thread_values, "metadata": thread_values}),
    st.fixed_dictionaries({"role": st.sampled_from(THREAD_STRINGS)},
                          optional={"content": thread_values, "image_data": thread_values,
                                    "audio_data": thread_values}),
)
threads = st.one_of(
    thread_values,
    st.fixed_dictionaries({"prompts": st.lists(entries, max_size=4)},
                          optional={"required_kwargs": thread_values}),
)


@FUZZ
@given(threads)
@example({"prompts": [{"message": {"role": "user", "content": [{"type": "image_url", "image_url": None}]}}]})
@example({"prompts": [{"message": {"role": "user", "content": "x", "tool_calls": [{"id": 1}]}}]})
@example({"prompts": [{"role": "user", "content": "x", "image_data": ["", None]}]})
@example({"prompts": [{"message": {"role": ["user"], "content": "x"}}]})
@example({"prompts": [{"message": {"role": "user", "content": "x"}, "metadata": []}]})
def test_thread_data_loader_only_raises_thread_format_errors(data: Any) -> None:
    try:
        root, leaf = ChatNode.from_thread_data(data)
    except ThreadFormatError:
        return
    assert leaf.get_root() is root
    # whatever loaded can be saved and loaded again to the same messages
    again = ChatNode.from_thread_data(json.loads(json.dumps(leaf.to_thread_data())))[1]
    assert again.thread() == leaf.thread()


@FUZZ
@given(st.one_of(st.binary(max_size=200), threads.map(lambda v: json.dumps(v)),
                 threads.map(lambda v: json.dumps(v).encode("utf-16"))))
@example(b"\xff\xfe\x00")
@example('{"prompts": [' * 50_000)
@example("9" * 5000)
@example(b'{"prompts": [{"role": "user", "content": "\xff"}]}')
def test_thread_json_loader_only_raises_thread_format_errors(text: str | bytes) -> None:
    try:
        root, leaf = ChatNode.from_thread_json(text)
    except ThreadFormatError:
        return
    assert leaf.get_root() is root


# ----- the JSON helpers --------------------------------------------------------------------------------------


def _damage(value: Any, cut: int, insert: str) -> str:
    text = json.dumps(value)
    cut %= len(text) + 1
    return text[:cut] + insert + text[cut + len(insert) // 2 :]


damaged_json = st.builds(_damage, jsonish, st.integers(min_value=0), st.text(alphabet="{}[]\",:'` \\n/*#", max_size=4))


@FUZZ
@given(st.one_of(damaged_json, damaged_json.map(lambda t: f"Here you go:\n```json\n{t}\n```\nHope it helps")))
@example("9" * 5000)
@example("[" * 600)
@example('{"a": 1e999999}')
@example("\ud800")
def test_json_helpers_only_raise_minillm_errors(text: str) -> None:
    for function in (repair_json, loads, extract_json):
        outcome = _only_minillm_errors(lambda: function(text))  # noqa: B023
        if isinstance(outcome, str) and function is not loads and outcome:
            json.loads(outcome)  # always strict JSON


# ----- inputs built to be slow -------------------------------------------------------------------------------


def test_big_adversarial_threads_load_or_fail_typed() -> None:
    deep = '{"prompts": [{"message": {"role": "user", "content": ' + "[" * 200_000 + "]" * 200_000 + "}}]}"
    with pytest.raises(ThreadFormatError, match="nested too deeply"):
        ChatNode.from_thread_json(deep)
    many = '{"prompts": [' + '{"role": "user", "content": "x"},' * 20_000 + '{"role": "user", "content": "y"}]}'
    _, leaf = ChatNode.from_thread_json(many)
    assert leaf.depth() == 20_000 and leaf.text == "y"  # a 20,001-message chain: no recursion anywhere
    escapes = '{"prompts": [{"role": "user", "content": "' + "\\u00e9" * 200_000 + '"}]}'
    assert ChatNode.from_thread_json(escapes)[0].text == "é" * 200_000
    kwargs = '{"prompts": [{"role": "user", "content": "x"}], "required_kwargs": {'
    kwargs += '"k": null,' * 20_000 + '"z": null}}'
    assert ChatNode.from_thread_json(kwargs)[0].metadata["required_kwargs"] == ["k", "z"]  # JSON keeps the last k


@pytest.mark.parametrize(
    "text",
    [
        "{" * 600,  # past the depth limit: refused before the repair library runs
        "[" * 511 + "1" + "]" * 511,  # just under it: parsed
        '{"a": "' + "x" * 200_000 + '"}',  # long but valid: the strict parser, linear
        "```json\n" + '{"a": 1, "b": [1, 2, 3], "c": {"d": "e"}}, ' * 200 + "\n```",  # long broken text
    ],
    ids=["too-deep", "at-the-limit", "long-valid", "long-broken"],
)
def test_big_adversarial_json_is_repaired_or_refused_typed(text: str) -> None:
    for function in (repair_json, loads, extract_json):
        _only_minillm_errors(lambda: function(text))  # noqa: B023


def test_a_huge_sse_event_in_small_pieces_decodes_whole() -> None:
    """A 4 MiB event in 1 KiB pieces: linear, and every byte arrives (the decoder's own tests go to 64 MiB)."""
    payload = b"x" * (4 * 1024 * 1024)
    body = b"data: " + payload + b"\n\n"
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for start in range(0, len(body), 1024):
        events += decoder.feed(body[start : start + 1024])
    events += decoder.finish()
    assert len(events) == 1 and len(events[0].data) == len(payload)
