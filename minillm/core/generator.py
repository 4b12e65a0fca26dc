"""``GeneratorInfo``: which model, at which address, over which wire, with which credential.

A generator is a frozen value; presets build the common ones and ``with_*`` builders return changed copies.
Presets read their key from the environment (or a ``.env`` file) when built; a missing key is not an error
until a request is made, and then the error names the variable to set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from minillm.core.auth import (
    ApiKey,
    Auth,
    BearerToken,
    ClaudeSubscriptionAuth,
    MissingKey,
    NoAuth,
    env_value,
)
from minillm.core.catalog import PriceQuote
from minillm.core.errors import InvalidParameterError
from minillm.core.http import _SECRET_HEADERS
from minillm.core.params import CompletionParameters
from minillm.core.providers.anthropic import AnthropicProvider
from minillm.core.providers.base import Provider
from minillm.core.providers.generic import GenericProvider
from minillm.core.providers.openai import OpenAIProvider
from minillm.core.providers.openrouter import OpenRouterProvider
from minillm.core.providers.profiles import CompatibilityProfile
from minillm.core.usage import TokenPrice

__all__ = ["GeneratorInfo", "validate_header"]

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_APP_ATTRIBUTION = ("https://github.com/minillm-sdk/minillm", "minillm")

# RFC 9110 field-name: a token of visible ASCII without separators.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 field-value: visible characters, spaces and tabs; no CR, LF, NUL or other controls.
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def validate_header(name: str, value: str) -> None:
    """Raise ``InvalidParameterError`` unless ``name: value`` is a well-formed HTTP header.

    The value is never echoed in the message, since headers often carry credentials.
    """
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise InvalidParameterError(
            f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~ only (no spaces or colons)"
        )
    if not isinstance(value, str):
        raise InvalidParameterError(f"invalid header value for {name!r}: expected a str, got {type(value).__name__}")
    if _BAD_HEADER_VALUE.search(value):
        raise InvalidParameterError(
            f"invalid header value for {name!r}: it contains a line break or another control character; remove it"
        )
    if not value.isascii():
        # httpx sends header values as ASCII: anything else would fail at the first request, echoing the value.
        raise InvalidParameterError(
            f"invalid header value for {name!r}: it contains a non-ASCII character; HTTP headers carry ASCII only"
        )
    if name.lower() in _SECRET_HEADERS and ("\t" in value or value != value.strip()):
        raise InvalidParameterError(
            f"invalid header value for {name!r}: this header carries a credential, which holds no tab and no "
            "leading or trailing space; remove them"
        )


def _headers(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for pair in value:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidParameterError(f"custom_headers must hold (name, value) pairs, got {type(pair).__name__}")
        name, text = pair
        validate_header(name, text)
        pairs.append((name, text))
    return tuple(pairs)


def _headers_repr(headers: tuple[tuple[str, str], ...]) -> str:
    # Header values may be credentials: show the names only.
    return repr(tuple((name, "***") for name, _ in headers))


def _check_base_url(_instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise InvalidParameterError(
            f"base_url must be an http:// or https:// URL, got {value!r} (e.g. 'https://api.example.com/v1')"
        )


def _check_instance(kind: type, what: str) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            raise InvalidParameterError(f"GeneratorInfo.{attribute.name} must be {what}, got {value!r}")

    return check


def _check_optional(kind: type, what: str) -> Any:
    inner = _check_instance(kind, what)

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return check


def _check_attribution(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise InvalidParameterError(f"app_attribution must be a (url, title) pair of strings, got {value!r}")
    validate_header("HTTP-Referer", value[0])
    validate_header("X-Title", value[1])


def _check_model(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
        raise InvalidParameterError(
            f"the model must be a non-empty string naming the provider's model (e.g. 'gpt-4o-mini'), got {shown}"
        )


def _check_name(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidParameterError(f"the generator's name must be a string, got a {type(value).__name__}")


def _check_context(_instance: object, _attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidParameterError(f"max_context_length must be a positive integer or None, got {value!r}")


def _env_source(var: str) -> str:
    return f"{var} (environment or .env)"


def _key_from_env(var: str, provider: str) -> Auth:
    key = env_value(var)
    return MissingKey(var, provider) if key is None else ApiKey(key, source=_env_source(var))


@attrs.frozen
class GeneratorInfo:
    """A model at an endpoint: name, address, model id, wire (``provider``), credential and defaults.

    Build one with a preset (``GeneratorInfo.openrouter("google/gemini-2.5-flash-lite")``) or directly
    (``GeneratorInfo(name, base_url, model)``: generic wire, no credential). ``supports_*`` and
    ``max_context_length`` are informational; nothing checks them. ``repr`` never shows a secret.
    """

    name: str = attrs.field(validator=_check_name)
    base_url: str = attrs.field(validator=_check_base_url)
    model: str = attrs.field(validator=_check_model)
    provider: Provider = attrs.field(
        factory=GenericProvider, kw_only=True, validator=_check_instance(Provider, "a provider wire")
    )
    auth: Auth = attrs.field(factory=NoAuth, kw_only=True, validator=_check_instance(Auth, "a credential"))
    custom_headers: tuple[tuple[str, str], ...] = attrs.field(
        default=(), kw_only=True, converter=_headers, repr=_headers_repr
    )
    supports_streaming: bool = attrs.field(default=True, kw_only=True)
    supports_vision: bool = attrs.field(default=False, kw_only=True)
    supports_audio: bool = attrs.field(default=False, kw_only=True)
    max_context_length: int | None = attrs.field(default=None, kw_only=True, validator=_check_context)
    token_price: TokenPrice | None = attrs.field(
        default=None, kw_only=True, validator=_check_optional(TokenPrice, "a TokenPrice")
    )
    app_attribution: tuple[str, str] | None = attrs.field(default=None, kw_only=True, validator=_check_attribution)
    default_params: CompletionParameters = attrs.field(
        factory=CompletionParameters,
        kw_only=True,
        validator=_check_instance(CompletionParameters, "CompletionParameters"),
    )
    openrouter_name: str | None = attrs.field(default=None, kw_only=True)
    catalog_price: bool | None = attrs.field(default=None, kw_only=True)
    catalog_url: str | None = attrs.field(default=None, kw_only=True)
    catalog_quote: PriceQuote | None = attrs.field(default=None, kw_only=True, eq=False)

    # Presets ------------------------------------------------------------------------------------------

    @classmethod
    def openrouter(cls, model: str) -> GeneratorInfo:
        """OpenRouter, key from ``OPENROUTER_API_KEY``, with minillm's app attribution headers."""
        return cls(
            "OpenRouter",
            OPENROUTER_BASE_URL,
            model,
            provider=OpenRouterProvider(),
            auth=_key_from_env("OPENROUTER_API_KEY", "OpenRouter"),
            app_attribution=DEFAULT_APP_ATTRIBUTION,
        )

    @classmethod
    def openai(cls, model: str) -> GeneratorInfo:
        """OpenAI, key from ``OPENAI_API_KEY``."""
        return cls(
            "OpenAI",
            OPENAI_BASE_URL,
            model,
            provider=OpenAIProvider(),
            auth=_key_from_env("OPENAI_API_KEY", "OpenAI"),
        )

    @classmethod
    def anthropic(cls, model: str) -> GeneratorInfo:
        """Anthropic's native API, key from ``ANTHROPIC_API_KEY``."""
        return cls(
            "Anthropic",
            ANTHROPIC_BASE_URL,
            model,
            provider=AnthropicProvider(),
            auth=_key_from_env("ANTHROPIC_API_KEY", "Anthropic"),
        )

    @classmethod
    def claude_subscription(cls, model: str) -> GeneratorInfo:
        """Anthropic's API with a Claude subscription's OAuth token, looked up at every request
        (``ANTHROPIC_AUTH_TOKEN``, else Claude Code's ``~/.claude/.credentials.json``)."""
        return cls(
            "Claude (subscription)",
            ANTHROPIC_BASE_URL,
            model,
            provider=AnthropicProvider(),
            auth=ClaudeSubscriptionAuth(),
        )

    @classmethod
    def custom(
        cls,
        name: str,
        base_url: str,
        model: str,
        *,
        legacy_token_limit: bool = False,
        stream_usage: bool = False,
        profile: str | CompatibilityProfile | None = None,
    ) -> GeneratorInfo:
        """Any OpenAI-compatible server, no credential (add one with ``with_api_key``).

        ``legacy_token_limit=True`` sends ``max_tokens`` instead of ``max_completion_tokens``.
        ``stream_usage=True`` asks for token usage on streams (``stream_options.include_usage``) and waits for
        it; off by default, as some servers refuse keys they do not know (see ``with_stream_usage``).
        ``profile`` fits the body to one server (``"ollama"``, ``"vllm"``, ``"llama.cpp"``, ``"lmstudio"``,
        ``"deepseek"``, ``"groq"``, ``"gemini"``, or a ``CompatibilityProfile``); see ``with_profile``.
        """
        provider = GenericProvider(legacy_token_limit=legacy_token_limit, stream_usage=stream_usage, profile=profile)
        return cls(name, base_url, model, provider=provider)

    # Builders -----------------------------------------------------------------------------------------

    def with_api_key(self, key: str) -> GeneratorInfo:
        """Use ``key`` as the API key (a key that cannot go in a header is refused when a request is built)."""
        return attrs.evolve(self, auth=ApiKey(key, source="the key given to with_api_key"))

    def with_api_key_from_env(self, var: str) -> GeneratorInfo:
        """Use the API key in variable ``var`` (environment, else ``.env``); unchanged if it is not set."""
        key = env_value(var)
        return self if key is None else attrs.evolve(self, auth=ApiKey(key, source=_env_source(var)))

    def with_bearer_token(self, token: str) -> GeneratorInfo:
        """Use ``token`` as a bearer token (checked like a key, when a request is built)."""
        return attrs.evolve(self, auth=BearerToken(token, source="the token given to with_bearer_token"))

    def with_bearer_token_from_env(self, var: str) -> GeneratorInfo:
        """Use the bearer token in variable ``var`` (environment, else ``.env``); unchanged if it is not set."""
        token = env_value(var)
        return self if token is None else attrs.evolve(self, auth=BearerToken(token, source=_env_source(var)))

    def with_auth(self, auth: Auth) -> GeneratorInfo:
        return attrs.evolve(self, auth=auth)

    def with_token_price(self, price: TokenPrice | None) -> GeneratorInfo:
        """Price completions of this generator (USD per million tokens)."""
        return attrs.evolve(self, token_price=price)

    def with_provider(self, provider: Provider) -> GeneratorInfo:
        """Speak another wire dialect at the same address."""
        return attrs.evolve(self, provider=provider)

    def with_schema_mode(self, mode: str) -> GeneratorInfo:
        """How this generator's wire asks for a reply schema (``with_schema``): ``"json_schema"`` or
        ``"prompt"`` on ``custom`` servers, ``"tool"`` or ``"native"`` on Anthropic. Other wires have one way."""
        kind: Any = type(self.provider)
        if not attrs.has(kind) or "schema_mode" not in attrs.fields_dict(kind):
            raise InvalidParameterError(
                f"the {self.provider.name} wire has a single way to send a reply schema; with_schema_mode applies "
                "to custom servers ('json_schema' or 'prompt') and Anthropic ('tool' or 'native')"
            )
        provider: Any = self.provider
        return attrs.evolve(self, provider=attrs.evolve(provider, schema_mode=mode))

    def with_header(self, name: str, value: str) -> GeneratorInfo:
        """Add a header to every request (sent last, so it overrides one of the same name)."""
        return attrs.evolve(self, custom_headers=(*self.custom_headers, (name, value)))

    def with_stream_usage(self, enabled: bool = True) -> GeneratorInfo:
        """On a ``custom`` generator: ask for token usage on streams (``stream_options.include_usage``) and wait
        for the usage chunk, so a stream's cost is known. The other presets already get usage their own way."""
        provider = self.provider
        if not isinstance(provider, GenericProvider):
            raise InvalidParameterError(
                f"with_stream_usage() is for GeneratorInfo.custom generators; the {provider.name!r} wire already "
                "asks for usage on streams its own way, so leave it out"
            )
        return attrs.evolve(self, provider=attrs.evolve(provider, stream_usage=enabled))

    def with_profile(self, profile: str | CompatibilityProfile | None) -> GeneratorInfo:
        """On a ``custom`` generator: fit requests to one server's compatibility profile (its token-limit key,
        ``stream_options``, reasoning shape, refused parameters, tool streaming); None removes it."""
        provider = self.provider
        if not isinstance(provider, GenericProvider):
            raise InvalidParameterError(
                f"with_profile() is for GeneratorInfo.custom generators; the {provider.name!r} wire is already fitted "
                "to its provider"
            )
        return attrs.evolve(self, provider=provider.with_profile(profile))

    def with_vision(self, enabled: bool = True) -> GeneratorInfo:
        return attrs.evolve(self, supports_vision=enabled)

    def with_audio(self, enabled: bool = True) -> GeneratorInfo:
        return attrs.evolve(self, supports_audio=enabled)

    def with_max_context(self, tokens: int | None) -> GeneratorInfo:
        return attrs.evolve(self, max_context_length=tokens)

    def with_default_params(self, params: CompletionParameters) -> GeneratorInfo:
        """Parameters every request starts from (a request's own ``params`` are merged over them)."""
        return attrs.evolve(self, default_params=params)

    def with_base_url(self, base_url: str) -> GeneratorInfo:
        """Send every request of this generator to another address (a proxy, a local test server)."""
        return attrs.evolve(self, base_url=base_url)

    def with_model(self, model: str) -> GeneratorInfo:
        return attrs.evolve(self, model=model)

    def with_app_attribution(self, url: str, title: str) -> GeneratorInfo:
        """The app named to OpenRouter (``HTTP-Referer`` / ``X-Title``); other wires send nothing."""
        return attrs.evolve(self, app_attribution=(url, title))

    def with_openrouter_name(self, name: str | None) -> GeneratorInfo:
        """The model's id in OpenRouter's catalog, used to look up prices when it differs from ``model``."""
        return attrs.evolve(self, openrouter_name=name)

    def with_catalog_price(self, enabled: bool = True, *, url: str | None = None) -> GeneratorInfo:
        """Price this generator from the price catalog when no ``token_price`` is set: offline data for the direct
        OpenAI and Anthropic APIs (with ``minillm-sdk[prices]``), else OpenRouter's public models list (fetched on
        first use, cached on disk). ``url`` points at another models list. On by default only for OpenRouter
        generators, whose list is the provider's own; ``with_catalog_price(False)`` turns it off."""
        return attrs.evolve(self, catalog_price=enabled, catalog_url=url if url is not None else self.catalog_url)

    def completions_url(self) -> str:
        """The endpoint completions are sent to."""
        return self.provider.completions_url(self.base_url)
