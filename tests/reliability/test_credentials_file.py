"""Claude subscription credentials under stress: a file Claude Code rewrites in place while requests run,
and files shaped to break the reader (100,000 levels deep, megabytes long).

A read that catches the file mid-write (empty, half-written) is tried again at once, then falls back to the
last token read from that file; a file that is whole but unusable is a ``ConfigurationError`` naming the
file, never its contents.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from minillm import ChatNode, ConfigurationError, GeneratorInfo
from minillm.testing import MockLLMServer
from tests.conftest import API
from tests.reliability.conftest import NO_RETRY, assert_released

TOKENS = ("sk-ant-oat01-" + "A" * 40, "sk-ant-oat01-" + "B" * 40)


def _document(token: str) -> str:
    return json.dumps({"claudeAiOauth": {"accessToken": token, "refreshToken": "sk-ant-ort01-" + "R" * 40}})


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$HOME/.claude/.credentials.json`` in a fresh home, holding the first token; no token in the
    environment or a ``.env`` file."""
    home = tmp_path / "home"
    path = home / ".claude" / ".credentials.json"
    path.parent.mkdir(parents=True)
    path.write_text(_document(TOKENS[0]), encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


def _generator(server: MockLLMServer) -> GeneratorInfo:
    return GeneratorInfo.claude_subscription("claude-test").with_base_url(server.anthropic_base_url)


def _sent_tokens(server: MockLLMServer) -> set[str]:
    return {r.headers.get("authorization", "") for r in server.requests}


def test_a_file_rewritten_in_place_while_requests_run_never_fails_one(
    api: API, llm_server: MockLLMServer, credentials: Path
) -> None:
    """A thread rewrites the file in place (truncate, write half, flush, write the rest) as fast as it can
    while 150 requests run: once a good token was seen, none fails, and each sent one of the two tokens."""
    gen = _generator(llm_server)
    api.complete(ChatNode.user("first"), gen, NO_RETRY)  # a good token seen
    stop = threading.Event()
    rewrites = [0]

    def rewrite() -> None:
        while not stop.is_set():
            document = _document(TOKENS[rewrites[0] % 2])
            with open(credentials, "w", encoding="utf-8") as f:  # "w" truncates: the file is empty for a moment
                f.write(document[: len(document) // 2])
                f.flush()
                f.write(document[len(document) // 2 :])
            rewrites[0] += 1

    writer = threading.Thread(target=rewrite)
    writer.start()
    failures: list[ConfigurationError] = []
    try:
        for i in range(150):
            try:
                api.complete(ChatNode.user(f"request {i}"), gen, NO_RETRY)
            except ConfigurationError as e:
                failures.append(e)
    finally:
        stop.set()
        writer.join()
    assert failures == []
    assert rewrites[0] > 20  # the file really was rewritten while the requests ran
    assert len(llm_server.requests) == 151
    assert _sent_tokens(llm_server) <= {f"Bearer {token}" for token in TOKENS}
    assert_released(api, llm_server)


def test_the_last_good_token_does_not_hide_a_file_that_is_whole_but_has_none(
    api: API, llm_server: MockLLMServer, credentials: Path
) -> None:
    """Falling back is only for a file caught mid-write: logged out (no token) or deleted is an error."""
    gen = _generator(llm_server)
    api.complete(ChatNode.user("first"), gen, NO_RETRY)
    credentials.write_text(json.dumps({"claudeAiOauth": {}}), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"holds no claudeAiOauth\.accessToken"):
        api.complete(ChatNode.user("second"), gen, NO_RETRY)
    credentials.unlink()
    with pytest.raises(ConfigurationError, match="does not exist"):
        api.complete(ChatNode.user("third"), gen, NO_RETRY)
    assert len(llm_server.requests) == 1


def test_a_file_caught_mid_write_before_any_good_read_is_a_configuration_error(
    api: API, llm_server: MockLLMServer, credentials: Path
) -> None:
    document = _document(TOKENS[0])
    credentials.write_text(document[: len(document) // 2], encoding="utf-8")
    with pytest.raises(ConfigurationError, match="is not valid JSON") as info:
        api.complete(ChatNode.user("hi"), _generator(llm_server), NO_RETRY)
    assert TOKENS[0][:20] not in str(info.value)
    assert llm_server.requests == []


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[" * 100_000, "nested too deeply"),
        (
            f'{{"claudeAiOauth": {{"accessToken": "{TOKENS[1]}"}}, "x": {"[" * 100_000}{"]" * 100_000}}}',
            "nested too deeply",
        ),
        (f'{{"claudeAiOauth": {{"accessToken": "{TOKENS[1]}"}}, "pad": "{"x" * 2 * 1024 * 1024}"}}', "larger than"),
    ],
    ids=["100k-deep", "100k-deep-holding-a-token", "2-MiB"],
)
def test_a_hostile_file_is_a_configuration_error_naming_the_file_not_the_token(
    api: API, llm_server: MockLLMServer, credentials: Path, content: str, problem: str
) -> None:
    gen = _generator(llm_server)
    api.complete(ChatNode.user("first"), gen, NO_RETRY)  # a good token seen: it must not be used, nor shown
    credentials.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=problem) as info:
        api.complete(ChatNode.user("second"), gen, NO_RETRY)
    message = str(info.value)
    assert str(credentials) in message
    assert all(token[13:] not in message for token in TOKENS)
    assert TOKENS[1][13:] not in repr(info.value)
    assert len(llm_server.requests) == 1
    assert_released(api, llm_server)


def test_nothing_about_the_token_is_kept_in_a_repr(credentials: Path) -> None:
    gen = GeneratorInfo.claude_subscription("claude-test")
    assert gen.auth.resolve().secret == TOKENS[0]
    os.truncate(credentials, 0)
    assert gen.auth.resolve().secret == TOKENS[0]  # the last good token, while the file is empty
    assert TOKENS[0][13:] not in repr(gen) + repr(gen.auth)


def test_two_reads_that_disagree_count_as_mid_write(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A read spliced from two versions of the file is valid JSON with a token that never existed; the second
    read tells it apart, and the file is then treated as caught mid-write (so the last good token is used)."""
    from minillm.core import auth

    reads = iter([_document(TOKENS[0]).encode(), _document(TOKENS[1]).encode()])
    monkeypatch.setattr(auth, "_read_bounded", lambda path: next(reads))
    assert auth._read_claude_token(tmp_path / "credentials.json") == (None, "was being rewritten", True)
