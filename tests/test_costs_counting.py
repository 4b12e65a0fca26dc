"""Token counts before sending: Anthropic's count endpoint (exact), OpenAI's BPE run here (local), else an estimate.

Reference figures, all from OpenAI's cookbook notebook "How to count tokens with tiktoken"
(github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb, MIT):
- ``cl100k_base`` encodes "tiktoken is great!" as [83, 1609, 5963, 374, 2294, 0];
- ``cl100k_base`` gives 6, 7 and 9 tokens for "antidisestablishmentarianism", "2 + 2 = 4" and "お誕生日おめでとう";
- its six-message example (system messages with ``name``s) is 129 prompt tokens on gpt-3.5-turbo / gpt-4 and 124 on
  gpt-4o / gpt-4o-mini, as counted by the notebook's function and confirmed there by the API's ``prompt_tokens``.
Image figures are the worked examples of OpenAI's vision guide ("Calculating costs"): a 1024 x 1024 image at high
detail is 765 tokens, 2048 x 4096 is 1105, and any image at low detail is 85.
"""

from __future__ import annotations

import struct
import sys
import zlib
from typing import Any

import pytest

from minillm import (
    AuthenticationError,
    ChatNode,
    CompletionParameters,
    GeneratorInfo,
    ImageData,
    MalformedResponseError,
    MessageContent,
    NodeCompletionParameters,
    TokenCount,
    TokenCountMethod,
    ToolDefinition,
)
from minillm.core.messages import Message
from minillm.core.tokens import estimate_text_tokens, image_tokens, local_count, local_encoding
from minillm.testing import MockLLMServer, Reply

pytest.importorskip("bpe_openai")

COOKBOOK_MESSAGES = [
    (
        "system",
        None,
        "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
    ),
    ("system", "example_user", "New synergies will help drive top-line growth."),
    ("system", "example_assistant", "Things working well together will increase revenue."),
    (
        "system",
        "example_user",
        "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
    ),
    ("system", "example_assistant", "Let's talk later when we're less busy about how to do better."),
    ("user", None, "This late pivot means we don't have time to boil the ocean for the client deliverable."),
]


def count(api: Any, node: ChatNode, gen: GeneratorInfo, params: NodeCompletionParameters | None = None) -> TokenCount:
    if api.mode == "sync":
        return node.count_tokens(gen, params, client=api.sync_client)
    return api.run(node.acount_tokens(gen, params, client=api.async_client))


def _cookbook_messages() -> list[Message]:
    out = []
    for role, name, text in COOKBOOK_MESSAGES:
        message = Message.system(text) if role == "system" else Message.user(text)
        out.append(message.with_name(name) if name else message)
    return out


def _png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


# ----- local counts against published reference figures ---------------------------------------------------------


def test_cl100k_tokens_match_the_cookbook() -> None:
    encoding = local_encoding("gpt-4")
    assert encoding.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    counts = [len(encoding.encode(s)) for s in ("antidisestablishmentarianism", "2 + 2 = 4", "お誕生日おめでとう")]
    assert counts == [6, 7, 9]


@pytest.mark.parametrize(
    ("model", "expected"), [("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)]
)
def test_chat_framing_matches_the_cookbook(model: str, expected: int) -> None:
    result = local_count(_cookbook_messages(), (), local_encoding(model))
    assert result == TokenCount(expected, TokenCountMethod.LOCAL)


def test_encodings_by_model_family() -> None:
    assert local_encoding("gpt-4o").name == "o200k_base"
    assert local_encoding("openai/gpt-4.1-mini").name == "o200k_base"
    assert local_encoding("o3-mini").name == "o200k_base"
    assert local_encoding("gpt-4-turbo").name == "cl100k_base"
    assert local_encoding("claude-haiku-4-5") is None
    assert local_encoding("llama-3.1-8b") is None


@pytest.mark.parametrize(
    ("size", "detail", "expected"),
    [((1024, 1024), "high", 765), ((2048, 4096), "high", 1105), ((4096, 8192), "low", 85), ((512, 512), None, 255)],
)
def test_image_tile_rule_matches_openais_examples(size: tuple[int, int], detail: str | None, expected: int) -> None:
    assert image_tokens(*size, detail) == expected


def test_image_size_is_read_from_the_data_and_unknown_sizes_count_as_the_largest() -> None:
    inline = ImageData.from_bytes(_png(1024, 1024), "image/png")
    by_url = ImageData.from_url("https://example.com/cat.png")
    with_hint = by_url.with_dimensions(2048, 4096)
    encoding = local_encoding("gpt-4o")
    empty = local_count([Message.user(MessageContent.with_images("", []))], (), encoding).input_tokens

    def tokens_with(image: ImageData) -> int:
        return local_count([Message.user(MessageContent.with_images("", [image]))], (), encoding).input_tokens - empty

    assert tokens_with(inline) == 765
    assert tokens_with(with_hint) == 1105
    assert tokens_with(by_url) == 1445  # 2 x 4 tiles: the most the rule allows


def test_tools_and_tool_calls_are_counted() -> None:
    encoding = local_encoding("gpt-4o")
    plain = local_count([Message.user("What is the weather?")], (), encoding).input_tokens
    tool = ToolDefinition(
        "get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}
    )
    with_tool = local_count([Message.user("What is the weather?")], [tool], encoding).input_tokens
    assert with_tool > plain + 10


# ----- through the node, in both worlds ----------------------------------------------------------------------------


def test_openai_models_count_locally_and_send_nothing(api: Any, llm_server: MockLLMServer) -> None:
    node = ChatNode.root("You are terse.").add_user("tiktoken is great!")
    gen = GeneratorInfo.openai("gpt-4").with_api_key("sk-test").with_base_url(llm_server.openai_base_url)
    result = count(api, node, gen)
    # system: 3 + role 1 + text; user: 3 + role 1 + 6; reply primer 3
    system_text = len(local_encoding("gpt-4").encode("You are terse."))
    assert result == TokenCount(3 + 1 + system_text + 3 + 1 + 6 + 3, TokenCountMethod.LOCAL)
    assert llm_server.requests == []


def test_without_the_tokens_extra_openai_counts_are_estimates(
    api: Any, llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "bpe_openai", None)  # as if minillm-sdk[tokens] were not installed
    node = ChatNode.user("x" * 400)
    gen = GeneratorInfo.openai("gpt-4o").with_api_key("sk-test").with_base_url(llm_server.openai_base_url)
    result = count(api, node, gen)
    assert result == TokenCount(4 + estimate_text_tokens("user") + 100 + 3, TokenCountMethod.ESTIMATE)


def test_other_models_are_estimated_by_characters(api: Any, llm_server: MockLLMServer) -> None:
    node = ChatNode.root("s" * 40).add_user("u" * 81)
    gen = GeneratorInfo.custom("local", llm_server.openai_base_url, "llama-3.1-8b")
    result = count(api, node, gen)
    assert result.method is TokenCountMethod.ESTIMATE
    assert result.input_tokens == (4 + 2 + 10) + (4 + 1 + 21) + 3
    assert llm_server.requests == []


@pytest.mark.parametrize("preset", ["anthropic", "claude_subscription"])
def test_anthropic_counts_exactly_with_the_count_endpoint(
    api: Any, llm_server: MockLLMServer, preset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "oauth-test-token")
    gen = getattr(GeneratorInfo, preset)("claude-haiku-4-5").with_base_url(llm_server.anthropic_base_url)
    if preset == "anthropic":
        gen = gen.with_api_key("sk-ant-test")
    tool = ToolDefinition("lookup", "Look a word up", {"type": "object", "properties": {"word": {"type": "string"}}})
    params = NodeCompletionParameters(
        params=CompletionParameters(max_tokens=321, temperature=0.1, stop=["END"]).with_tools([tool])
    )
    llm_server.set_token_count(1234)
    node = ChatNode.root("You are terse.").add_user("Define 'token'.")
    assert count(api, node, gen, params) == TokenCount(1234, TokenCountMethod.EXACT)
    request = llm_server.last_request
    assert request.path == "/v1/messages/count_tokens"
    assert set(request.json) == {"model", "messages", "system", "tools"}  # nothing the endpoint refuses
    assert request.json["system"] == "You are terse."
    assert request.json["tools"][0]["name"] == "lookup"
    assert request.headers["anthropic-version"] == "2023-06-01"
    if preset == "anthropic":
        assert request.headers["x-api-key"] == "sk-ant-test"
    else:
        assert request.headers["authorization"] == "Bearer oauth-test-token"


def test_the_test_servers_own_count_refuses_completion_only_keys(llm_server: MockLLMServer) -> None:
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    answer = httpx.post(llm_server.anthropic_base_url + "/v1/messages/count_tokens", json=body)
    assert answer.status_code == 400 and "max_tokens" in answer.text


def test_count_endpoint_errors_are_typed(api: Any, llm_server: MockLLMServer) -> None:
    gen = GeneratorInfo.anthropic("claude-haiku-4-5").with_api_key("bad").with_base_url(llm_server.anthropic_base_url)
    llm_server.set_token_count(Reply.error(401, "invalid x-api-key"))
    with pytest.raises(AuthenticationError):
        count(api, ChatNode.user("hi"), gen)
    llm_server.set_token_count(Reply.raw(200, '{"tokens": 3}', content_type="application/json"))
    with pytest.raises(MalformedResponseError, match="input_tokens"):
        count(api, ChatNode.user("hi"), gen)
