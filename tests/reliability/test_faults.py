"""Fault injection: every fault a provider or the network throws, sync and async, streamed and not.

Each test asserts the exact outcome (the typed error, or the retry that succeeded), how many requests reached
the server (a stream handed to the caller is never sent again), the waits between attempts (recorded, not
slept), what partial text a broken stream's error carries, and that the client's single connection was
released (``assert_released``: the next request on it succeeds). ``docs/reliability.md`` lists them all.
"""

from __future__ import annotations

import email.utils
import time
import tracemalloc

import attrs
import pytest

from minillm import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncClient,
    ChatNode,
    GeneratorInfo,
    MalformedResponseError,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    RateLimitError,
    ServerError,
    StreamError,
    SyncClient,
)
from minillm.testing import MockLLMServer, RecordedRequest, Reply
from tests.conftest import API
from tests.reliability.conftest import NO_RETRY, anthropic_gen, assert_released, closed_port, openai_gen

BACKOFF = 0.5
RETRYING = NodeCompletionParameters(retry=2, back_off_time=BACKOFF)
JITTER = 0.1 * BACKOFF  # the most jitter a wait gets on top of the backoff (RetryPolicy's default)
LONG = "The quick brown fox jumps over the lazy dog. " * 12


@attrs.frozen
class Outcome:
    """What one request came to: the reply's text, or the error; and for a stream, the text handed over."""

    text: str | None
    error: BaseException | None
    delivered: str = ""


def attempt(
    api: API, gen: GeneratorInfo, params: NodeCompletionParameters = NO_RETRY, *, stream: bool
) -> Outcome:
    """Complete (or stream to its end) one user message; never raises."""
    node = ChatNode.user("hi")
    if stream:
        chunks, error = api.stream_collecting(node, gen, params)
        delivered = "".join(c.delta for c in chunks)
        return Outcome(None if error else delivered, error, delivered)
    try:
        reply = api.complete(node, gen, params)
    except Exception as e:
        return Outcome(None, e)
    return Outcome(reply.text, None)


def gave_up(outcome: Outcome, last: type[BaseException], attempts: int) -> BaseException:
    """Assert the request gave up after ``attempts`` with a ``last`` error; return that error."""
    error = outcome.error
    assert isinstance(error, MaxRetriesExceededError), repr(error)
    assert error.attempts == attempts
    assert isinstance(error.last_error, last) and error.__cause__ is error.last_error
    return error.last_error


def assert_backoff_waits(waits: list[float], count: int) -> None:
    assert len(waits) == count
    assert all(BACKOFF <= w <= BACKOFF + JITTER for w in waits), waits


streaming = pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])


# ----- the network --------------------------------------------------------------------------------------------


@streaming
def test_connection_refused_is_retried_then_gives_up(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool
) -> None:
    gen = GeneratorInfo.openai("m").with_api_key("sk-x").with_base_url(f"http://127.0.0.1:{closed_port()}/v1")
    outcome = attempt(api, gen, RETRYING, stream=stream)
    last = gave_up(outcome, APIConnectionError, attempts=3)
    assert not isinstance(last, APITimeoutError) and str(last).startswith("connection failed")
    assert_backoff_waits(waits, 2)
    assert_released(api, llm_server)


@streaming
def test_reset_before_the_headers_is_retried(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool
) -> None:
    llm_server.enqueue(Reply.reset(), Reply.text("second try"))
    outcome = attempt(api, openai_gen(llm_server), RETRYING, stream=stream)
    assert outcome == Outcome("second try", None, "second try" if stream else "")
    assert len(llm_server.requests) == 2
    assert_backoff_waits(waits, 1)
    assert_released(api, llm_server)


@streaming
def test_resets_until_the_attempts_run_out(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool
) -> None:
    llm_server.enqueue(Reply.reset(), Reply.reset(), Reply.reset(), Reply.text("never sent"))
    last = gave_up(attempt(api, openai_gen(llm_server), RETRYING, stream=stream), APIConnectionError, attempts=3)
    assert not isinstance(last, APITimeoutError)
    assert len(llm_server.requests) == 3 and llm_server.queued == 1
    assert_backoff_waits(waits, 2)
    assert_released(api, llm_server)


def test_a_body_cut_short_is_retried_when_nothing_was_handed_over(
    api: API, llm_server: MockLLMServer, waits: list[float]
) -> None:
    llm_server.enqueue(Reply.text(LONG, drop_after_bytes=100), Reply.text("complete"))
    assert attempt(api, openai_gen(llm_server), RETRYING, stream=False) == Outcome("complete", None)
    assert len(llm_server.requests) == 2
    assert_backoff_waits(waits, 1)
    assert_released(api, llm_server)


def _stream_pieces(reply: Reply, path: str) -> list[bytes]:
    """The body pieces (one SSE event each) the server writes for ``reply`` to a stream request on ``path``."""
    request = RecordedRequest("POST", path, {}, {}, b"", {"model": "m", "stream": True}, 1)
    return [bytes(piece) for piece in reply.render(request, sequence=1).body]


@pytest.mark.parametrize(("wire", "path", "lead"), [("openai", "/v1/chat/completions", 1),
                                                    ("anthropic", "/v1/messages", 2)])
def test_a_drop_mid_stream_raises_with_exactly_the_text_handed_over(
    api: API, llm_server: MockLLMServer, waits: list[float], wire: str, path: str, lead: int
) -> None:
    deltas = ["alpha ", "beta ", "gamma ", "delta ", "epsilon"]
    # Cut in the middle of the third delta's event: the first two were delivered whole.
    pieces = _stream_pieces(Reply.text(deltas), path)
    cut = sum(len(p) for p in pieces[: lead + 2]) + len(pieces[lead + 2]) // 2
    llm_server.enqueue(Reply.text(deltas, drop_after_bytes=cut), Reply.text("must not be sent"))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    outcome = attempt(api, gen, RETRYING, stream=True)
    assert isinstance(outcome.error, StreamError)
    assert outcome.error.partial_text == outcome.delivered == "alpha beta "
    assert isinstance(outcome.error.__cause__, APIConnectionError)
    assert len(llm_server.requests) == 1 and llm_server.queued == 1  # handed over: never sent again
    assert waits == []
    assert_released(api, llm_server)


@pytest.mark.parametrize(("wire", "path", "lead"), [("openai", "/v1/chat/completions", 1),
                                                    ("anthropic", "/v1/messages", 2)])
def test_a_stream_that_goes_silent_mid_way_times_out_with_its_partial_text(
    api: API, llm_server: MockLLMServer, wire: str, path: str, lead: int
) -> None:
    deltas = ["first ", "never"]
    pieces = _stream_pieces(Reply.text(deltas), path)
    cut = sum(len(p) for p in pieces[: lead + 1]) + len(pieces[lead + 1]) // 2
    llm_server.enqueue(Reply.stall(Reply.text(deltas), cut), Reply.text("must not be sent"))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    outcome = attempt(api, gen, RETRYING.with_timeout(0.3), stream=True)
    assert isinstance(outcome.error, StreamError) and isinstance(outcome.error.__cause__, APITimeoutError)
    assert outcome.error.partial_text == outcome.delivered == "first "
    assert len(llm_server.requests) == 1
    assert_released(api, llm_server)


def test_a_body_that_stalls_mid_way_times_out_and_is_retried(
    api: API, llm_server: MockLLMServer, waits: list[float]
) -> None:
    llm_server.enqueue(Reply.stall(Reply.text(LONG), 100), Reply.text("recovered"))
    assert attempt(api, openai_gen(llm_server), RETRYING.with_timeout(0.3), stream=False).text == "recovered"
    assert len(llm_server.requests) == 2
    assert_backoff_waits(waits, 1)
    assert_released(api, llm_server)


# ----- rate limits --------------------------------------------------------------------------------------------


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@streaming
@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"Retry-After": "2"}, 2.0, 2.0 + JITTER),
        ({"Retry-After": "1.25"}, 1.25, 1.25 + JITTER),
        ({"retry-after-ms": "1500"}, 1.5, 1.5 + JITTER),
        ({"retry-after-ms": "2500", "Retry-After": "9"}, 2.5, 2.5 + JITTER),  # the milliseconds win
        ({"Retry-After": "0"}, BACKOFF, BACKOFF + JITTER),  # never shorter than the backoff
        ({"Retry-After": "soon"}, BACKOFF, BACKOFF + JITTER),  # garbage is ignored
        ({"Retry-After": "60"}, 60.0, 60.0 + JITTER),  # the cap itself is still waited for
    ],
    ids=["seconds", "fractional", "ms", "ms-wins", "zero", "garbage", "at-cap"],
)
def test_429_waits_what_the_server_advertises(
    api: API,
    llm_server: MockLLMServer,
    waits: list[float],
    stream: bool,
    headers: dict[str, str],
    low: float,
    high: float,
) -> None:
    llm_server.enqueue(Reply.error(429, "slow down", headers=headers), Reply.text("ok"))
    assert attempt(api, openai_gen(llm_server), RETRYING, stream=stream).text == "ok"
    assert len(llm_server.requests) == 2
    assert len(waits) == 1 and low <= waits[0] <= high, waits
    assert_released(api, llm_server)


@streaming
def test_429_with_an_http_date(api: API, llm_server: MockLLMServer, waits: list[float], stream: bool) -> None:
    llm_server.enqueue(Reply.error(429, headers={"Retry-After": _http_date(30)}), Reply.text("ok"))
    assert attempt(api, openai_gen(llm_server), RETRYING, stream=stream).text == "ok"
    assert len(waits) == 1 and 28.0 <= waits[0] <= 30.0 + JITTER, waits  # the date has whole seconds
    assert len(llm_server.requests) == 2


@streaming
@pytest.mark.parametrize(
    ("headers", "advertised"),
    [({"Retry-After": "3600"}, 3600.0), ({"retry-after-ms": "61000"}, 61.0), ({"Retry-After": "date"}, 7200.0)],
    ids=["seconds", "ms", "http-date"],
)
def test_429_above_the_cap_raises_at_once_with_the_advertised_wait(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool, headers: dict[str, str], advertised: float
) -> None:
    if headers.get("Retry-After") == "date":
        headers = {"Retry-After": _http_date(advertised)}
    llm_server.enqueue(Reply.error(429, "come back later", headers=headers), Reply.text("never sent"))
    outcome = attempt(api, openai_gen(llm_server), RETRYING, stream=stream)
    assert isinstance(outcome.error, RateLimitError) and outcome.error.status_code == 429
    assert outcome.error.retry_after is not None
    assert advertised - 2 <= outcome.error.retry_after <= advertised
    assert "come back later" in str(outcome.error)
    assert len(llm_server.requests) == 1 and waits == []
    assert_released(api, llm_server)


@streaming
def test_429_every_time_gives_up_with_the_rate_limit_as_last_error(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool
) -> None:
    llm_server.enqueue(*[Reply.error(429, headers={"Retry-After": "1"})] * 3)
    last = gave_up(attempt(api, openai_gen(llm_server), RETRYING, stream=stream), RateLimitError, attempts=3)
    assert isinstance(last, RateLimitError) and last.retry_after == 1.0
    assert len(llm_server.requests) == 3 and len(waits) == 2 and all(1.0 <= w <= 1.0 + JITTER for w in waits)
    assert_released(api, llm_server)


# ----- server errors ------------------------------------------------------------------------------------------


@streaming
@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_retried(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool, status: int
) -> None:
    llm_server.enqueue(Reply.error(status), Reply.text("recovered"))
    assert attempt(api, openai_gen(llm_server), RETRYING, stream=stream).text == "recovered"
    assert len(llm_server.requests) == 2
    assert_backoff_waits(waits, 1)
    assert_released(api, llm_server)


@streaming
@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_until_the_attempts_run_out(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool, status: int
) -> None:
    llm_server.enqueue(*[Reply.error(status, "upstream trouble")] * 3)
    last = gave_up(attempt(api, anthropic_gen(llm_server), RETRYING, stream=stream), ServerError, attempts=3)
    assert isinstance(last, ServerError) and last.status_code == status and last.message == "upstream trouble"
    assert last.request_id == "req_mock_000003"  # the last attempt's
    assert len(llm_server.requests) == 3
    assert_backoff_waits(waits, 2)
    assert_released(api, llm_server)


# ----- answers that are not what the wire promises ----------------------------------------------------------

HTML = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@streaming
@pytest.mark.parametrize(
    ("body", "content_type", "shown"),
    [
        (HTML, "text/html; charset=utf-8", "<!DOCTYPE html>"),
        ('{"choices": [{"message": {"content": "cut', "application/json", '{"choices"'),
        ("not json at all", "application/json", "not json at all"),
        ("", "application/json", ""),
    ],
    ids=["html", "truncated-json", "non-json", "empty"],
)
def test_a_200_that_is_not_the_wire_is_malformed_and_not_retried(
    api: API, llm_server: MockLLMServer, waits: list[float], stream: bool, body: str, content_type: str, shown: str
) -> None:
    llm_server.enqueue(Reply.raw(200, body, content_type=content_type), Reply.text("never sent"))
    outcome = attempt(api, openai_gen(llm_server), RETRYING, stream=stream)
    assert isinstance(outcome.error, MalformedResponseError), repr(outcome.error)
    assert shown in str(outcome.error)
    assert outcome.delivered == ""  # a stream never started: nothing was handed over
    assert len(llm_server.requests) == 1 and waits == []
    assert_released(api, llm_server)


def test_a_200_json_error_object_in_place_of_a_stream_is_its_api_error(
    api: API, llm_server: MockLLMServer, waits: list[float]
) -> None:
    error = '{"error": {"code": 503, "message": "no provider available"}}'
    llm_server.enqueue(Reply.raw(200, error, content_type="application/json"), Reply.text("recovered"))
    outcome = attempt(api, openai_gen(llm_server), RETRYING, stream=True)
    assert outcome.text == "recovered"  # a 5xx in-band error before anything was handed over: retried
    assert len(llm_server.requests) == 2 and len(waits) == 1


def test_a_stream_with_a_truncated_json_event_is_a_stream_error(api: API, llm_server: MockLLMServer) -> None:
    body = (
        'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi "}}]}\n\n'
        'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "th'
    )
    llm_server.enqueue(Reply.raw(200, body, content_type="text/event-stream"), Reply.text("never sent"))
    outcome = attempt(api, openai_gen(llm_server), RETRYING, stream=True)
    assert isinstance(outcome.error, StreamError) and outcome.error.partial_text == outcome.delivered == "hi "
    assert len(llm_server.requests) == 1
    assert_released(api, llm_server)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_a_stream_without_its_terminal_event_is_never_a_silent_truncation(
    api: API, llm_server: MockLLMServer, waits: list[float], wire: str
) -> None:
    llm_server.enqueue(Reply.text(["partial ", "answer"], terminal=False), Reply.text("never sent"))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    outcome = attempt(api, gen, RETRYING, stream=True)
    assert isinstance(outcome.error, StreamError)
    assert outcome.error.partial_text == outcome.delivered == "partial answer"
    assert "ended before the provider finished it" in str(outcome.error)
    assert len(llm_server.requests) == 1 and waits == []
    assert_released(api, llm_server)


@pytest.mark.parametrize(("wire", "code", "cause"), [("openai", 502, ServerError), ("anthropic", 529, ServerError),
                                                     ("openai", 429, RateLimitError)])
def test_an_in_band_error_mid_stream_carries_the_partial_text(
    api: API, llm_server: MockLLMServer, waits: list[float], wire: str, code: int, cause: type[Exception]
) -> None:
    reply = Reply.in_band_error("upstream overloaded", code=code, after_chunks=3, content="abcdefghijkl", chunk_size=3)
    llm_server.enqueue(reply, Reply.text("never sent"))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    outcome = attempt(api, gen, RETRYING, stream=True)
    assert isinstance(outcome.error, StreamError)
    assert outcome.error.partial_text == outcome.delivered == "abcdefghi"
    cause_error = outcome.error.__cause__
    assert isinstance(cause_error, cause) and isinstance(cause_error, APIError) and cause_error.status_code == code
    assert "upstream overloaded" in str(outcome.error)
    assert len(llm_server.requests) == 1 and waits == []
    assert_released(api, llm_server)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_an_in_band_error_without_streaming_is_retried(
    api: API, llm_server: MockLLMServer, waits: list[float], wire: str
) -> None:
    llm_server.enqueue(Reply.in_band_error("overloaded", code=529), Reply.text("recovered"))
    gen = openai_gen(llm_server) if wire == "openai" else anthropic_gen(llm_server)
    assert attempt(api, gen, RETRYING, stream=False) == Outcome("recovered", None)
    assert len(llm_server.requests) == 2
    assert_backoff_waits(waits, 1)


# ----- slow and silent servers --------------------------------------------------------------------------------

HEAD_BYTES = 200  # about the size of the mock server's status line and headers


@streaming
def test_headers_that_trickle_in_within_the_timeout_are_fine(
    api: API, llm_server: MockLLMServer, stream: bool
) -> None:
    llm_server.enqueue(Reply.trickle(Reply.text("slow but whole"), 0.001))  # about 0.2 s for the head
    outcome = attempt(api, openai_gen(llm_server), NO_RETRY.with_timeout(4.0), stream=stream)
    assert outcome.text == "slow but whole"
    assert_released(api, llm_server)


@streaming
def test_headers_that_trickle_past_the_timeout_time_out(api: API, llm_server: MockLLMServer, stream: bool) -> None:
    # Every byte comes well within the 0.4 s timeout, so only a deadline for the whole head catches this.
    llm_server.enqueue(Reply.trickle(Reply.text("too late"), 0.02), Reply.trickle(Reply.text("too late"), 0.02))
    outcome = attempt(api, openai_gen(llm_server), NO_RETRY.with_retry(1).with_timeout(0.4), stream=stream)
    gave_up(outcome, APITimeoutError, attempts=2)
    assert len(llm_server.requests) == 2
    assert_released(api, llm_server)


def test_a_body_that_trickles_past_the_timeout_times_out(api: API, llm_server: MockLLMServer) -> None:
    # 40 pieces 0.05 s apart: no single read waits long, the whole body takes about 2 s.
    llm_server.enqueue(Reply.large(4_000, chunk_size=100, chunk_delay=0.05))
    outcome = attempt(api, openai_gen(llm_server), NO_RETRY.with_timeout(0.5), stream=False)
    gave_up(outcome, APITimeoutError, attempts=1)
    assert_released(api, llm_server)


def test_a_stream_that_trickles_events_within_the_idle_timeout_is_fine(api: API, llm_server: MockLLMServer) -> None:
    # A stream has no total deadline: each event comes well within the 1 s idle bound, the whole takes ~1.5 s.
    llm_server.enqueue(Reply.text("x" * 30, chunk_size=1, chunk_delay=0.05))
    assert attempt(api, openai_gen(llm_server), NO_RETRY.with_timeout(1.0), stream=True).text == "x" * 30


@streaming
def test_a_silent_server_times_out_on_every_attempt(api: API, llm_server: MockLLMServer, stream: bool) -> None:
    llm_server.enqueue(Reply.silent(), Reply.silent())
    outcome = attempt(api, openai_gen(llm_server), NO_RETRY.with_retry(1).with_timeout(0.3), stream=stream)
    gave_up(outcome, APITimeoutError, attempts=2)
    assert len(llm_server.requests) == 2
    assert_released(api, llm_server)


# ----- a body of 100 MB ---------------------------------------------------------------------------------------

HUNDRED_MB = 100 * 1024 * 1024


@streaming
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_100_mb_body_parses_in_bounded_memory(llm_server: MockLLMServer, mode: str, stream: bool) -> None:
    """Decided outcome: a 100 MB completion is read and parsed like any other; peak memory stays a small
    multiple of the body (the body, its text and the reply's text; measured about 3x without streaming and
    2x streamed), never a blow-up."""
    llm_server.enqueue(Reply.large(HUNDRED_MB, chunk_size=1024 * 1024 if stream else 16_384))
    gen = openai_gen(llm_server)
    runner = API(mode, timeout=60.0, max_connections=1)
    tracemalloc.start()
    try:
        outcome = attempt(runner, gen, NO_RETRY, stream=stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        runner.close()
    assert outcome.error is None and outcome.text is not None
    assert len(outcome.text) == HUNDRED_MB and outcome.text.startswith(Reply.large(1).PATTERN)
    assert peak < 4.5 * HUNDRED_MB, f"peak {peak / 2**20:.0f} MiB"


def test_the_default_clients_bound_whole_requests(llm_server: MockLLMServer) -> None:
    """Regression (headers that trickle): ``timeout_secs`` bounds the whole request, not each read, in the
    clients minillm makes, so the deadline machinery must stay installed under their pools."""
    from minillm.transport._network import bound_sync_client

    with SyncClient() as client:
        assert bound_sync_client(client._http)  # already bound: nothing left to do, and it says so
    llm_server.enqueue(Reply.trickle(Reply.text("late"), 0.02))

    async def go() -> BaseException | None:
        async with AsyncClient() as client:
            try:
                await ChatNode.user("x").acomplete(openai_gen(llm_server), NO_RETRY.with_timeout(0.3), client=client)
            except MaxRetriesExceededError as e:
                return e.last_error
        return None

    import asyncio

    assert isinstance(asyncio.run(go()), APITimeoutError)
