"""Counting a prompt's tokens before it is sent, and saying how sure the count is.

Three ways, best first: ``EXACT`` asks the provider (Anthropic's ``/v1/messages/count_tokens``, which takes the
completion body without the keys that only shape the reply); ``LOCAL`` runs OpenAI's own BPE vocabularies on this
machine (the optional ``bpe-openai`` package, installed by ``minillm-sdk[tokens]``, which embeds them and so needs
no network) and adds the chat framing OpenAI publishes: 3 tokens per message, 1 more for a ``name``, 3 to prime
the reply; ``ESTIMATE`` divides characters by ``CHARS_PER_TOKEN``, for every other model.

Images count by OpenAI's tile rule in the last two: ``detail="low"`` is 85 tokens; otherwise the image is fitted
into 2048 x 2048, its shorter side brought down to 768, and each 512-pixel tile costs 170 on top of 85. An image
whose size is unknown (a URL without ``with_dimensions``) is counted at the largest size that rule allows.

The network step is a generator (``count_flow``) that yields the request to send and receives the answer, so the
blocking and the async methods drive one piece of code.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import struct
import warnings
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from minillm.core.errors import MalformedResponseError
from minillm.core.http import HTTPRequest, api_error, decode_json_body
from minillm.core.messages import AudioPart, FilePart, ImagePart, Message, TextPart, VideoPart

if TYPE_CHECKING:
    from minillm.core.generator import GeneratorInfo
    from minillm.core.params import NodeCompletionParameters
    from minillm.core.tree import ChatNode

__all__ = [
    "CHARS_PER_TOKEN",
    "Answer",
    "Flow",
    "TokenCount",
    "TokenCountMethod",
    "count_flow",
    "estimate_text_tokens",
    "image_tokens",
    "local_count",
    "local_encoding",
]

CHARS_PER_TOKEN = 4.0
"""The estimate's ratio: English prose averages about four characters per token in OpenAI's and Anthropic's
vocabularies; code, numbers and most other languages use more tokens per character."""

_PER_MESSAGE = 3  # <|start|>{role}\n ... <|end|>
_PER_NAME = 1
_REPLY_PRIMER = 3  # <|start|>assistant<|message|>
_ESTIMATE_PER_MESSAGE = 4

# Which vocabulary each OpenAI model family uses, most specific prefix first (as OpenAI's tiktoken maps them).
_ENCODINGS = (
    *((prefix, "o200k_base") for prefix in ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")),
    *((prefix, "cl100k_base") for prefix in ("gpt-4", "gpt-3.5", "gpt-35")),
)

_LOW_DETAIL = 85
_PER_TILE = 170
_LARGEST_IMAGE = _LOW_DETAIL + _PER_TILE * 8  # 768 x 2048 after scaling: 2 x 4 tiles

Answer = tuple[int, Mapping[str, str], bytes]
"""An HTTP answer as the transports hand it back: status, headers, body."""

Flow = Generator[HTTPRequest, Answer, Any]
"""A step of work that may need the network: it yields requests and receives their answers."""


class TokenCountMethod(str, enum.Enum):
    """How a ``TokenCount`` was obtained: ``EXACT`` (the provider counted it), ``LOCAL`` (the model's own
    tokenizer, run here; framing per the provider's published rules) or ``ESTIMATE`` (characters per token)."""

    EXACT = "exact"
    LOCAL = "local"
    ESTIMATE = "estimate"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class TokenCount:
    """The input tokens a request would send, and how they were counted (see ``TokenCountMethod``)."""

    input_tokens: int
    method: TokenCountMethod


# ----- images ---------------------------------------------------------------------------------------------


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF or JPEG header, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def _data_url_size(url: str) -> tuple[int, int] | None:
    if not url.startswith("data:") or "," not in url:
        return None
    try:
        return _image_size(base64.b64decode(url.split(",", 1)[1], validate=False))
    except ValueError:
        return None


def image_tokens(width: int | None, height: int | None, detail: str | None = None) -> int:
    """OpenAI's tile rule: 85 for ``detail="low"``; else fit in 2048 x 2048, bring the short side down to 768,
    and add 170 per 512-pixel tile. Unknown sizes count as the largest the rule allows (1445)."""
    if detail == "low":
        return _LOW_DETAIL
    if not width or not height or width <= 0 or height <= 0:
        return _LARGEST_IMAGE
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(math.floor(w) / 512) * math.ceil(math.floor(h) / 512)
    return _LOW_DETAIL + _PER_TILE * tiles


def _image_part_tokens(part: ImagePart) -> int:
    width, height = part.width, part.height
    if not (width and height):
        found = _data_url_size(part.url)
        if found is not None:
            width, height = found
    return image_tokens(width, height, part.detail)


# ----- local and estimated counts ---------------------------------------------------------------------------


def estimate_text_tokens(text: str) -> int:
    """``len(text) / CHARS_PER_TOKEN``, rounded up (0 for empty text)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def local_encoding(model: str) -> Any | None:
    """The offline BPE encoding of an OpenAI model (``gpt-4o``, ``openai/gpt-4.1``...), or None when the
    optional ``bpe-openai`` package is missing or does not know the model."""
    name = model.split("/", 1)[1] if model.startswith("openai/") else model
    encoding = next((enc for prefix, enc in _ENCODINGS if name.startswith(prefix)), None)
    if encoding is None:
        return None
    with warnings.catch_warnings():  # the package loads its data with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai

            return bpe_openai.get_encoding(encoding)
        except Exception:  # not installed (ImportError), or an older version without this vocabulary
            return None


def _tools_text(wire_tools: Iterable[Any]) -> str:
    return "".join(json.dumps(tool.to_dict(), ensure_ascii=False, sort_keys=True) for tool in wire_tools)


def _message_units(message: Message) -> tuple[list[str], int, bool]:
    """The texts of a message to tokenize, the tokens of its images, and whether any part had to be guessed."""
    texts = [message.role.value]
    media = 0
    guessed = False
    if message.name:
        texts.append(message.name)
    for part in message.content.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ImagePart):
            media += _image_part_tokens(part)
        elif isinstance(part, (AudioPart, FilePart, VideoPart)):
            payload = part.data if isinstance(part, AudioPart) else part.file_data if isinstance(part, FilePart) else ""
            media += estimate_text_tokens(payload) or _LARGEST_IMAGE
            guessed = True
    for call in message.tool_calls or ():
        texts.append(call.name)
        texts.append(call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments))
    if message.tool_call_id:
        texts.append(message.tool_call_id)
    return texts, media, guessed


def local_count(messages: Iterable[Message], tools: Iterable[Any], encoding: Any | None) -> TokenCount:
    """Count ``messages`` and ``tools`` here: with ``encoding`` (a BPE) and OpenAI's framing, ``LOCAL``; without
    one (or when a part such as audio or a PDF can only be guessed) by characters, ``ESTIMATE``."""
    total = 0
    guessed = encoding is None
    per_message = _PER_MESSAGE if encoding is not None else _ESTIMATE_PER_MESSAGE
    for message in messages:
        texts, media, part_guessed = _message_units(message)
        guessed = guessed or part_guessed
        total += per_message + media + (_PER_NAME if message.name else 0)
        total += sum(_encode_len(encoding, text) for text in texts)
    tools_text = _tools_text(tools)
    if tools_text:
        total += _encode_len(encoding, tools_text)
    total += _REPLY_PRIMER
    return TokenCount(total, TokenCountMethod.ESTIMATE if guessed else TokenCountMethod.LOCAL)


def _encode_len(encoding: Any | None, text: str) -> int:
    if not text:
        return 0
    if encoding is None:
        return estimate_text_tokens(text)
    return len(encoding.encode(text))


# ----- the flow -----------------------------------------------------------------------------------------------


def parse_count_answer(status: int, headers: Mapping[str, str], body: bytes) -> int:
    """The ``input_tokens`` of a count endpoint's answer; a non-2xx is its typed ``APIError``."""
    if not 200 <= status < 300:
        raise api_error(status, headers, body)
    data = decode_json_body(body)
    value = data.get("input_tokens") if isinstance(data, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedResponseError(f"the token count answer has no usable input_tokens: {str(data)[:200]!r}")
    return value


def count_flow(node: ChatNode, generator: GeneratorInfo, params: NodeCompletionParameters | None) -> Flow:
    """Count the prompt ``node.complete(generator, params)`` would send: the provider's count endpoint when its
    wire has one, else a local count (returns a ``TokenCount``)."""
    from minillm.core.flow import CompletionCall, assemble_request
    from minillm.core.params import NodeCompletionParameters

    call = CompletionCall(node, generator, attrs.evolve(params or NodeCompletionParameters(), budget=None))
    wire = call.wire_request()
    make = getattr(generator.provider, "count_tokens_request", None)
    if make is not None:
        request = make(assemble_request(generator, wire), generator.base_url)
        if request is not None:
            status, headers, body = yield request
            return TokenCount(parse_count_answer(status, headers, body), TokenCountMethod.EXACT)
    return local_count(wire.messages, wire.params.tools or (), local_encoding(generator.model))
