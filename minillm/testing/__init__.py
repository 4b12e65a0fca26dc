"""A local server that speaks the OpenAI, OpenRouter and Anthropic wires, for offline tests and the demo.

Start a ``MockLLMServer``, script its answers with ``Reply`` values, point a generator at it with
``with_base_url(server.openai_base_url)`` (or ``anthropic_base_url`` / ``openrouter_base_url``) and read what
was sent in ``server.requests``. In pytest, enable the ``llm_server`` fixture with
``pytest_plugins = ["minillm.testing.pytest_plugin"]`` in your ``conftest.py``.
"""

from minillm.testing.models import DEFAULT_MODELS, model_entry
from minillm.testing.reasoning import Thought
from minillm.testing.replies import (
    ErrorReply,
    InBandError,
    LargeReply,
    RawReply,
    RecordedRequest,
    Reply,
    ResetReply,
    SilentReply,
    SSEReply,
    TextReply,
    Wire,
)
from minillm.testing.server import MockLLMServer, Responder
from minillm.testing.structured import JSONReply

__all__ = [
    "DEFAULT_MODELS",
    "ErrorReply",
    "InBandError",
    "JSONReply",
    "LargeReply",
    "MockLLMServer",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "ResetReply",
    "Responder",
    "SSEReply",
    "SilentReply",
    "TextReply",
    "Thought",
    "Wire",
    "model_entry",
]
