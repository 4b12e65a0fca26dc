"""Secrets: a canary key is planted in every credential slot and searched for everywhere minillm writes.

The places searched: the repr and str of every object that holds or carries a credential, every exception
on the error paths (with its whole ``traceback.format_exception`` text and its attributes), every log record
of the ``minillm``, ``httpx`` and ``httpcore`` loggers at DEBUG during full requests, saved threads, and a
cassette recorded with the suite's recorder settings. The canaries share a distinctive core and each ends
distinctively, so a partial leak (a key cut or masked at one end) is found too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minillm import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    ChatNode,
    ConfigurationError,
    GeneratorInfo,
    MaxRetriesExceededError,
    MiniLLMError,
    NodeCompletionParameters,
    RateLimitError,
    StreamError,
    SyncClient,
)
from minillm.core.auth import ApiKey, BearerToken, ClaudeSubscriptionAuth, ResolvedCredential
from minillm.core.flow import CompletionCall
from minillm.testing import MockLLMServer, Reply
from tests.conftest import API
from tests.reliability.conftest import NO_RETRY, closed_port

CORE = "CANARY7f3a9c1e5b2d"
"""In every canary: finding it anywhere is a leak."""
OPENROUTER_KEY = f"sk-or-v1-{CORE}0123456789abcdef0123456789abcdef"
OPENAI_KEY = f"sk-proj-{CORE}abcdefABCDEF0123456789"
ANTHROPIC_KEY = f"sk-ant-api03-{CORE}ZYXWVUT9876543210"
BEARER_TOKEN = f"sk-ant-oat01-{CORE}qwertyuiop1234567890"


FRAGMENTS = (CORE, *(key[-12:] for key in (OPENROUTER_KEY, OPENAI_KEY, ANTHROPIC_KEY, BEARER_TOKEN)))
"""What is searched for: the shared core, and each key's last 12 characters (a key masked at its start)."""


def assert_clean(text: str, where: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"a secret leaked into {where}: {text[:300]!r}"


def generators(server: MockLLMServer) -> dict[str, GeneratorInfo]:
    """Every preset carrying a canary, pointed at the local server."""
    return {
        "openrouter": GeneratorInfo.openrouter("anthropic/claude-test")
        .with_api_key(OPENROUTER_KEY)
        .with_base_url(server.openrouter_base_url),
        "openai": GeneratorInfo.openai("gpt-test").with_api_key(OPENAI_KEY).with_base_url(server.openai_base_url),
        "anthropic": GeneratorInfo.anthropic("claude-test")
        .with_api_key(ANTHROPIC_KEY)
        .with_base_url(server.anthropic_base_url),
        "claude_subscription": GeneratorInfo.claude_subscription("claude-test")
        .with_bearer_token(BEARER_TOKEN)
        .with_base_url(server.anthropic_base_url),
        "custom_with_header": GeneratorInfo.custom("local", server.openai_base_url, "m")
        .with_bearer_token(OPENAI_KEY)
        .with_header("X-Api-Key", ANTHROPIC_KEY),
    }


def exception_texts(error: BaseException) -> Iterator[tuple[str, str]]:
    """Every text an exception shows: its traceback (causes and contexts included), and for each exception
    in the chain its str, repr and attributes."""
    yield "the traceback", "".join(traceback.format_exception(error))
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        yield f"str({name})", str(current)
        yield f"repr({name})", repr(current)
        if isinstance(current, MiniLLMError):  # minillm's own errors: their attributes too
            yield f"vars({name})", repr(vars(current))
        current = current.__cause__ or current.__context__


def assert_exception_clean(error: BaseException) -> None:
    for where, text in exception_texts(error):
        assert_clean(text, where)


# ----- reprs ----------------------------------------------------------------------------------------------------


def test_reprs_of_everything_that_holds_a_credential(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", BEARER_TOKEN)
    objects: list[object] = [
        ApiKey(OPENAI_KEY),
        BearerToken(BEARER_TOKEN),
        ResolvedCredential("api_key", ANTHROPIC_KEY),
        ResolvedCredential("bearer", BEARER_TOKEN),
        ClaudeSubscriptionAuth().resolve(),
        GeneratorInfo.claude_subscription("m"),
    ]
    for gen in generators(llm_server).values():
        call = CompletionCall(ChatNode.user("hi"), gen, NodeCompletionParameters())
        request = call.request()
        assert any(CORE in value for _, value in request.headers)  # the secret really is in there
        objects += [gen, gen.auth, call, request, call.stream_parser()]
    with SyncClient() as client:
        objects.append(client)
        stream = ChatNode.user("hi").complete_streaming(generators(llm_server)["openai"], client=client)
        with stream:
            objects.append(stream)
            list(stream)
    objects.append(AsyncClient())
    objects += llm_server.requests  # the test server's records of what it received
    assert llm_server.requests and CORE in llm_server.requests[0].headers["authorization"]
    for obj in objects:
        assert_clean(repr(obj), f"repr({type(obj).__name__})")
        assert_clean(str(obj), f"str({type(obj).__name__})")


def test_a_secret_with_a_line_break_is_refused_without_echoing_it() -> None:
    for build in (lambda: ApiKey(OPENAI_KEY + "\n").resolve(), lambda: GeneratorInfo.openai("m").with_bearer_token(
            "x" + BEARER_TOKEN + "\r\n").auth.resolve()):
        with pytest.raises(ConfigurationError) as info:
            build()
        assert_exception_clean(info.value)


def test_a_broken_claude_credentials_file_is_described_without_its_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env to find
    for content in (
        json.dumps({"claudeAiOauth": {"accessTokn": BEARER_TOKEN}}),  # misspelt field
        '{"claudeAiOauth": {"accessToken": "' + BEARER_TOKEN,  # cut short: not JSON
        json.dumps([BEARER_TOKEN]),
    ):
        path = tmp_path / ".credentials.json"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigurationError) as info:
            ClaudeSubscriptionAuth(path).resolve()
        assert str(path) in str(info.value)
        assert_exception_clean(info.value)


# ----- errors on every path -------------------------------------------------------------------------------------


def _failure(api: API, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters, stream: bool) -> Exception:
    if stream:
        _, error = api.stream_collecting(node, gen, params)
        assert isinstance(error, Exception)
        return error
    try:
        api.complete(node, gen, params)
    except Exception as e:
        return e
    raise AssertionError("the request did not fail")


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
@pytest.mark.parametrize("preset", ["openrouter", "openai", "anthropic", "claude_subscription", "custom_with_header"])
def test_errors_on_every_path_carry_no_secret(
    api: API, llm_server: MockLLMServer, waits: list[float], preset: str, stream: bool
) -> None:
    gen = generators(llm_server)[preset]
    node = ChatNode.user("hi")
    failures: list[tuple[type[Exception], Exception]] = []

    llm_server.enqueue(Reply.error(401, "invalid credentials"))
    failures.append((AuthenticationError, _failure(api, node, gen, NO_RETRY, stream)))

    llm_server.enqueue(Reply.error(429, headers={"Retry-After": "3600"}))
    failures.append((RateLimitError, _failure(api, node, gen, NO_RETRY, stream)))

    llm_server.enqueue(*[Reply.error(503)] * 2)
    failures.append((MaxRetriesExceededError, _failure(api, node, gen, NO_RETRY.with_retry(1), stream)))

    refused = gen.with_base_url(f"http://127.0.0.1:{closed_port()}/v1")
    error = _failure(api, node, refused, NO_RETRY, stream)
    assert isinstance(error, MaxRetriesExceededError) and isinstance(error.last_error, APIConnectionError)
    failures.append((MaxRetriesExceededError, error))

    if stream:
        llm_server.enqueue(Reply.in_band_error("failed", after_chunks=1))
        failures.append((StreamError, _failure(api, node, gen, NO_RETRY, stream)))

    for kind, failure in failures:
        assert isinstance(failure, kind), repr(failure)
        assert_exception_clean(failure)
    assert CORE in repr(llm_server.requests[0].headers)  # every request did carry the secret


def test_a_missing_key_names_the_variable_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY") as info:
        ChatNode.user("hi").complete(GeneratorInfo.openai("m"))
    assert_exception_clean(info.value)


# ----- logs -----------------------------------------------------------------------------------------------------


def test_debug_logs_of_full_requests_carry_no_secret(
    llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx logs each request's method, URL and status at INFO, and httpcore each step at DEBUG with the
    response headers; neither logs request headers, so the credential never reaches a log. minillm's own
    warnings (a dropped tool call, cache marks) carry no credential either."""
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    gens = generators(llm_server)
    with contextlib.ExitStack() as levels:
        for name in (None, "minillm", "httpx", "httpcore"):
            levels.enter_context(caplog.at_level(logging.DEBUG, logger=name))
        with SyncClient() as client:
            for gen in gens.values():
                ChatNode.user("hi").complete(gen, client=client)
                with ChatNode.user("hi").complete_streaming(gen, client=client) as stream:
                    list(stream)
            # an error, a retry, and OpenRouter's out-of-band cost lookup (a GET carrying the key)
            llm_server.enqueue(Reply.error(401), Reply.error(503), Reply.text("ok", id="gen-1", send_usage=False))
            with pytest.raises(AuthenticationError):
                ChatNode.user("hi").complete(gens["openai"], client=client)
            retrying = NodeCompletionParameters(back_off_time=0)
            ChatNode.user("hi").complete_costed(gens["openrouter"], retrying, client=client)

        async def go() -> None:
            async with AsyncClient() as aclient:
                for gen in gens.values():
                    await ChatNode.user("hi").acomplete(gen, client=aclient)

        asyncio.run(go())
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"httpx", "httpcore"} <= loggers  # the capture saw the libraries' logs
    assert any(record.levelno == logging.DEBUG for record in caplog.records)
    assert any(r.method == "GET" for r in llm_server.requests)
    for record in caplog.records:
        assert_clean(record.getMessage(), f"a log record of {record.name}")
        assert_clean(repr(record.args), f"the arguments of a log record of {record.name}")
    assert_clean(caplog.text, "the formatted log")


def test_hook_events_and_body_logs_carry_no_secret(
    llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every event a hook receives (its repr, and an error's whole traceback text) and every log line of the
    ``minillm`` logger, its ``minillm.bodies`` child included (turned down to level 1, so request and reply
    bodies are written), carry no credential: on each preset, plain and streamed, failing and retried."""
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)
    gens = generators(llm_server)
    events: list[Any] = []

    async def ahook(event: Any) -> None:
        events.append(event)

    with caplog.at_level(logging.DEBUG, logger="minillm"), caplog.at_level(1, logger="minillm.bodies"):
        with SyncClient(hooks=[events.append]) as client:
            for gen in gens.values():
                ChatNode.user("hi").complete(gen, client=client)
                with ChatNode.user("hi").complete_streaming(gen, client=client) as stream:
                    list(stream)
            llm_server.enqueue(Reply.error(401), Reply.error(503), Reply.text("ok", id="gen-1", send_usage=False))
            with pytest.raises(AuthenticationError):
                ChatNode.user("hi").complete(gens["openai"], client=client)
            retrying = NodeCompletionParameters(back_off_time=0)
            ChatNode.user("hi").complete_costed(gens["openrouter"], retrying, client=client)

        async def go() -> None:
            async with AsyncClient(hooks=[ahook]) as aclient:
                for gen in gens.values():
                    await ChatNode.user("hi").acomplete(gen, client=aclient)
                llm_server.enqueue(Reply.error(403))
                with pytest.raises(AuthenticationError):
                    await ChatNode.user("hi").acomplete(gens["anthropic"], client=aclient)

        asyncio.run(go())
    names = {type(event).__name__ for event in events}
    assert {"RequestBuilt", "RetryScheduled", "RequestFailed", "StreamFinished", "CostKnown"} <= names
    assert any(r.name == "minillm.bodies" for r in caplog.records)  # the bodies were written
    for event in events:
        assert_clean(repr(event), f"the event {type(event).__name__}")
        error = getattr(event, "error", None)
        if error is not None:
            assert_exception_clean(error)
    for record in caplog.records:
        assert_clean(record.getMessage(), f"a log record of {record.name}")
    assert_clean(caplog.text, "the formatted log")


# ----- saved threads and cassettes ------------------------------------------------------------------------------


def test_saved_threads_carry_no_secret(api: API, llm_server: MockLLMServer, tmp_path: Path) -> None:
    leaf = ChatNode.root("system")
    for gen in generators(llm_server).values():
        leaf = api.complete(leaf.add_user("hi"), gen)
        _, response = api.stream(leaf.add_user("more"), gen, NodeCompletionParameters(track_cost=True))
        leaf = leaf.children[-1].append_response(response)
    path = tmp_path / "thread.json"
    leaf.save_thread(path)
    text = path.read_text(encoding="utf-8")
    assert "Echo: hi" in text and '"usage"' in text  # replies and their metadata were saved
    assert_clean(text, "a saved thread")
    assert_clean(json.dumps(leaf.to_thread_data()), "thread data")


def test_a_recorded_cassette_carries_no_secret(llm_server: MockLLMServer, tmp_path: Path) -> None:
    """Recorded with the cassette suite's own recorder (its header filters and response scrubbing)."""
    from tests.test_cassettes import _recorder

    cassette = tmp_path / "canary.yaml"
    gens = generators(llm_server)
    llm_server.enqueue(Reply.text("x", id="gen-9", send_usage=False))  # OpenRouter then looks its cost up
    with _recorder(cassette, "all"):
        with SyncClient() as client:
            ChatNode.user("hi").complete_costed(gens["openrouter"], NO_RETRY, client=client)
            for gen in gens.values():
                ChatNode.user("hi").complete(gen, client=client)
                with ChatNode.user("hi").complete_streaming(gen, client=client) as stream:
                    list(stream)

        async def go() -> None:
            async with AsyncClient() as aclient:
                for gen in gens.values():
                    await ChatNode.user("hi").acomplete(gen, client=aclient)

        asyncio.run(go())
    text = cassette.read_text(encoding="utf-8")
    assert text.count("uri:") >= 3 * len(gens) + 2 and "REDACTED" in text  # it did record, with filters
    assert_clean(text, "a cassette")


def test_the_canary_search_finds_a_leak() -> None:
    """The checks above would catch a leak: the same search on texts that do hold the secret fails."""
    leaky: list[Any] = [f"Bearer {OPENAI_KEY}", repr({"x-api-key": ANTHROPIC_KEY[:32]}), "sk-...." + BEARER_TOKEN[-12:]]
    for text in leaky:
        with pytest.raises(AssertionError):
            assert_clean(text, "a leaky text")
