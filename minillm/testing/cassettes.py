"""Cassette tests for your own app: record a conversation once, replay it offline in every later run.

``LLMCassettes`` hands out generators and vcrpy cassettes that behave the same in three modes, so a test is
written once:

- ``replay`` (the default): cassettes are played back; a request with no recorded answer fails. The
  generator points at the provider's real address with a dummy key, so no key and no network are needed.
- ``local``: record against ``MockLLMServer`` and its scripted replies; the server's ``127.0.0.1:PORT`` is
  written into the cassette as the provider's real address, so the cassette replays like a real one.
- ``live``: record against the real provider, with the key from the environment (or ``.env``).

Every cassette is scrubbed as it is written: ``authorization`` and ``x-api-key`` become ``REDACTED``, the
``host`` header is rewritten with the address, and response headers that can carry secrets or cookies are
dropped. Requests are matched on method, URL and body (JSON bodies compared as parsed JSON, so key order
does not matter). vcrpy is needed (``pip install vcrpy``); the pytest plugin wires it to ``--llm-record``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from minillm.core.auth import env_value
from minillm.core.errors import ConfigurationError, InvalidParameterError
from minillm.core.generator import GeneratorInfo
from minillm.testing.replies import Reply
from minillm.testing.server import DUMMY_KEY, MockLLMServer

__all__ = ["REAL_BASE_URLS", "SECRET_HEADERS", "CassetteMode", "LLMCassettes", "vcr_config"]

REAL_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "anthropic": "https://api.anthropic.com",
    "claude_subscription": "https://api.anthropic.com",
}
"""Where each preset really lives: the address written into (and replayed from) a cassette."""

_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "claude_subscription": "ANTHROPIC_AUTH_TOKEN",
}

SECRET_HEADERS = ("authorization", "x-api-key", "cookie", "set-cookie", "openai-organization", "openai-project")
"""Headers never written to a cassette as they were (request credentials are redacted, the rest dropped)."""

_REDACTED_REQUEST_HEADERS = ("authorization", "x-api-key", "cookie")


class CassetteMode(enum.Enum):
    """How cassettes are used: played back, recorded against the local server, or against the real API."""

    REPLAY = "replay"
    LOCAL = "local"
    LIVE = "live"


def vcr_config(rewrites: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR`` that keep secrets out of cassettes and match requests on their body.

    ``rewrites`` maps a local base URL to the real one it stands for (longest prefix wins); a recorded request
    to a local address is written with the real address and host instead. The mapping is read as each request
    is recorded, so entries added later (a generator made inside the cassette's block) count too.
    """
    table = rewrites if rewrites is not None else {}

    def before_record_request(request: Any) -> Any:
        for local, real in sorted(table.items(), key=lambda item: len(item[0]), reverse=True):
            if request.uri.startswith(local):
                request.uri = real + request.uri[len(local) :]
                for name in list(request.headers):
                    if name.lower() == "host":
                        request.headers[name] = urlsplit(real).netloc
                break
        return request

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in SECRET_HEADERS:
                del headers[name]
        return response

    return {
        "filter_headers": [(name, "REDACTED") for name in _REDACTED_REQUEST_HEADERS],
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "decode_compressed_response": True,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
    }


class LLMCassettes:
    """Generators and cassettes for one test, in one ``CassetteMode`` (see the module's docstring).

    ``directory`` holds the cassettes (``use("name")`` reads and writes ``directory/name.yaml``). ``server``
    is the local server used in ``local`` mode; ``skip`` is called with a reason when a live test has no key
    (pytest's ``pytest.skip`` in the plugin).
    """

    def __init__(
        self,
        mode: CassetteMode,
        directory: Path,
        server: MockLLMServer | None = None,
        *,
        skip: Callable[[str], Any] | None = None,
    ) -> None:
        if mode is CassetteMode.LOCAL and server is None:
            raise InvalidParameterError("recording against the local server needs a running MockLLMServer")
        self.mode = mode
        self.directory = Path(directory)
        self.server = server
        self._skip = skip
        self._rewrites: dict[str, str] = {}

    def enqueue(self, *replies: Reply) -> None:
        """Script the local server's replies. They are used only when recording against it (``local``);
        replay and live runs ignore them, so one test body serves every mode."""
        if self.mode is CassetteMode.LOCAL and self.server is not None:
            self.server.enqueue(*replies)

    def generator(self, wire: str, model: str, *, base_url: str | None = None) -> GeneratorInfo:
        """A generator of the preset ``wire`` for ``model`` that suits the mode.

        ``base_url`` is the real address: required for ``"custom"`` servers, optional for the presets (their
        public address is the default).
        """
        real = base_url or REAL_BASE_URLS.get(wire)
        if real is None:
            if wire != "custom":
                raise InvalidParameterError(f"unknown wire {wire!r}; use one of: {', '.join(REAL_BASE_URLS)}, custom")
            raise InvalidParameterError("a custom server's cassettes need its real address: pass base_url=")
        if self.mode is CassetteMode.LOCAL:
            assert self.server is not None
            local = self.server.generator(wire, model)
            self._rewrites[local.base_url.rstrip("/")] = real.rstrip("/")
            return local
        if wire == "custom":
            return GeneratorInfo.custom("local", real, model)
        build: Callable[[str], GeneratorInfo] = getattr(GeneratorInfo, wire)
        preset = build(model).with_base_url(real)
        if self.mode is CassetteMode.REPLAY:
            if wire == "claude_subscription":
                return preset.with_bearer_token(DUMMY_KEY)
            return preset.with_api_key(DUMMY_KEY)
        variable = _KEY_ENV[wire]
        if wire != "claude_subscription" and env_value(variable) is None:
            reason = f"{variable} is not set: a live recording needs the real key"
            if self._skip is not None:
                self._skip(reason)
            raise ConfigurationError(reason)
        return preset

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[Any]:
        """Play back (or record) the cassette ``directory/name.yaml`` around the block."""
        import vcr  # a test dependency, only needed once a cassette is used

        path = self.directory / f"{name}.yaml"
        if self.mode is CassetteMode.REPLAY:
            if not path.exists():
                raise ConfigurationError(
                    f"cassette {path} is missing; record it with: pytest --llm-record=local "
                    "(scripted replies, no key) or --llm-record=live (the real API, with its key)"
                )
            record_mode = "none"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            record_mode = "all"
        recorder = vcr.VCR(record_mode=record_mode, **vcr_config(self._rewrites))
        with recorder.use_cassette(str(path)) as cassette:
            yield cassette
