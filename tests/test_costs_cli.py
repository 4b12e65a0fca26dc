"""``minillm models`` and ``minillm chat --estimate / --budget`` against the local server, the cache in a temporary
folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from minillm.cli import main
from minillm.testing import MockLLMServer, Reply
from minillm.testing.replies import Wire


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MINILLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    monkeypatch.delenv("MINILLM_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)


def test_models_lists_the_catalog_from_the_cache_when_fresh(
    llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--base-url", llm_server.openrouter_base_url]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["model", "context", "input", "$/Mtok", "output", "$/Mtok", "cache", "read", "$/Mtok"]
    assert any(line.split() == ["openai/gpt-4o", "128000", "2.5", "10", "1.25"] for line in lines)
    assert any(line.split()[:3] == ["openrouter/auto", "2000000", "-"] for line in lines)  # a varying price
    assert "6 models" in err and "stale" not in err
    assert main(["models", "--base-url", llm_server.openrouter_base_url, "--search", "GPT"]) == 0
    out, _ = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert sum(1 for r in llm_server.requests if r.wire is Wire.MODELS) == 1  # the second run read the cache


def test_models_offline_uses_the_stale_copy_and_says_so(
    llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--base-url", llm_server.openrouter_base_url]) == 0
    llm_server.set_models(Reply.error(503, "down"))
    assert main(["models", "--base-url", llm_server.openrouter_base_url, "--refresh"]) == 0
    _, err = capsys.readouterr()
    assert "stale" in err


def test_models_with_no_catalog_at_all_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--base-url", "http://127.0.0.1:9/api/v1"]) == 1
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "no cached copy" in err


def test_models_search_without_a_match(llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--base-url", llm_server.openrouter_base_url, "--search", "nothing-like-this"]) == 1
    assert "no model matches" in capsys.readouterr().err


def _chat(server: MockLLMServer, *extra: str) -> int:
    model = ["--model", "openrouter:mock-model", "--base-url", server.openrouter_base_url, "--max-tokens", "50"]
    return main(["chat", "Hello", *model, *extra])


def test_chat_estimate_prints_before_the_reply(llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _chat(llm_server, "--estimate") == 0
    out, err = capsys.readouterr()
    assert out == "Echo: Hello\n"
    estimate_line = next(line for line in err.splitlines() if line.startswith("[estimate:"))
    assert "input tokens" in estimate_line and "catalog price" in estimate_line
    assert err.index("[estimate:") < err.index("[cost:")


def test_chat_budget_refuses_before_sending(llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert _chat(llm_server, "--budget", "0.5") == 0
    assert "[budget: $" in capsys.readouterr().err
    assert _chat(llm_server, "--budget", "0.00001") == 1
    _, err = capsys.readouterr()
    assert "budget refused the request before sending it" in err
    assert sum(1 for r in llm_server.requests if r.wire is Wire.OPENAI) == 1


def test_chat_budget_must_be_an_amount(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi", "--budget", "lots"]) == 2
    assert "US dollars" in capsys.readouterr().err
