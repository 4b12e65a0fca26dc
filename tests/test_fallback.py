"""Fallback generators: the next generator is asked for the failures named, never for the caller's mistakes,
every attempt is listed on the reply, and a stream is switched only before it starts."""

from __future__ import annotations

from typing import Any

import pytest

from minillm import (
    AuthenticationError,
    BadRequestError,
    ChatNode,
    EmptyResponseError,
    FallbackGenerator,
    FallbackReason,
    InvalidParameterError,
    MaxRetriesExceededError,
    NodeCompletionParameters,
    ServerError,
)
from minillm.core.errors import APITimeoutError, RateLimitError, StreamError
from minillm.core.fallback import FallbackRun, fallback_reason
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API

NO_RETRY = NodeCompletionParameters(retry=0)


def _pair(server: MockLLMServer, on: Any = None) -> FallbackGenerator:
    primary = server.generator("openai", "primary-model")
    backup = server.generator("anthropic", "backup-model")
    return FallbackGenerator([primary, backup], on=on)


# ----- the decision (no server) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ServerError("down", status_code=503), FallbackReason.SERVER_ERROR),
        (RateLimitError("slow down", retry_after=120.0), FallbackReason.RATE_LIMITED),
        (APITimeoutError("no answer"), FallbackReason.CONNECTION),
        (
            BadRequestError("This model's maximum context length is 8192 tokens", status_code=400),
            FallbackReason.CONTEXT_LENGTH,
        ),
        (
            BadRequestError("bad", status_code=400, body={"error": {"code": "context_length_exceeded"}}),
            FallbackReason.CONTEXT_LENGTH,
        ),
        (
            BadRequestError("prompt is too long: 210000 tokens > 200000 maximum", status_code=400),
            FallbackReason.CONTEXT_LENGTH,
        ),
        (BadRequestError("temperature must be at most 2", status_code=400), None),
        (AuthenticationError("bad key", status_code=401), None),
        (InvalidParameterError("bad argument"), None),
        (EmptyResponseError(), FallbackReason.EMPTY_REPLY),
        (MaxRetriesExceededError(ServerError("down", status_code=500), 3), FallbackReason.SERVER_ERROR),
        (StreamError("cut"), None),
    ],
)
def test_each_failure_has_its_reason(error: Exception, reason: FallbackReason | None) -> None:
    assert fallback_reason(error) is reason


def test_a_run_moves_on_only_for_the_chosen_reasons(llm_server: MockLLMServer) -> None:
    fallback = _pair(llm_server, on=[FallbackReason.SERVER_ERROR])
    primary, backup = fallback.generators
    run = FallbackRun(fallback)
    run.failed(primary, ServerError("down", status_code=500))  # moves on: no raise
    with pytest.raises(RateLimitError):
        run.failed(backup, RateLimitError("slow"))  # not chosen: raised
    assert [a["reason"] for a in run.attempts] == ["server_error", "rate_limited"]


def test_construction_is_checked() -> None:
    with pytest.raises(InvalidParameterError, match="at least one"):
        FallbackGenerator([])
    with pytest.raises(InvalidParameterError, match="GeneratorInfo values"):
        FallbackGenerator(["openai:gpt-4o"])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="unknown fallback reason"):
        FallbackGenerator([_dummy()], on=["sometimes"])


def _dummy() -> Any:
    from minillm import GeneratorInfo

    return GeneratorInfo.custom("local", "http://127.0.0.1:9/v1", "m")


def test_repr_names_the_chain_and_no_secret() -> None:
    from minillm import GeneratorInfo

    chain = FallbackGenerator(
        [GeneratorInfo.openai("gpt-4o").with_api_key("sk-secret-1"), GeneratorInfo.anthropic("claude-x")]
    )
    assert repr(chain) == "FallbackGenerator([OpenAI:gpt-4o, Anthropic:claude-x])"
    assert chain.model == "gpt-4o" and "sk-secret" not in repr(chain)


# ----- through the clients, in both worlds -----------------------------------------------------------------


def test_a_server_error_moves_to_the_next_generator(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "overloaded"), Reply.text("From the backup."))
    reply = api.complete(ChatNode.root("Be brief.").add_user("Hi"), _pair(llm_server), NO_RETRY)
    assert reply.text == "From the backup."
    first, second = llm_server.requests
    assert first.json["model"] == "primary-model" and first.path.endswith("/chat/completions")
    assert second.json["model"] == "backup-model" and second.path.endswith("/messages")
    attempts = reply.metadata["fallback_attempts"]
    assert [(a["model"], a["reason"]) for a in attempts] == [("primary-model", "server_error"), ("backup-model", None)]
    assert "(503): overloaded" in attempts[0]["error"] and attempts[1]["error"] is None


def test_retries_run_before_falling_back(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(500), Reply.error(500), Reply.text("Backup."))
    params = NodeCompletionParameters(retry=1, back_off_time=0.0)
    reply = api.complete(ChatNode.user("Hi"), _pair(llm_server), params)
    assert reply.text == "Backup."
    assert [r.json["model"] for r in llm_server.requests] == ["primary-model", "primary-model", "backup-model"]


def test_the_callers_mistake_is_raised_at_once(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(401, "invalid x-api-key"), Reply.text("never asked"))
    with pytest.raises(AuthenticationError):
        api.complete(ChatNode.user("Hi"), _pair(llm_server), NO_RETRY)
    assert len(llm_server.requests) == 1


def test_a_context_length_refusal_moves_on(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(
        Reply.error(400, "This model's maximum context length is 8192 tokens."), Reply.text("A longer window.")
    )
    assert api.complete(ChatNode.user("Hi"), _pair(llm_server), NO_RETRY).text == "A longer window."


def test_when_every_generator_fails_the_last_error_is_raised(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503, "first down"), Reply.error(529, "second down"))
    with pytest.raises(MaxRetriesExceededError, match="second down") as raised:
        api.complete(ChatNode.user("Hi"), _pair(llm_server), NO_RETRY)
    assert isinstance(raised.value.last_error, ServerError)


def test_empty_replies_fall_back_only_when_asked(api: API, llm_server: MockLLMServer) -> None:
    params = NodeCompletionParameters(retry=0, crash_on_empty_response=True)
    llm_server.enqueue(Reply.text(""), Reply.text("unused"))
    with pytest.raises(MaxRetriesExceededError) as raised:  # an empty reply is retried, and was not retried
        api.complete(ChatNode.user("Hi"), _pair(llm_server), params)
    assert isinstance(raised.value.last_error, EmptyResponseError) and len(llm_server.requests) == 1
    llm_server.reset()
    llm_server.enqueue(Reply.text(""), Reply.text("Not empty."))
    chain = _pair(llm_server, on=[FallbackReason.EMPTY_REPLY])
    assert api.complete(ChatNode.user("Hi"), chain, params).text == "Not empty."


def test_costs_come_from_the_generator_that_answered(api: API, llm_server: MockLLMServer) -> None:
    from minillm import CostResolution, TokenPrice

    primary = llm_server.generator("openai", "primary-model")
    backup = llm_server.generator("openai", "backup-model").with_token_price(TokenPrice(1.0, 2.0))
    llm_server.enqueue(Reply.error(500), Reply.text("Priced.", usage=(1_000_000, 500_000)))
    reply, info = api.complete_costed(ChatNode.user("Hi"), FallbackGenerator([primary, backup]), NO_RETRY)
    assert reply.text == "Priced." and info.model == "backup-model"
    assert info.resolution is CostResolution.RESOLVED and info.cost == pytest.approx(2.0)


def test_a_stream_falls_back_only_before_it_starts(api: API, llm_server: MockLLMServer) -> None:
    llm_server.enqueue(Reply.error(503), Reply.text(["From ", "the ", "backup."]))
    chunks, response = api.stream(ChatNode.user("Hi"), _pair(llm_server), NO_RETRY)
    assert "".join(c.delta for c in chunks) == "From the backup." and response.model == "backup-model"

    llm_server.reset()  # a failure after the start is the stream's, never a switch
    llm_server.enqueue(Reply.text(["Half ", "an "], terminal=False), Reply.text("never asked"))
    chunks, error = api.stream_collecting(ChatNode.user("Hi"), _pair(llm_server), NO_RETRY)
    assert isinstance(error, StreamError) and len(llm_server.requests) == 1
