"""A request the test server received, which API it speaks, and what the server reads from its body.

``RecordedRequest`` is what tests assert on (``server.requests``); ``Wire`` tells the endpoint from the method
and path. The helpers read a chat body the way every wire writes it (a ``messages`` list, an optional
``system``) for the default echo answer and the token estimates of usage and ``count_tokens``.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["RecordedRequest", "Wire", "echo_text", "estimate_tokens", "prompt_length"]

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie"})


class Wire(enum.Enum):
    """Which API a request speaks, told by its method and path."""

    OPENAI = "openai"  # POST .../chat/completions (OpenAI, OpenRouter, generic servers)
    ANTHROPIC = "anthropic"  # POST .../messages
    GENERATION = "generation"  # GET .../generation?id=... (OpenRouter's cost record)
    MODELS = "models"  # GET .../models (OpenRouter's public models list, with prices)
    COUNT_TOKENS = "count_tokens"  # POST .../messages/count_tokens (Anthropic's token count)
    OTHER = "other"  # anything else (a custom provider's endpoint); text replies use the OpenAI shape

    @classmethod
    def of(cls, method: str, path: str) -> Wire:
        """The wire of a request with this method and path (query string excluded)."""
        path = path.rstrip("/")
        if method == "GET" and path.endswith("/generation"):
            return cls.GENERATION
        if method == "GET" and path.endswith("/models"):
            return cls.MODELS
        if path.endswith("/messages/count_tokens"):
            return cls.COUNT_TOKENS
        if path.endswith("/chat/completions"):
            return cls.OPENAI
        if path.endswith("/messages"):
            return cls.ANTHROPIC
        return cls.OTHER


@attrs.frozen(repr=False)
class RecordedRequest:
    """One request the server received: method, path, query, headers (names lower-cased), raw body, the
    body parsed as JSON (``None`` when it is not JSON) and ``connection``, the number of the TCP connection it
    came on (1 for the server's first; equal numbers mean a kept-alive connection was reused). Its repr leaves
    out headers and body, so a key sent to the test server never lands in a log."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    connection: int = 0

    @property
    def wire(self) -> Wire:
        """The API this request speaks (from its method and path)."""
        return Wire.of(self.method, self.path)

    @property
    def stream(self) -> bool:
        """Whether the request asked for a stream (``"stream": true`` in its JSON body)."""
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def model(self) -> str | None:
        """The ``model`` of the JSON body, if any."""
        model = self.json.get("model") if isinstance(self.json, dict) else None
        return model if isinstance(model, str) else None

    def __repr__(self) -> str:
        secret = sorted(_SECRET_HEADERS & self.headers.keys())
        hidden = f", credential headers {secret} hidden" if secret else ""
        return f"RecordedRequest({self.method} {self.path}, {len(self.body)} body bytes, model={self.model!r}{hidden})"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def echo_text(request: RecordedRequest) -> str:
    """The default answer: ``"Echo: "`` and the text of the request's last user message."""
    messages = request.json.get("messages") if isinstance(request.json, dict) else None
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return "Echo: " + _text_of(message.get("content"))
    return "Echo: "


def estimate_tokens(text_length: int) -> int:
    """About one token per four characters, and at least one."""
    return max(1, (text_length + 3) // 4)


def prompt_length(body: Any) -> int:
    """The characters of text in a chat body's ``system`` and ``messages`` (0 for anything else)."""
    if not isinstance(body, dict):
        return 0
    total = len(_text_of(body.get("system")))
    messages = body.get("messages")
    if isinstance(messages, list):
        total += sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))
    return total
