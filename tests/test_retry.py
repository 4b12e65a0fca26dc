"""Tests for the retry policy (minillm.core.retry): the Retry-After parser, what is retried, and the waits."""

from __future__ import annotations

import pytest

from minillm.core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    EmptyResponseError,
    EmptyThreadError,
    InvalidParameterError,
    JSONRepairError,
    MalformedResponseError,
    MaxRetriesExceededError,
    NoJSONFoundError,
    RateLimitError,
    ServerError,
    StreamError,
    ThreadFormatError,
)
from minillm.core.params import NodeCompletionParameters
from minillm.core.retry import MAX_RETRY_AFTER, RetryPolicy, give_up, is_retryable, parse_retry_after

NOW = 1_445_412_450.0  # 2015-10-21 07:27:30 UTC
DATE_30S_LATER = "Wed, 21 Oct 2015 07:28:00 GMT"

# --- parse_retry_after -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250.5"}, 0.2505),
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": " 3 "}, 3.0),
        ({"retry-after": "120"}, 120.0),  # parsed as given; the cap is the policy's business
        ({"retry-after-ms": "2000", "retry-after": "9"}, 2.0),  # milliseconds win
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad ms header falls back
        ({}, None),
        ({"content-type": "application/json"}, None),
    ],
)
def test_numeric_forms(headers: dict[str, str], expected: float | None) -> None:
    wait = parse_retry_after(headers)
    if expected is None:
        assert wait is None
    else:
        assert wait == pytest.approx(expected)


@pytest.mark.parametrize("name", ["Retry-After", "RETRY-AFTER", "retry-after", "rEtRy-AfTeR"])
def test_header_names_are_case_insensitive(name: str) -> None:
    assert parse_retry_after({name: "4"}) == 4.0


@pytest.mark.parametrize("name", ["Retry-After-Ms", "RETRY-AFTER-MS", "retry-after-ms"])
def test_ms_header_name_is_case_insensitive(name: str) -> None:
    assert parse_retry_after({"X-Other": "1", name: "500"}) == 0.5


@pytest.mark.parametrize(
    "value", ["-1", "-0.5", "soon", "", "   ", "inf", "nan", "infinity", "1_0", "1e3", "0x10", "3 seconds", "5,5"]
)
def test_negative_or_garbage_is_none(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None
    assert parse_retry_after({"retry-after-ms": value}, now=NOW) is None


def test_http_date_counts_from_now() -> None:
    assert parse_retry_after({"Retry-After": DATE_30S_LATER}, now=NOW) == pytest.approx(30.0)


def test_http_date_without_zone_is_utc() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000"}, now=NOW) == pytest.approx(30.0)


def test_http_date_with_an_offset() -> None:
    # 09:28 at +0200 is 07:28 UTC.
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 09:28:00 +0200"}, now=NOW) == pytest.approx(30.0)


def test_http_date_in_the_past_is_clamped_to_zero() -> None:
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:00:00 GMT"}, now=NOW) == 0.0


def test_http_date_defaults_to_the_current_time() -> None:
    wait = parse_retry_after({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert wait is not None
    assert wait > 365 * 24 * 3600  # 2100 is years away from any clock running this test


@pytest.mark.parametrize("value", ["Wed, 99 Oct 2015 07:28:00 GMT", "Someday, 21 Oct 2015", "2015-10-21T07:28:00Z"])
def test_bad_dates_are_none(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None


# --- is_retryable ----------------------------------------------------------------------------------------

RETRYABLE = [
    RateLimitError("slow down"),
    APIError("request timeout", status_code=408),
    ServerError("internal", status_code=500),
    ServerError("unavailable", status_code=503),
    APIError("overloaded", status_code=529),
    APIConnectionError("connection refused"),
    APITimeoutError("read timed out"),
    StreamError("boom"),
    StreamError("cut", partial_text="Hel"),
    EmptyResponseError(),
    NoJSONFoundError("I cannot help with that"),
    JSONRepairError("hopeless"),
]

NOT_RETRYABLE = [
    BadRequestError("bad", status_code=400),
    AuthenticationError("who are you", status_code=401),
    AuthenticationError("forbidden", status_code=403),
    BadRequestError("no such model", status_code=404),
    BadRequestError("unknown field", status_code=422),
    APIError("conflict", status_code=409),
    APIError("in-band error in a 200 body", status_code=200),
    InvalidParameterError("temperature must be a number"),
    ConfigurationError("set OPENAI_API_KEY"),
    MalformedResponseError("not the wire's shape"),
    ThreadFormatError("not a thread"),
    EmptyThreadError(),
    MaxRetriesExceededError(StreamError("x"), 3),
    ValueError("not ours"),
    RuntimeError("not ours"),
    KeyboardInterrupt(),
]


@pytest.mark.parametrize("exc", RETRYABLE, ids=lambda e: f"{type(e).__name__}")
def test_retryable(exc: BaseException) -> None:
    assert is_retryable(exc)


@pytest.mark.parametrize("exc", NOT_RETRYABLE, ids=lambda e: f"{type(e).__name__}")
def test_not_retryable(exc: BaseException) -> None:
    assert not is_retryable(exc)


def test_an_advertised_wait_up_to_the_cap_is_retried() -> None:
    assert MAX_RETRY_AFTER == 60.0
    assert is_retryable(RateLimitError("slow", retry_after=60.0))
    assert is_retryable(ServerError("busy", status_code=503, retry_after=5.0))


def test_an_advertised_wait_above_the_cap_is_raised_at_once() -> None:
    assert not is_retryable(RateLimitError("come back tomorrow", retry_after=60.5))
    assert not is_retryable(ServerError("maintenance", status_code=503, retry_after=3600.0))


# --- RetryPolicy -----------------------------------------------------------------------------------------


def policy(params: NodeCompletionParameters, jitter_draw: float) -> RetryPolicy:
    return RetryPolicy.from_params(params, random=lambda: jitter_draw)


def test_from_params_counts_the_first_attempt() -> None:
    p = RetryPolicy.from_params(NodeCompletionParameters(retry=2, exp_back_off=True, back_off_time=0.5))
    assert p.max_attempts == 3
    assert p.exp_back_off
    assert p.back_off_time == 0.5
    assert p.max_back_off == 15.0
    assert p.jitter == 0.1
    assert RetryPolicy.from_params(NodeCompletionParameters(retry=0)).max_attempts == 1


def test_should_retry_stops_when_attempts_run_out() -> None:
    p = RetryPolicy.from_params(NodeCompletionParameters(retry=2))
    limited = RateLimitError("slow")
    assert p.should_retry(limited, 1)
    assert p.should_retry(limited, 2)
    assert not p.should_retry(limited, 3)
    assert not p.should_retry(BadRequestError("bad", status_code=400), 1)
    assert not p.should_retry(RateLimitError("later", retry_after=61.0), 1)


def test_fixed_waits_without_jitter() -> None:
    p = policy(NodeCompletionParameters(back_off_time=2.0), 0.0)
    assert [p.wait_seconds(n) for n in range(1, 7)] == [2.0] * 6


def test_fixed_waits_are_not_capped_by_max_back_off() -> None:
    p = policy(NodeCompletionParameters(back_off_time=20.0, max_back_off=15.0), 0.0)
    assert p.wait_seconds(3) == 20.0


def test_exponential_waits_without_jitter() -> None:
    p = policy(NodeCompletionParameters(exp_back_off=True), 0.0)
    assert [p.wait_seconds(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0]


def test_waits_with_full_jitter() -> None:
    fixed = policy(NodeCompletionParameters(), 1.0)
    assert [fixed.wait_seconds(n) for n in range(1, 4)] == pytest.approx([1.1, 1.1, 1.1])
    exponential = policy(NodeCompletionParameters(exp_back_off=True), 1.0)
    assert [exponential.wait_seconds(n) for n in range(1, 7)] == pytest.approx([1.1, 2.2, 4.4, 8.8, 16.5, 16.5])


def test_jitter_never_shortens_the_wait() -> None:
    p = RetryPolicy.from_params(NodeCompletionParameters(exp_back_off=True))  # the real random source
    for n in range(1, 8):
        base = p.backoff(n)
        assert base <= p.wait_seconds(n) <= base * 1.1


def test_an_advertised_wait_lengthens_the_backoff() -> None:
    p = policy(NodeCompletionParameters(), 0.0)
    assert p.wait_seconds(1, RateLimitError("slow", retry_after=5.0)) == 5.0
    assert p.wait_seconds(1, ServerError("busy", status_code=503, retry_after=2.5)) == 2.5
    # Jitter is on top, measured on the backoff.
    assert policy(NodeCompletionParameters(), 1.0).wait_seconds(1, RateLimitError("s", retry_after=5.0)) == 5.1


def test_a_shorter_advertised_wait_does_not_shorten_the_backoff() -> None:
    p = policy(NodeCompletionParameters(exp_back_off=True), 0.0)
    assert p.wait_seconds(4, RateLimitError("slow", retry_after=0.5)) == 8.0
    assert p.wait_seconds(1, StreamError("no retry_after here")) == 1.0


def test_an_advertised_wait_is_capped() -> None:
    p = policy(NodeCompletionParameters(), 0.0)
    assert p.wait_seconds(1, RateLimitError("slow", retry_after=500.0)) == MAX_RETRY_AFTER


def test_absurd_attempt_numbers_stay_at_the_cap() -> None:
    p = policy(NodeCompletionParameters(exp_back_off=True), 0.0)
    assert p.wait_seconds(10_000) == 15.0


def test_zero_back_off() -> None:
    p = policy(NodeCompletionParameters(back_off_time=0.0, exp_back_off=True), 1.0)
    assert p.wait_seconds(3) == 0.0


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"back_off_time": -1.0}, {"max_back_off": float("inf")}, {"jitter": -0.1}]
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidParameterError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_policies_compare_by_their_settings() -> None:
    assert RetryPolicy.from_params(NodeCompletionParameters()) == RetryPolicy(max_attempts=5, random=lambda: 0.5)


# --- give_up ---------------------------------------------------------------------------------------------


def test_give_up_wraps_the_last_error() -> None:
    last = ServerError("unavailable", status_code=503)
    error = give_up(last, 5)
    assert isinstance(error, MaxRetriesExceededError)
    assert error.last_error is last
    assert error.__cause__ is last
    assert error.attempts == 5
    assert "5 attempt" in str(error)
    assert "unavailable" in str(error)
