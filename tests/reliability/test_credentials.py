"""A credential that cannot go in an HTTP header (a tab, a line break, a non-ASCII character ...) is refused
before anything is sent: a ``ConfigurationError`` naming where the credential came from (the variable, the
file, or the method it was given to), never the value; not retried; nothing in the logs; no request reaches
the server. Every preset, every source, both worlds, streamed and not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from minillm import (
    ChatNode,
    ConfigurationError,
    GeneratorInfo,
    InvalidParameterError,
    NodeCompletionParameters,
)
from minillm.core.auth import ApiKey, ResolvedCredential
from minillm.testing import MockLLMServer
from tests.conftest import API
from tests.reliability.conftest import assert_released

CORE = "CANARYb41d9e2f7c30"
"""In every bad key: finding it anywhere is a leak."""

RETRYING = NodeCompletionParameters(retry=3, back_off_time=0.0)
"""Retries allowed: a bad credential must still be refused once, not retried."""

BAD_KEYS = {
    "a tab": f"sk-{CORE}\tTAILtab",
    "a trailing newline": f"sk-{CORE}TAILnl\n",
    "a CRLF inside": f"sk-{CORE}\r\nTAILcrlf",
    "a non-ASCII letter": f"sk-{CORE}éTAILlatin",
    "an emoji": f"sk-{CORE}\U0001f511TAILemoji",
    "a no-break space": f"sk-{CORE}\u00a0TAILnbsp",
    "a leading space": f" sk-{CORE}TAILspace",
    "a space inside": f"sk-{CORE} TAILinner",
    "a DEL character": f"sk-{CORE}\x7fTAILdel",
    "a NUL character": f"sk-{CORE}\x00TAILnul",
}
"""Each bad kind of key; the environment cannot hold a NUL, so that one is only given in code and files."""

FLAWS = {
    "a tab": "tab",
    "a trailing newline": "ends with whitespace or a line break",
    "a CRLF inside": "line break",
    "a non-ASCII letter": "non-ASCII",
    "an emoji": "non-ASCII",
    "a no-break space": "non-ASCII",
    "a leading space": "starts or ends with whitespace",
    "a space inside": "space",
    "a DEL character": "control character",
    "a NUL character": "control character",
}

ENV_PRESETS = {
    "openrouter": ("OPENROUTER_API_KEY", GeneratorInfo.openrouter, "openrouter_base_url"),
    "openai": ("OPENAI_API_KEY", GeneratorInfo.openai, "openai_base_url"),
    "anthropic": ("ANTHROPIC_API_KEY", GeneratorInfo.anthropic, "anthropic_base_url"),
    "claude_subscription": ("ANTHROPIC_AUTH_TOKEN", GeneratorInfo.claude_subscription, "anthropic_base_url"),
}


def fragments(key: str) -> list[str]:
    """What must appear nowhere: the canary core and the key's distinctive end (with and without its flaw)."""
    tail = key.strip()[-8:]
    return [CORE, tail, key.strip()]


def attempt(api: API, gen: GeneratorInfo, *, stream: bool) -> BaseException:
    node = ChatNode.user("hi")
    try:
        if stream:
            api.stream(node, gen, RETRYING)
        else:
            api.complete(node, gen, RETRYING)
    except Exception as e:
        return e
    raise AssertionError("the request with a bad credential was sent")


def assert_refused(
    api: API,
    server: MockLLMServer,
    caplog: pytest.LogCaptureFixture,
    gen: GeneratorInfo,
    key: str,
    kind: str,
    source: str,
) -> None:
    """Streamed and not: a ConfigurationError naming ``source`` and the flaw, never the key, in the error or
    any log record; no request at the server."""
    server.reset()
    for stream in (False, True):
        caplog.clear()
        with ExitStack() as levels:
            for name in ("minillm", "httpx", "httpcore"):
                levels.enter_context(caplog.at_level(logging.DEBUG, logger=name))
            error = attempt(api, gen, stream=stream)
        assert type(error) is ConfigurationError, repr(error)  # not retried: no MaxRetriesExceededError
        message = str(error)
        assert source in message and FLAWS[kind] in message, message
        texts = [message, repr(error), repr(vars(error)), *(r.getMessage() for r in caplog.records)]
        for text in texts:
            for fragment in fragments(key):
                assert fragment not in text, f"the key leaked: {text[:200]!r}"
    assert server.requests == []


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for var, _, _ in ENV_PRESETS.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file to find
    monkeypatch.setenv("HOME", str(tmp_path))  # no Claude Code credentials file either
    return monkeypatch


@pytest.mark.parametrize("kind", sorted(k for k in BAD_KEYS if "NUL" not in k))
@pytest.mark.parametrize("preset", sorted(ENV_PRESETS))
def test_a_bad_key_from_the_environment_is_refused_naming_the_variable(
    api: API,
    llm_server: MockLLMServer,
    caplog: pytest.LogCaptureFixture,
    clean_env: pytest.MonkeyPatch,
    preset: str,
    kind: str,
) -> None:
    var, make, base = ENV_PRESETS[preset]
    key = BAD_KEYS[kind]
    clean_env.setenv(var, key)
    gen = make("model-x").with_base_url(getattr(llm_server, base))  # building it is fine: the key is not used yet
    assert_refused(api, llm_server, caplog, gen, key, kind, var)


GIVEN: dict[str, Callable[[GeneratorInfo, str], GeneratorInfo]] = {
    "with_api_key": GeneratorInfo.with_api_key,
    "with_bearer_token": GeneratorInfo.with_bearer_token,
}


@pytest.mark.parametrize("kind", sorted(BAD_KEYS))
@pytest.mark.parametrize("method", sorted(GIVEN))
@pytest.mark.parametrize("preset", sorted(ENV_PRESETS))
def test_a_bad_key_given_in_code_is_refused_naming_the_method(
    api: API,
    llm_server: MockLLMServer,
    caplog: pytest.LogCaptureFixture,
    clean_env: pytest.MonkeyPatch,
    preset: str,
    method: str,
    kind: str,
) -> None:
    _, make, base = ENV_PRESETS[preset]
    key = BAD_KEYS[kind]
    gen = GIVEN[method](make("model-x").with_base_url(getattr(llm_server, base)), key)
    assert_refused(
        api, llm_server, caplog, gen, key, kind, f"the {'key' if 'key' in method else 'token'} given to {method}"
    )


@pytest.mark.parametrize("kind", ["a tab", "a non-ASCII letter", "a NUL character"])
def test_a_bad_token_in_the_claude_credentials_file_is_refused_naming_the_file(
    api: API,
    llm_server: MockLLMServer,
    caplog: pytest.LogCaptureFixture,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
) -> None:
    key = BAD_KEYS[kind]
    path = tmp_path / ".claude" / ".credentials.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"claudeAiOauth": {"accessToken": key}}), encoding="utf-8")
    gen = GeneratorInfo.claude_subscription("model-x").with_base_url(llm_server.anthropic_base_url)
    assert_refused(api, llm_server, caplog, gen, key, kind, str(path))


@pytest.mark.parametrize("kind", ["a tab", "an emoji"])
def test_a_bad_key_from_a_named_variable_is_refused_naming_it(
    api: API, llm_server: MockLLMServer, caplog: pytest.LogCaptureFixture, clean_env: pytest.MonkeyPatch, kind: str
) -> None:
    key = BAD_KEYS[kind]
    clean_env.setenv("MY_GATEWAY_KEY", key)
    clean_env.setenv("MY_GATEWAY_TOKEN", key)
    custom = GeneratorInfo.custom("gateway", llm_server.openai_base_url, "m")
    for gen in (custom.with_api_key_from_env("MY_GATEWAY_KEY"), custom.with_bearer_token_from_env("MY_GATEWAY_TOKEN")):
        var = "MY_GATEWAY_KEY" if isinstance(gen.auth, ApiKey) else "MY_GATEWAY_TOKEN"
        assert_refused(api, llm_server, caplog, gen, key, kind, var)


def test_a_good_key_still_goes_through(api: API, llm_server: MockLLMServer, clean_env: pytest.MonkeyPatch) -> None:
    # Every visible ASCII character is allowed (keys use - _ . ~ + / = and more).
    key = "sk-" + "".join(chr(c) for c in range(0x21, 0x7F))
    gen = GeneratorInfo.openai("m").with_api_key(key).with_base_url(llm_server.openai_base_url)
    assert api.complete(ChatNode.user("hi"), gen).text
    assert llm_server.last_request.headers["authorization"] == f"Bearer {key}"
    assert_released(api, llm_server)


def test_a_custom_auth_is_checked_too() -> None:
    # Any Auth resolves to a ResolvedCredential, which refuses a bad secret when it is made.
    with pytest.raises(ConfigurationError, match="the credential given contains a tab") as info:
        ResolvedCredential("bearer", BAD_KEYS["a tab"])
    assert CORE not in str(info.value)
    with pytest.raises(ConfigurationError, match="is empty"):
        ResolvedCredential("api_key", "")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Api-Key", f"{CORE}\tx"),
        ("Authorization", f"Bearer {CORE} "),
        ("X-Api-Key", f"{CORE}é"),
        ("X-Custom", f"{CORE}\u2019"),
    ],
)
def test_a_custom_header_that_cannot_be_sent_is_refused_without_its_value(name: str, value: str) -> None:
    gen = GeneratorInfo.custom("gateway", "http://127.0.0.1:9/v1", "m")
    with pytest.raises(InvalidParameterError) as info:
        gen.with_header(name, value)
    assert CORE not in str(info.value) and name in str(info.value)
