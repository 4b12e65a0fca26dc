"""Credentials: how a generator proves who it is, without ever showing the secret.

Every kind has ``resolve()``, called when a request is built: it returns a ``ResolvedCredential`` (an API key
or a bearer token; the wire decides which header carries it), ``None`` for no authentication, or raises
``ConfigurationError`` when a credential is needed and missing. Resolving at request time is what lets a
preset be built without a key (the error comes when it is used) and lets a Claude subscription pick up a
token that Claude Code refreshed.

``repr`` and ``str`` of every value here show ``***`` in place of a secret.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Literal, NoReturn, Protocol, runtime_checkable

import attrs

from minillm.core.errors import ConfigurationError, InvalidParameterError

__all__ = [
    "ApiKey",
    "Auth",
    "BearerToken",
    "ClaudeSubscriptionAuth",
    "MissingKey",
    "NoAuth",
    "ResolvedCredential",
    "check_credential",
    "env_value",
]

CLAUDE_TOKEN_ENV = "ANTHROPIC_AUTH_TOKEN"
_CLAUDE_CREDENTIALS = (".claude", ".credentials.json")


def _a_str(instance: object, _attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str):
        raise InvalidParameterError(f"{type(instance).__name__} needs the secret as a str, not {type(value).__name__}")


def _flaw(secret: str) -> str | None:
    """What makes ``secret`` unfit for an HTTP header, in words that do not reveal it; None when it is fit.

    A credential is a token of visible ASCII characters: API keys and OAuth tokens never hold anything else,
    and anything else is a copy-and-paste accident that would otherwise reach the network layer (which
    echoes the whole header in its error) or be sent and refused by the server.
    """
    if not secret:
        return "is empty"
    if secret.isascii() and secret.isprintable() and " " not in secret:
        return None  # the usual key: one pass over it
    if secret != secret.strip():
        return "starts or ends with whitespace or a line break (a newline copied from a file is the usual cause)"
    for char in secret:
        if char in "\r\n":
            return "contains a line break"
        if char == "\t":
            return "contains a tab"
        if char == " ":
            return "contains a space"
        if not char.isascii():
            return "contains a non-ASCII character (a typographic quote or an invisible space pasted with it?)"
        if not char.isprintable():
            return "contains a control character"
    return None  # not reached: a str that fails the first test has one of the flaws above


def check_credential(secret: str, source: str) -> None:
    """Raise ``ConfigurationError`` unless ``secret`` can be sent in an HTTP header. The message names
    ``source`` (where the secret came from: a variable, a file, the method it was given to) and the flaw,
    never the secret. Such an error is not retried: the next attempt would read the same value."""
    flaw = _flaw(secret)
    if flaw is not None:
        raise ConfigurationError(
            f"the credential from {source} {flaw}, so it cannot be sent in an HTTP header; nothing was sent. "
            "Fix the value there (API keys and tokens are visible ASCII characters only)"
        )


@attrs.frozen(repr=False)
class ResolvedCredential:
    """A secret ready for a request: ``kind`` tells the wire which header to use; ``source`` says where it
    came from, for the message of a ``ConfigurationError`` when the secret cannot be sent (checked here, so
    every credential is checked before any request is built with it)."""

    kind: Literal["api_key", "bearer"]
    secret: str = attrs.field(validator=_a_str)
    source: str = attrs.field(default="the credential given", kw_only=True, eq=False)

    def __attrs_post_init__(self) -> None:
        check_credential(self.secret, self.source)

    def __repr__(self) -> str:
        return f"ResolvedCredential(kind={self.kind!r}, secret=***)"


@functools.lru_cache(maxsize=64)
def _resolved(kind: Literal["api_key", "bearer"], secret: str, source: str) -> ResolvedCredential:
    """The checked credential of a fixed secret, made once rather than on every request (a secret that
    cannot be sent raises every time: an exception is never cached)."""
    return ResolvedCredential(kind, secret, source=source)


@runtime_checkable
class Auth(Protocol):
    """Anything that can produce a credential when a request is built."""

    def resolve(self) -> ResolvedCredential | None:
        """The credential to send, ``None`` for none; ``ConfigurationError`` if one is needed but missing."""
        ...


@attrs.frozen(repr=False)
class ApiKey:
    """An API key. OpenAI-dialect wires send it as ``Authorization: Bearer``; Anthropic as ``x-api-key``.

    ``source`` says where the key came from (a variable's name, "the key given to with_api_key"): a key that
    cannot be sent (a tab, a line break, a non-ASCII character) raises ``ConfigurationError`` naming it when a
    request is built.
    """

    secret: str = attrs.field(validator=_a_str)
    source: str = attrs.field(default="the key given to ApiKey", kw_only=True, eq=False)

    def resolve(self) -> ResolvedCredential:
        return _resolved("api_key", self.secret, self.source)

    def __repr__(self) -> str:
        return "ApiKey(***)"


@attrs.frozen(repr=False)
class BearerToken:
    """An OAuth-style bearer token, always sent as ``Authorization: Bearer``; ``source`` as for ``ApiKey``."""

    secret: str = attrs.field(validator=_a_str)
    source: str = attrs.field(default="the token given to BearerToken", kw_only=True, eq=False)

    def resolve(self) -> ResolvedCredential:
        return _resolved("bearer", self.secret, self.source)

    def __repr__(self) -> str:
        return "BearerToken(***)"


@attrs.frozen
class NoAuth:
    """No credential at all (local servers, ``GeneratorInfo.custom``)."""

    def resolve(self) -> ResolvedCredential | None:
        return None


@attrs.frozen
class MissingKey:
    """A preset's key whose environment variable was unset when the generator was built.

    Building such a generator works; resolving it (that is, sending a request) raises ``ConfigurationError``
    saying which variable to set.
    """

    env_var: str
    provider: str | None = None

    def resolve(self) -> NoReturn:
        where = f" for {self.provider}" if self.provider else ""
        raise ConfigurationError(
            f"no API key{where}: set {self.env_var} (in the environment or a .env file) before building the "
            "generator, or call .with_api_key(...)"
        )


_MAX_CREDENTIALS_BYTES = 1024 * 1024
"""The most of a credentials file read (Claude Code's is under 1 KiB); a larger file is refused unread."""


class _LastGoodToken:
    """The last token read from a credentials file, with that file's path: what a request uses while
    Claude Code rewrites the file in place (truncated, then written) and the file reads as broken."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: tuple[str, str] | None = None  # (path, token), replaced whole so threads see one or the other

    def __repr__(self) -> str:
        return "_LastGoodToken(***)"


@attrs.frozen
class ClaudeSubscriptionAuth:
    """A Claude subscription's OAuth token, looked up afresh at every request.

    First the ``ANTHROPIC_AUTH_TOKEN`` variable (environment, else ``.env``) when it is not blank, else
    ``claudeAiOauth.accessToken`` in ``credentials_path`` (default ``$HOME/.claude/.credentials.json``, the
    file Claude Code keeps). The file is small and re-read every time, so a token Claude Code refreshed is
    used at once. Neither present: ``ConfigurationError`` naming both sources.

    Claude Code rewrites the file in place, so a read can catch it empty or half-written. Such a read is
    tried once more at once, and if the file still looks mid-write the last token read from it is used;
    only when there is none is it a ``ConfigurationError``. A missing file, or one that is whole but holds
    no token, is larger than 1 MiB or is nested too deeply, is an error at once.
    """

    credentials_path: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    _last_good: _LastGoodToken = attrs.field(factory=_LastGoodToken, init=False, repr=False, eq=False)

    def default_path(self) -> Path:
        """The credentials file this value reads: ``credentials_path`` or ``$HOME/.claude/.credentials.json``."""
        if self.credentials_path is not None:
            return self.credentials_path
        home = os.environ.get("HOME")
        return (Path(home) if home else Path.home()).joinpath(*_CLAUDE_CREDENTIALS)

    def resolve(self) -> ResolvedCredential:
        token = env_value(CLAUDE_TOKEN_ENV)
        if token is not None and token.strip():
            return ResolvedCredential("bearer", token, source=f"{CLAUDE_TOKEN_ENV} (environment or .env)")
        path = self.default_path()
        token, problem, mid_write = _read_claude_token(path)
        if token is None and mid_write:
            token, problem, mid_write = _read_claude_token(path)  # the writer has often finished by now
        if token is not None:
            self._last_good.value = (str(path), token)
            return ResolvedCredential("bearer", token, source=f"claudeAiOauth.accessToken in {path}")
        remembered = self._last_good.value
        if mid_write and remembered is not None and remembered[0] == str(path):
            return ResolvedCredential("bearer", remembered[1], source=f"claudeAiOauth.accessToken in {path}")
        raise ConfigurationError(
            f"no Claude subscription credential: {CLAUDE_TOKEN_ENV} is not set (environment or .env) and "
            f"{path} {problem}. Log in with Claude Code (`claude`) to create the file, or set "
            f"{CLAUDE_TOKEN_ENV} to an OAuth token (`claude setup-token` prints one)"
        )


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, at most one more than a credentials file may hold."""
    with open(path, "rb") as f:
        return f.read(_MAX_CREDENTIALS_BYTES + 1)


def _read_claude_token(path: Path) -> tuple[str | None, str, bool]:
    """The access token in a Claude Code credentials file, or ``None`` and why not (never the file's text),
    and whether the file looked caught mid-write (empty, cut inside a character, not yet whole JSON)."""
    try:
        data = _read_bounded(path)
        # A file rewritten in place can be read half from one version and half from the next, and the splice
        # of two equal-length documents is valid JSON holding a token that never existed. Two reads that
        # agree rule that out (the file is small and in the page cache: the second read costs microseconds).
        if _read_bounded(path) != data:
            return None, "was being rewritten", True
    except FileNotFoundError:
        return None, "does not exist", False
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        return None, f"could not be read ({getattr(e, 'strerror', None) or type(e).__name__})", False
    if len(data) > _MAX_CREDENTIALS_BYTES:
        return None, f"is larger than {_MAX_CREDENTIALS_BYTES:,} bytes, too large to be a credentials file", False
    if not data.strip():
        return None, "is empty", True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "is not UTF-8 text", True
    try:
        parsed = json.loads(text)
    except RecursionError:
        return None, "is nested too deeply to be a credentials file", False
    except ValueError:
        return None, "is not valid JSON", True
    oauth = parsed.get("claudeAiOauth") if isinstance(parsed, dict) else None
    token = oauth.get("accessToken") if isinstance(oauth, dict) else None
    if isinstance(token, str) and token:
        return token, "", False
    return None, "holds no claudeAiOauth.accessToken", False


def _find_dotenv() -> Path | None:
    """The nearest ``.env`` file from the current directory upward, if any."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        candidate = folder / ".env"
        if candidate.is_file():
            return candidate
    return None


def env_value(name: str) -> str | None:
    """The value of variable ``name``: the process environment first, else the nearest ``.env`` file.

    A variable set to the empty string counts as set. The ``.env`` file (searched from the current directory
    upward) is only read, never loaded into ``os.environ``, so the real environment always wins.
    """
    value = os.environ.get(name)
    if value is not None:
        return value
    path = _find_dotenv()
    if path is None:
        return None
    from dotenv import dotenv_values  # deferred: only needed when the environment lacks the variable

    return dotenv_values(path).get(name)
