"""Recorded conversations (vcrpy cassettes) replayed through the real transports, for every preset, blocking
and async, streamed and not. See ``cassettes/README.md`` for how they were made and how to re-record them.

- no flag: replay only; nothing touches the network.
- ``--record-cassettes``: record again against ``minillm.testing``'s local server, rewriting its address to
  the provider's real one (what the committed cassettes are).
- ``--live --record-cassettes``: record against the real providers (keys from the environment or ``.env``).
- ``--live``: talk to the real providers without cassettes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import vcr

from minillm import (
    AsyncClient,
    ChatNode,
    CompletionResponse,
    GeneratorInfo,
    NodeCompletionParameters,
    SyncClient,
)
from minillm.core.auth import env_value
from minillm.testing import MockLLMServer, Reply
from minillm.testing.cassettes import vcr_config

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"
QUESTION = "What is the capital of France? Answer in one short sentence."
RECORDED_ANSWER = "The capital of France is Paris."
FAKE_KEY = "test-key"


@attrs.frozen
class Preset:
    """How to build one preset's generator, where it really lives, and which credential it reads."""

    build: Callable[[], GeneratorInfo]
    real_base_url: str
    key_env: str
    local_base: Callable[[MockLLMServer], str]

    def replay_generator(self) -> GeneratorInfo:
        gen = self.build().with_base_url(self.real_base_url)
        if self.key_env == "ANTHROPIC_AUTH_TOKEN":
            return gen.with_bearer_token(FAKE_KEY)
        return gen.with_api_key(FAKE_KEY) if self.key_env else gen


PRESETS = {
    "openrouter": Preset(
        lambda: GeneratorInfo.openrouter("openai/gpt-4o-mini"),
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        lambda s: s.openrouter_base_url,
    ),
    "openai": Preset(
        lambda: GeneratorInfo.openai("gpt-4o-mini"),
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        lambda s: s.openai_base_url,
    ),
    "anthropic": Preset(
        lambda: GeneratorInfo.anthropic("claude-haiku-4-5"),
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        lambda s: s.anthropic_base_url,
    ),
    "claude_subscription": Preset(
        lambda: GeneratorInfo.claude_subscription("claude-haiku-4-5"),
        "https://api.anthropic.com",
        "ANTHROPIC_AUTH_TOKEN",
        lambda s: s.anthropic_base_url,
    ),
    "custom": Preset(
        lambda: GeneratorInfo.custom("local", "http://localhost:8000/v1", "local-model"),
        "http://localhost:8000/v1",
        "",
        lambda s: s.openai_base_url,
    ),
}
CASES = [(p, m, k) for p in PRESETS for m in ("sync", "async") for k in ("complete", "stream")]


def _recorder(cassette: Path, mode: str, rewrites: dict[str, str] | None = None) -> Any:
    """The same scrubbing and matching users get from ``minillm.testing.cassettes``."""
    return vcr.VCR(record_mode=mode, **vcr_config(rewrites)).use_cassette(str(cassette))


def _run(gen: GeneratorInfo, mode: str, kind: str) -> tuple[ChatNode, CompletionResponse | None]:
    """Ask the question through the public API; return the reply node (and the stream's response)."""
    user = ChatNode.root("You answer geography questions.").add_user(QUESTION)
    params = NodeCompletionParameters(retry=0, track_cost=True)
    if mode == "sync":
        with SyncClient() as client:
            if kind == "complete":
                return user.complete(gen, params, client=client), None
            with user.complete_streaming(gen, params, client=client) as stream:
                deltas = [chunk.delta for chunk in stream]
            assert "".join(deltas) == stream.response.content
            return user.append_response(stream.response), stream.response

    async def go() -> tuple[ChatNode, CompletionResponse | None]:
        async with AsyncClient() as client:
            if kind == "complete":
                return await user.acomplete(gen, params, client=client), None
            async with await user.acomplete_streaming(gen, params, client=client) as stream:
                deltas = [chunk.delta async for chunk in stream]
            assert "".join(deltas) == stream.response.content
            return user.append_response(stream.response), stream.response

    return asyncio.run(go())


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[str]:
    live = request.config.getoption("--live")
    record = request.config.getoption("--record-cassettes")
    yield "live-record" if live and record else "live" if live else "record" if record else "replay"


@pytest.mark.parametrize(("preset", "mode", "kind"), CASES)
def test_cassette(preset: str, mode: str, kind: str, world: str) -> None:
    spec = PRESETS[preset]
    cassette = CASSETTES / preset / f"{kind}_{mode}.yaml"
    if world == "replay":
        assert cassette.exists(), (
            f"{cassette} is missing; run: python -m pytest tests/test_cassettes.py --record-cassettes"
        )
        with _recorder(cassette, "none"):
            reply, response = _run(spec.replay_generator(), mode, kind)
        if "local server" in _origin(cassette):
            assert reply.text == RECORDED_ANSWER
    elif world == "record":
        with MockLLMServer() as server:
            server.enqueue(Reply.text(RECORDED_ANSWER, usage=(24, 8), chunk_size=6, cost=0.0000123))
            local = spec.local_base(server)
            gen = spec.replay_generator().with_base_url(local)
            cassette.parent.mkdir(parents=True, exist_ok=True)
            with _recorder(cassette, "all", {local: spec.real_base_url}):
                reply, response = _run(gen, mode, kind)
        _mark_origin(cassette, "recorded against minillm.testing's local server (the provider's wire, emulated)")
    else:
        if spec.key_env and env_value(spec.key_env) is None and preset != "claude_subscription":
            pytest.skip(f"{spec.key_env} is not set")
        gen = spec.build()
        if world == "live-record":
            cassette.parent.mkdir(parents=True, exist_ok=True)
            with _recorder(cassette, "all"):
                reply, response = _run(gen, mode, kind)
            _mark_origin(cassette, f"recorded against {spec.real_base_url}")
        else:
            reply, response = _run(gen, mode, kind)
    assert reply.text and "Paris" in reply.text
    assert reply.metadata["model"]
    if preset == "custom" and kind == "stream":
        return  # a generic server has no way to be asked for stream usage
    assert "usage" in reply.metadata
    if response is not None:
        assert response.finish_reason is not None and response.usage is not None


def _origin(cassette: Path) -> str:
    first = cassette.read_text(encoding="utf-8").splitlines()[0]
    return first if first.startswith("# ") else ""


def _mark_origin(cassette: Path, origin: str) -> None:
    """Put a one-line comment at the top of the cassette saying how it was made (YAML ignores it)."""
    text = cassette.read_text(encoding="utf-8")
    if text.startswith("# "):
        text = text.split("\n", 1)[1]
    cassette.write_text(f"# {origin}\n{text}", encoding="utf-8")


_CREDENTIAL = re.compile(
    r"sk-(or-v1-|ant-|proj-)[A-Za-z0-9_-]{16,}|Bearer [A-Za-z0-9._-]{20,}|\b[A-Za-z0-9]{40,}\b", re.IGNORECASE
)


def test_every_cassette_is_free_of_credentials() -> None:
    files = sorted(CASSETTES.rglob("*.yaml"))
    assert len(files) == len(CASES)
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert FAKE_KEY not in text, f"{path} holds the test key: the recorder's filter did not run"
        assert not _CREDENTIAL.search(text), f"{path} holds something that looks like a credential"
        for header in ("authorization", "x-api-key"):
            for line in re.findall(rf"(?im)^\s*{header}:\s*\n\s*-\s*(.+)$", text):
                assert line.strip() == "REDACTED", f"{path}: {header} is {line!r}"
