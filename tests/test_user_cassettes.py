"""A user's own cassette tests, run as a user project would run them: record against the local server,
replay offline with sockets blocked beyond loopback, and clear errors when something is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from minillm import ChatNode
from minillm.testing import MockLLMServer

APP_TEST = """
from minillm import ChatNode
from minillm.testing import Reply


def test_capital(llm_cassettes):
    gen = llm_cassettes.generator("openai", "gpt-4o-mini")
    llm_cassettes.enqueue(Reply.text("Paris.", usage=(12, 2)))
    with llm_cassettes.use("capital"):
        reply = ChatNode.root("Be brief.").add_user("Capital of France?").complete(gen)
    assert reply.text == "Paris."


async def test_capital_async(llm_cassettes):
    gen = llm_cassettes.generator("anthropic", "claude-haiku-4-5")
    llm_cassettes.enqueue(Reply.text("Paris.", usage=(12, 2)))
    with llm_cassettes.use("capital_async"):
        reply = await ChatNode.root("Be brief.").add_user("Capital of France?").acomplete(gen)
    assert reply.text == "Paris."
"""
LOOPBACK_ONLY = "--allow-hosts=127.0.0.1,::1,localhost"


@pytest.fixture
def app(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest('pytest_plugins = ["minillm.testing.pytest_plugin"]\n')
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_app=APP_TEST)
    return pytester


def _cassettes(root: Path) -> list[Path]:
    return sorted((root / "cassettes" / "test_app").glob("*.yaml"))


def test_record_locally_then_replay_offline(app: pytest.Pytester) -> None:
    recorded = app.runpytest_subprocess("--llm-record=local", LOOPBACK_ONLY, "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=2)
    files = _cassettes(app.path)
    assert [f.name for f in files] == ["capital.yaml", "capital_async.yaml"]
    openai_text, anthropic_text = (f.read_text(encoding="utf-8") for f in files)
    assert "https://api.openai.com/v1/chat/completions" in openai_text
    assert "https://api.anthropic.com/v1/messages" in anthropic_text
    for text in (openai_text, anthropic_text):
        assert "127.0.0.1" not in text and "test-key" not in text
        assert "REDACTED" in text

    replayed = app.runpytest_subprocess(LOOPBACK_ONLY, "-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=2)


def test_replay_without_a_cassette_says_how_to_record(app: pytest.Pytester) -> None:
    result = app.runpytest_subprocess(LOOPBACK_ONLY, "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*cassette*capital.yaml is missing; record it with: pytest --llm-record=local*"])


def test_live_recording_without_a_key_skips(app: pytest.Pytester) -> None:
    result = app.runpytest_subprocess("--llm-record=live", LOOPBACK_ONLY, "-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*OPENAI_API_KEY is not set*"])


def test_blocked_sockets_fail_at_once_with_the_cause(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["minillm.testing.pytest_plugin"]\n')
    pytester.makepyfile(test_blocked="def test_it(llm_server):\n    pass\n")
    result = pytester.runpytest_subprocess("--disable-socket", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.re_match_lines([r".*the test server could not start: .*--allow-hosts=127\.0\.0\.1.*"])
    assert "ConfigurationError: the test server did not start" not in result.stdout.str()


@pytest.mark.parametrize("wire", ["openai", "openrouter", "anthropic", "claude_subscription", "custom"])
def test_server_generator_talks_to_the_server(llm_server: MockLLMServer, wire: str) -> None:
    gen = llm_server.generator(wire, "some-model")
    reply = ChatNode.root("Be brief.").add_user("Hello!").complete(gen)
    assert reply.text == "Echo: Hello!"
    assert llm_server.last_request.json["model"] == "some-model"


def test_server_generator_refuses_an_unknown_wire(llm_server: MockLLMServer) -> None:
    from minillm import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="unknown wire 'gemini'"):
        llm_server.generator("gemini", "m")


def test_session_server_is_shared(llm_server_session: MockLLMServer, request: pytest.FixtureRequest) -> None:
    assert llm_server_session.running
    assert request.getfixturevalue("llm_server_session") is llm_server_session
    assert sys.modules["minillm.testing.cassettes"]  # the plugin loads the cassette helper
