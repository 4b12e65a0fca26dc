"""GeneratorInfo presets, builders, secret hiding and provider endpoints."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from minillm.core.auth import (
    ApiKey,
    BearerToken,
    ClaudeSubscriptionAuth,
    MissingKey,
    NoAuth,
    ResolvedCredential,
)
from minillm.core.errors import ConfigurationError, InvalidParameterError
from minillm.core.generator import GeneratorInfo
from minillm.core.params import CompletionParameters
from minillm.core.providers import (
    AnthropicProvider,
    GenericProvider,
    OpenAIProvider,
    OpenRouterProvider,
    Provider,
)
from minillm.core.usage import TokenPrice

CANARY = "sk-canary-91e0c4d7b2"
KEY_VARS = ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "MY_KEY", "MY_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No key variables, a fresh HOME, and a current directory whose nearest .env is an empty one."""
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return project


# --- presets -----------------------------------------------------------------------------------------------


def test_openrouter_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    g = GeneratorInfo.openrouter("google/gemini-2.5-flash-lite")
    assert g.name == "OpenRouter"
    assert g.base_url == "https://openrouter.ai/api/v1"
    assert g.model == "google/gemini-2.5-flash-lite"
    assert isinstance(g.provider, OpenRouterProvider)
    assert g.auth == ApiKey("or-key")
    assert g.app_attribution == ("https://github.com/minillm-sdk/minillm", "minillm")
    assert g.completions_url() == "https://openrouter.ai/api/v1/chat/completions"


def test_openai_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "oa-key")
    g = GeneratorInfo.openai("gpt-4o-mini")
    assert (g.name, g.base_url, g.model) == ("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini")
    assert isinstance(g.provider, OpenAIProvider)
    assert g.auth.resolve() == ResolvedCredential("api_key", "oa-key")
    assert g.app_attribution is None
    assert g.completions_url() == "https://api.openai.com/v1/chat/completions"


def test_anthropic_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "an-key")
    g = GeneratorInfo.anthropic("claude-sonnet-4-5")
    assert (g.name, g.base_url) == ("Anthropic", "https://api.anthropic.com")
    assert isinstance(g.provider, AnthropicProvider)
    assert g.auth == ApiKey("an-key")
    assert g.app_attribution is None
    assert g.completions_url() == "https://api.anthropic.com/v1/messages"


def test_claude_subscription_preset_resolves_at_each_request(monkeypatch: pytest.MonkeyPatch) -> None:
    g = GeneratorInfo.claude_subscription("claude-sonnet-4-5")
    assert (g.name, g.base_url) == ("Claude (subscription)", "https://api.anthropic.com")
    assert isinstance(g.provider, AnthropicProvider)
    assert g.auth == ClaudeSubscriptionAuth()
    with pytest.raises(ConfigurationError, match="ANTHROPIC_AUTH_TOKEN"):
        g.auth.resolve()
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "oat-token")
    assert g.auth.resolve() == ResolvedCredential("bearer", "oat-token")
    assert g.completions_url() == "https://api.anthropic.com/v1/messages"


def test_custom_preset() -> None:
    g = GeneratorInfo.custom("Local", "http://127.0.0.1:8000/v1/", "llama")
    assert (g.name, g.model) == ("Local", "llama")
    assert g.provider == GenericProvider(legacy_token_limit=False)
    assert g.auth == NoAuth()
    assert g.auth.resolve() is None
    assert g.completions_url() == "http://127.0.0.1:8000/v1/chat/completions"
    legacy = GeneratorInfo.custom("Old", "http://localhost:1234/v1", "m", legacy_token_limit=True)
    assert legacy.provider == GenericProvider(legacy_token_limit=True)


def test_direct_construction_defaults() -> None:
    g = GeneratorInfo("Mine", "https://api.example.com/v1", "m")
    assert isinstance(g.provider, GenericProvider)
    assert g.auth == NoAuth()
    assert g.custom_headers == ()
    assert g.supports_streaming is True
    assert g.supports_vision is False
    assert g.supports_audio is False
    assert g.max_context_length is None
    assert g.token_price is None
    assert g.app_attribution is None
    assert g.default_params == CompletionParameters()
    assert g.default_params.max_tokens == 4096
    assert g.openrouter_name is None


@pytest.mark.parametrize(
    ("preset", "var", "provider"),
    [
        (GeneratorInfo.openrouter, "OPENROUTER_API_KEY", "OpenRouter"),
        (GeneratorInfo.openai, "OPENAI_API_KEY", "OpenAI"),
        (GeneratorInfo.anthropic, "ANTHROPIC_API_KEY", "Anthropic"),
    ],
)
def test_missing_key_fails_at_resolve_time_naming_the_variable(preset: Any, var: str, provider: str) -> None:
    g = preset("some-model")  # building works without a key
    assert g.auth == MissingKey(var, provider)
    with pytest.raises(ConfigurationError) as info:
        g.auth.resolve()
    assert var in str(info.value)
    assert provider in str(info.value)


def test_preset_reads_dotenv_without_touching_os_environ(clean_env: Path) -> None:
    (clean_env / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    g = GeneratorInfo.openai("gpt-4o")
    assert g.auth == ApiKey(CANARY)
    assert "OPENAI_API_KEY" not in os.environ


def test_environment_beats_dotenv_for_presets(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("OPENAI_API_KEY=from-dotenv\n")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert GeneratorInfo.openai("gpt-4o").auth == ApiKey("from-env")


def test_preset_takes_a_set_but_empty_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert GeneratorInfo.openai("gpt-4o").auth == ApiKey("")


# --- builders ----------------------------------------------------------------------------------------------


def _base() -> GeneratorInfo:
    return GeneratorInfo.custom("Local", "http://127.0.0.1:9/v1", "m")


def test_auth_builders() -> None:
    g = _base()
    assert g.with_api_key("k").auth == ApiKey("k")
    assert g.with_bearer_token("t").auth == BearerToken("t")
    assert g.with_api_key("k").with_auth(NoAuth()).auth == NoAuth()
    assert g.auth == NoAuth()  # the original is unchanged


def test_from_env_builders(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = _base().with_api_key("orig")
    assert g.with_api_key_from_env("MY_KEY") is g  # unset: no-op
    assert g.with_bearer_token_from_env("MY_TOKEN") is g
    monkeypatch.setenv("MY_KEY", "env-key")
    assert g.with_api_key_from_env("MY_KEY").auth == ApiKey("env-key")
    (clean_env / ".env").write_text("MY_TOKEN=dotenv-token\n")
    assert g.with_bearer_token_from_env("MY_TOKEN").auth == BearerToken("dotenv-token")
    monkeypatch.setenv("MY_KEY", "")
    assert g.with_api_key_from_env("MY_KEY").auth == ApiKey("")


def test_plain_builders_set_their_field_and_return_copies() -> None:
    g = _base()
    price = TokenPrice(3, 15)
    params = CompletionParameters(max_tokens=100)
    cases: list[tuple[GeneratorInfo, str, Any]] = [
        (g.with_token_price(price), "token_price", price),
        (g.with_provider(OpenAIProvider()), "provider", OpenAIProvider()),
        (g.with_vision(), "supports_vision", True),
        (g.with_audio(), "supports_audio", True),
        (g.with_max_context(128_000), "max_context_length", 128_000),
        (g.with_default_params(params), "default_params", params),
        (g.with_base_url("https://proxy.example.com/v1"), "base_url", "https://proxy.example.com/v1"),
        (g.with_model("other"), "model", "other"),
        (g.with_app_attribution("https://my.app", "My App"), "app_attribution", ("https://my.app", "My App")),
        (g.with_openrouter_name("anthropic/claude-sonnet-4.5"), "openrouter_name", "anthropic/claude-sonnet-4.5"),
    ]
    for built, name, expected in cases:
        assert getattr(built, name) == expected, name
    assert g == _base()


def test_with_base_url_moves_the_endpoint() -> None:
    g = _base().with_base_url("https://proxy.example.com/v1/")
    assert g.completions_url() == "https://proxy.example.com/v1/chat/completions"


def test_with_header_appends_in_order() -> None:
    g = _base().with_header("X-One", "1").with_header("X-Two", "2").with_header("X-One", "again")
    assert g.custom_headers == (("X-One", "1"), ("X-Two", "2"), ("X-One", "again"))


@pytest.mark.parametrize("name", ["", "Bad Name", "X-Colon:", "X-\r\nInjected", "Ünïcode", "X\tTab"])
def test_invalid_header_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameterError, match="invalid header name"):
        _base().with_header(name, "v")


@pytest.mark.parametrize("value", [f"{CANARY}\r\nX-Evil: 1", f"{CANARY}\n", f"a\x00{CANARY}"])
def test_invalid_header_values_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(InvalidParameterError, match="invalid header value for 'X-Key'") as info:
        _base().with_header("X-Key", value)
    assert CANARY not in str(info.value)


def test_header_values_may_hold_spaces_and_tabs() -> None:
    g = _base().with_header("X-Note", "a b\tc")
    assert g.custom_headers == (("X-Note", "a b\tc"),)


def test_base_url_must_be_http() -> None:
    with pytest.raises(InvalidParameterError, match="base_url"):
        GeneratorInfo.custom("x", "api.example.com/v1", "m")
    with pytest.raises(InvalidParameterError, match="base_url"):
        _base().with_base_url("ftp://example.com")


def test_wrong_kinds_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="auth"):
        _base().with_auth("sk-plain-string")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="provider"):
        _base().with_provider("openai")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="max_context_length"):
        _base().with_max_context(0)


def test_generator_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        _base().model = "x"  # type: ignore[misc]


# --- secrets -----------------------------------------------------------------------------------------------


def test_repr_and_str_never_show_a_key_token_or_header_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY)
    generators = [
        GeneratorInfo.openrouter("m"),
        _base().with_api_key(CANARY),
        _base().with_bearer_token(CANARY),
        _base().with_header("Authorization", f"Bearer {CANARY}"),
    ]
    for g in generators:
        assert CANARY not in repr(g)
        assert CANARY not in str(g)
        assert CANARY not in repr(g.auth.resolve())
    assert "ApiKey(***)" in repr(generators[0])
    assert "'Authorization'" in repr(generators[3])


# --- providers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "name", "path"),
    [
        (OpenAIProvider(), "openai", "/chat/completions"),
        (OpenRouterProvider(), "openrouter", "/chat/completions"),
        (GenericProvider(), "generic", "/chat/completions"),
        (AnthropicProvider(), "anthropic", "/v1/messages"),
    ],
)
def test_provider_endpoints_trim_trailing_slashes(provider: Provider, name: str, path: str) -> None:
    assert isinstance(provider, Provider)
    assert provider.name == name
    assert provider.completions_url("https://api.example.com/v1") == f"https://api.example.com/v1{path}"
    assert provider.completions_url("https://api.example.com/v1/") == f"https://api.example.com/v1{path}"


def test_anthropic_endpoint_examples() -> None:
    for base in ("https://api.anthropic.com", "https://api.anthropic.com/"):
        assert AnthropicProvider().completions_url(base) == "https://api.anthropic.com/v1/messages"
