"""How the test server writes its answers on each wire: one renderer per wire, as ``core/providers`` has one
provider module per wire.

A ``Renderer`` (``renderers/base.py``) writes a scripted completion's body, stream events, error bodies and
request-id header in its wire's shape; ``renderer_for`` picks one from the request, once, so a reply never asks
which wire it is on. A new wire is one more module here and one more case in ``renderer_for``.
"""

from minillm.testing.renderers.anthropic import AnthropicRenderer
from minillm.testing.renderers.base import Renderer, status_phrase
from minillm.testing.renderers.openai import OpenAIRenderer, is_openrouter_path
from minillm.testing.request import RecordedRequest, Wire

__all__ = ["AnthropicRenderer", "OpenAIRenderer", "Renderer", "renderer_for", "status_phrase"]

_ANTHROPIC = AnthropicRenderer()
_OPENAI = OpenAIRenderer()
_OPENROUTER = OpenAIRenderer(openrouter=True)


def renderer_for(request: RecordedRequest) -> Renderer:
    """The renderer of the request's wire: Anthropic's for ``.../messages``, OpenRouter's flavour of chat
    completions under ``/api/v1``, and chat completions for any other path."""
    if request.wire is Wire.ANTHROPIC:
        return _ANTHROPIC
    return _OPENROUTER if is_openrouter_path(request.path) else _OPENAI
