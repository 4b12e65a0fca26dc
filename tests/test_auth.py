"""Credential kinds, secret hiding, .env lookup and Claude subscription credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minillm.core.auth import (
    ApiKey,
    Auth,
    BearerToken,
    ClaudeSubscriptionAuth,
    MissingKey,
    NoAuth,
    ResolvedCredential,
    env_value,
)
from minillm.core.errors import ConfigurationError, InvalidParameterError

CANARY = "sk-canary-7f3a9b1c2d"
VAR = "MINILLM_TEST_AUTH_VAR"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean current directory. An empty .env just above it shields the tests from any real .env higher up."""
    (tmp_path / ".env").write_text("")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    for name in (VAR, "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return project


# --- secret hiding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [ApiKey(CANARY), BearerToken(CANARY), ResolvedCredential("api_key", CANARY)], ids=repr
)
def test_repr_and_str_never_show_the_secret(value: object) -> None:
    assert CANARY not in repr(value)
    assert CANARY not in str(value)
    assert CANARY not in f"{value!r} {value}"
    assert "***" in repr(value)


def test_reprs_name_the_kind() -> None:
    assert repr(ApiKey(CANARY)) == "ApiKey(***)"
    assert repr(BearerToken(CANARY)) == "BearerToken(***)"
    assert repr(ResolvedCredential("bearer", CANARY)) == "ResolvedCredential(kind='bearer', secret=***)"


def test_secret_with_a_line_break_is_refused_without_echoing_it() -> None:
    # Refused when a request is built (resolve), so a preset read from a bad variable can still be built.
    with pytest.raises(ConfigurationError) as info:
        ApiKey(CANARY + "\n").resolve()
    assert CANARY not in str(info.value)
    assert "line break" in str(info.value)
    with pytest.raises(ConfigurationError, match="line break"):
        BearerToken("a\rb").resolve()
    with pytest.raises(InvalidParameterError):
        ApiKey(42)  # type: ignore[arg-type]


def test_a_fixed_secret_resolves_the_same_every_time_and_a_bad_one_fails_every_time() -> None:
    # A fixed key's checked credential is made once; a refusal is never remembered as a success.
    key = ApiKey(CANARY, source="the test")
    assert key.resolve() == key.resolve() == ResolvedCredential("api_key", CANARY, source="the test")
    assert BearerToken(CANARY).resolve().kind == "bearer"
    bad = ApiKey("a\tb")
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="tab"):
            bad.resolve()


# --- resolve -----------------------------------------------------------------------------------------------


def test_each_kind_resolves_to_its_credential() -> None:
    assert ApiKey(CANARY).resolve() == ResolvedCredential("api_key", CANARY)
    assert BearerToken(CANARY).resolve() == ResolvedCredential("bearer", CANARY)
    assert NoAuth().resolve() is None
    assert ApiKey(CANARY).resolve().secret == CANARY


def test_every_kind_satisfies_the_auth_protocol() -> None:
    for auth in (ApiKey("k"), BearerToken("t"), NoAuth(), MissingKey("X"), ClaudeSubscriptionAuth()):
        assert isinstance(auth, Auth)
    assert not isinstance("sk-plain-string", Auth)


def test_missing_key_names_the_variable_and_the_fix() -> None:
    with pytest.raises(ConfigurationError) as info:
        MissingKey("OPENAI_API_KEY", "OpenAI").resolve()
    message = str(info.value)
    assert "OpenAI" in message
    assert "OPENAI_API_KEY" in message
    assert ".env" in message
    assert ".with_api_key(" in message


def test_missing_key_without_provider_name() -> None:
    with pytest.raises(ConfigurationError, match="set SOME_KEY"):
        MissingKey("SOME_KEY").resolve()


# --- env_value ---------------------------------------------------------------------------------------------


def test_env_value_reads_the_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR, "from-env")
    assert env_value(VAR) == "from-env"


def test_env_value_absent_everywhere_is_none(workdir: Path) -> None:
    assert env_value(VAR) is None


def test_env_value_reads_dotenv_without_touching_os_environ(workdir: Path) -> None:
    (workdir / ".env").write_text(f"{VAR}=from-dotenv\n")
    assert env_value(VAR) == "from-dotenv"
    assert VAR not in os.environ


def test_environment_wins_over_dotenv(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(f"{VAR}=from-dotenv\n")
    monkeypatch.setenv(VAR, "from-env")
    assert env_value(VAR) == "from-env"


def test_set_but_empty_variable_is_taken(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(f"{VAR}=from-dotenv\n")
    monkeypatch.setenv(VAR, "")
    assert env_value(VAR) == ""


def test_dotenv_is_found_in_a_parent_directory(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(f'{VAR}="quoted value"\n')
    deep = workdir / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert env_value(VAR) == "quoted value"


def test_nearest_dotenv_wins(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(f"{VAR}=outer\n")
    inner = workdir / "inner"
    inner.mkdir()
    (inner / ".env").write_text(f"{VAR}=inner\n")
    monkeypatch.chdir(inner)
    assert env_value(VAR) == "inner"


def test_dotenv_key_without_value_is_absent(workdir: Path) -> None:
    (workdir / ".env").write_text(f"{VAR}\n")
    assert env_value(VAR) is None


# --- Claude subscription -----------------------------------------------------------------------------------


def _write_credentials(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def _home_credentials() -> Path:
    return Path(os.environ["HOME"]) / ".claude" / ".credentials.json"


def test_claude_env_token_wins(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_credentials(_home_credentials(), {"claudeAiOauth": {"accessToken": "from-file"}})
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "from-env")
    assert ClaudeSubscriptionAuth().resolve() == ResolvedCredential("bearer", "from-env")


def test_claude_token_from_dotenv(workdir: Path) -> None:
    (workdir / ".env").write_text("ANTHROPIC_AUTH_TOKEN=from-dotenv\n")
    assert ClaudeSubscriptionAuth().resolve() == ResolvedCredential("bearer", "from-dotenv")


def test_claude_blank_env_token_falls_back_to_the_file(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "   ")
    _write_credentials(
        _home_credentials(),
        {
            "claudeAiOauth": {
                "accessToken": "sk-ant-oat01-abc",
                "refreshToken": "sk-ant-ort01-x",
                "subscriptionType": "max",
            }
        },
    )
    assert ClaudeSubscriptionAuth().resolve() == ResolvedCredential("bearer", "sk-ant-oat01-abc")


def test_claude_explicit_credentials_path(workdir: Path, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "creds.json"
    _write_credentials(path, {"claudeAiOauth": {"accessToken": "tok-explicit"}})
    auth = ClaudeSubscriptionAuth(credentials_path=path)
    assert auth.resolve().secret == "tok-explicit"
    assert ClaudeSubscriptionAuth(credentials_path=str(path)).credentials_path == path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"claudeAiOauth": {}}, "accessToken"),
        ({"claudeAiOauth": {"accessToken": ""}}, "accessToken"),
        ({"claudeAiOauth": {"accessToken": 42}}, "accessToken"),
        ({"other": "shape"}, "accessToken"),
        (["not", "an", "object"], "accessToken"),
        ("this is not json {", "not valid JSON"),
    ],
)
def test_claude_file_without_a_token_is_a_configuration_error(workdir: Path, content: object, reason: str) -> None:
    _write_credentials(_home_credentials(), content)
    with pytest.raises(ConfigurationError) as info:
        ClaudeSubscriptionAuth().resolve()
    message = str(info.value)
    assert "ANTHROPIC_AUTH_TOKEN" in message
    assert ".credentials.json" in message
    assert reason in message


def test_claude_nothing_anywhere_names_both_sources(workdir: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClaudeSubscriptionAuth().resolve()
    message = str(info.value)
    assert "ANTHROPIC_AUTH_TOKEN" in message
    assert str(_home_credentials()) in message
    assert "does not exist" in message


def test_claude_error_never_shows_the_file_contents(workdir: Path) -> None:
    _write_credentials(_home_credentials(), {"claudeAiOauth": {"refreshToken": CANARY}})
    with pytest.raises(ConfigurationError) as info:
        ClaudeSubscriptionAuth().resolve()
    assert CANARY not in str(info.value)


def test_claude_file_is_re_read_when_it_changes(workdir: Path) -> None:
    path = _home_credentials()
    auth = ClaudeSubscriptionAuth()
    _write_credentials(path, {"claudeAiOauth": {"accessToken": "tok-AAAA"}})
    assert auth.resolve().secret == "tok-AAAA"
    # Same size, possibly the same mtime tick: still picked up.
    _write_credentials(path, {"claudeAiOauth": {"accessToken": "tok-BBBB"}})
    assert auth.resolve().secret == "tok-BBBB"
    path.unlink()
    with pytest.raises(ConfigurationError):
        auth.resolve()


def test_claude_env_token_set_after_construction_is_used(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = ClaudeSubscriptionAuth()
    with pytest.raises(ConfigurationError):
        auth.resolve()
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "later-token")
    assert auth.resolve().secret == "later-token"


def test_claude_default_path_follows_home(workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other_home = tmp_path / "other-home"
    monkeypatch.setenv("HOME", str(other_home))
    assert ClaudeSubscriptionAuth().default_path() == other_home / ".claude" / ".credentials.json"
    _write_credentials(other_home / ".claude" / ".credentials.json", {"claudeAiOauth": {"accessToken": "t"}})
    assert ClaudeSubscriptionAuth().resolve().secret == "t"
