"""The ``minillm`` command: chat against the local server, repair-json, the demo, and user mistakes.

Most tests call ``main([...])`` in-process (stdin replaced, stdout and stderr captured); a few run the real
``python -m minillm`` in a subprocess. Every chat goes to ``minillm.testing``'s server through ``--base-url``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minillm import ChatNode
from minillm.cli import main
from minillm.testing import MockLLMServer, Reply

KEY_VARS = ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "MINILLM_MODEL")


class _TTYInput(io.StringIO):
    """Text typed at a terminal: ``isatty()`` is true."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real key, no .env, no Claude login: tests see only what they set."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str, *, tty: bool = False) -> None:
    monkeypatch.setattr("sys.stdin", _TTYInput(text) if tty else io.StringIO(text))


def _custom(server: MockLLMServer) -> list[str]:
    return ["--model", "custom:demo-model", "--base-url", server.openai_base_url]


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# ----- help, version, usage mistakes ---------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["chat"], ["demo"], ["repair-json"]])
def test_help_of_each_command_exits_0(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: minillm")
    assert "--help" in out


def test_help_lists_every_command_and_chat_help_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    top = capsys.readouterr().out
    assert all(name in top for name in ("chat", "demo", "repair-json"))
    main(["chat", "--help"])
    chat = capsys.readouterr().out
    for flag in ("--model", "--system", "--temperature", "--max-tokens", "--json", "--save", "--load", "--base-url"):
        assert flag in chat
    assert "OPENROUTER_API_KEY" in chat


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("minillm ")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "name a command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["chat", "hi", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["chat", "hi", "--model", "acme:big-model"], "unknown provider 'acme'"),
        (["chat", "hi", "--model", "gpt-4o"], "expected PROVIDER:MODEL"),
        (["chat", "hi", "--model", "custom:local"], "the custom provider needs --base-url"),
        (["chat", "hi", "--temperature", "hot"], "expected a number from 0 to 2"),
        (["chat", "hi", "--max-tokens", "0"], "expected a whole number of at least 1"),
        (["repair-json", "a.json", "b.json"], "unrecognized arguments: b.json"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_error_line(captured.err)
    assert line.startswith("minillm")
    assert expected in line


def test_a_bad_model_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINILLM_MODEL", "nonsense")
    assert main(["chat", "hi"]) == 2
    assert "$MINILLM_MODEL" in _one_error_line(capsys.readouterr().err)


# ----- repair-json: the file (or stdin) repaired to JSON on stdout ------------------------------------------


def test_repair_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"key": "value", "list": [1, 2,],}', encoding="utf-8")
    assert main(["repair-json", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == '{"key": "value", "list": [1, 2]}\n'
    assert captured.err == ""


def test_repair_json_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, '{"key": "value",}\n')
    assert main(["repair-json"]) == 0
    assert capsys.readouterr().out == '{"key": "value"}\n'


def test_repair_json_valid_input_is_printed_compact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, '{\n  "a": [1,\n 2],\n  "b": "caf\u00e9"\n}')
    assert main(["repair-json"]) == 0
    assert capsys.readouterr().out == '{"a": [1, 2], "b": "caf\\u00e9"}\n'


def test_repair_json_no_json_prints_an_empty_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "no json in here")
    assert main(["repair-json"]) == 0
    assert capsys.readouterr().out == "\n"


def test_repair_json_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.json"
    assert main(["repair-json", str(missing)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_error_line(captured.err)
    assert line.startswith("Error reading file: ")
    assert "missing.json" in line and "No such file" in line


def test_repair_json_directory_and_binary_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["repair-json", str(tmp_path)]) == 1
    assert _one_error_line(capsys.readouterr().err).startswith("Error reading file: ")
    binary = tmp_path / "image.bin"
    binary.write_bytes(b"\xff\xfe\x00{")
    assert main(["repair-json", str(binary)]) == 1
    assert "not UTF-8" in _one_error_line(capsys.readouterr().err)


def test_repair_json_unrepairable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, "[" * 600)
    assert main(["repair-json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert _one_error_line(captured.err).startswith("Error repairing JSON: ")


# ----- chat: one-shot ------------------------------------------------------------------------------------


def test_one_shot_streams_the_reply(llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    llm_server.enqueue(Reply.text(["Bonjour", ", ", "traveller", "!"]))
    assert main(["chat", "Say hello", *_custom(llm_server)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Bonjour, traveller!\n"
    sent = llm_server.last_request
    assert sent.stream is True
    assert sent.model == "demo-model"
    assert sent.json["messages"] == [{"role": "user", "content": "Say hello"}]
    # The generic wire asks for no usage, so the cost cannot be known; the CLI says so on stderr.
    assert captured.err == "[cost unknown: the server reported no token usage]\n"


def test_one_shot_flags_reach_the_request(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm_server.enqueue(Reply.text("Lisbon.", usage=(20, 3)))
    argv = [
        "chat",
        "Best city?",
        "--model",
        "openai:gpt-4o-mini",
        "--base-url",
        llm_server.openai_base_url,
        "--system",
        "Be brief.",
        "--temperature",
        "0.2",
        "--max-tokens",
        "50",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "Lisbon.\n"
    body = llm_server.last_request.json
    assert llm_server.last_request.headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Best city?"}]
    assert body["temperature"] == 0.2
    assert body["max_completion_tokens"] == 50
    assert body["stream_options"] == {"include_usage": True}
    assert captured.err == "[23 tokens; no price known, so no cost]\n"


def test_one_shot_prints_a_known_cost(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-test")
    llm_server.enqueue(Reply.text("Porto.", usage=(40, 5), cost=0.000123))
    argv = [
        "chat",
        "Another city?",
        "--model",
        "openrouter:google/gemini-2.5-flash-lite",
        "--base-url",
        llm_server.openrouter_base_url,
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "Porto.\n"
    assert captured.err == "[cost: $0.000123, 45 tokens]\n"
    assert llm_server.last_request.json["usage"] == {"include": True}


def test_default_model_comes_from_the_environment(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINILLM_MODEL", "custom:from-env")
    assert main(["chat", "Hi", "--base-url", llm_server.openai_base_url]) == 0
    assert llm_server.last_request.model == "from-env"
    assert capsys.readouterr().out == "Echo: Hi\n"


def test_json_flag_prints_the_repaired_json(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    llm_server.enqueue(Reply.text('Here it is: {"city": "Lisbon", "days": 3,}'))
    argv = ["chat", "Plan a trip", "--json", "--model", "openai:gpt-4o-mini", "--base-url", llm_server.openai_base_url]
    assert main(argv) == 0
    assert capsys.readouterr().out == '{"city": "Lisbon", "days": 3}\n'
    body = llm_server.last_request.json
    assert body["response_format"] == {"type": "json_object"}
    assert body["stream"] is False


def test_json_flag_on_anthropic_sends_no_response_format(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ant-test")
    llm_server.enqueue(Reply.text("{'ok': true,}", usage=(10, 4)))
    argv = [
        "chat",
        "JSON please",
        "--json",
        "--model",
        "anthropic:claude-sonnet-4-5",
        "--base-url",
        llm_server.anthropic_base_url,
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out == '{"ok": true}\n'
    assert "response_format" not in llm_server.last_request.json


def test_an_api_error_is_one_line_and_exit_1(llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]) -> None:
    llm_server.enqueue(Reply.error(400, "the model does not exist"))
    assert main(["chat", "Hi", *_custom(llm_server)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_error_line(captured.err)
    assert line.startswith("minillm: error: ")
    assert "400" in line and "the model does not exist" in line


def test_a_bad_base_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "Hi", "--model", "custom:m", "--base-url", "localhost:8000"]) == 1
    assert "base_url must be an http:// or https:// URL" in _one_error_line(capsys.readouterr().err)


# ----- chat: missing credentials -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "variable"),
    [
        ("openrouter:google/gemini-2.5-flash-lite", "OPENROUTER_API_KEY"),
        ("openai:gpt-4o-mini", "OPENAI_API_KEY"),
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("claude:claude-sonnet-4-5", "ANTHROPIC_AUTH_TOKEN"),
    ],
)
def test_missing_key_names_the_variable(
    model: str, variable: str, llm_server: MockLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chat", "Hi", "--model", model, "--base-url", llm_server.url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_error_line(captured.err)
    assert line.startswith("minillm: error: ")
    assert f"set {variable}" in line
    assert llm_server.requests == []  # nothing was sent


def test_missing_key_is_reported_before_a_session_reads_input(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = io.StringIO("Hello\n")
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["chat", "--model", "openai:gpt-4o-mini", "--base-url", llm_server.openai_base_url]) == 1
    assert "OPENAI_API_KEY" in _one_error_line(capsys.readouterr().err)
    assert stdin.tell() == 0
    assert llm_server.requests == []


def test_a_dotenv_file_supplies_the_key(
    llm_server: MockLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\n", encoding="utf-8")
    assert main(["chat", "Hi", "--model", "openai:gpt-4o-mini", "--base-url", llm_server.openai_base_url]) == 0
    assert llm_server.last_request.headers["authorization"] == "Bearer sk-from-dotenv"
    assert capsys.readouterr().out == "Echo: Hi\n"


# ----- chat: interactive sessions ------------------------------------------------------------------------


def test_two_turn_session_through_stdin(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    llm_server.enqueue(Reply.text("Nice to meet you, Alice."), Reply.text("Your name is Alice."))
    _stdin(monkeypatch, "My name is Alice.\n\nWhat is my name?\n/exit\nnever sent\n")
    assert main(["chat", "--system", "Be friendly.", *_custom(llm_server)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Nice to meet you, Alice.\nYour name is Alice.\n"
    assert "you>" not in captured.out  # no prompt when stdin is not a terminal
    assert len(llm_server.requests) == 2
    assert llm_server.requests[1].json["messages"] == [
        {"role": "system", "content": "Be friendly."},
        {"role": "user", "content": "My name is Alice."},
        {"role": "assistant", "content": "Nice to meet you, Alice."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_session_ends_at_end_of_input(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "one\ntwo")
    assert main(["chat", *_custom(llm_server)]) == 0
    assert capsys.readouterr().out == "Echo: one\nEcho: two\n"
    assert [r.json["messages"][-1]["content"] for r in llm_server.requests] == ["one", "two"]


def test_session_on_a_terminal_prompts(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "Hello\n/exit\n", tty=True)
    assert main(["chat", *_custom(llm_server)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("you> Echo: Hello\nyou> ")
    assert "/exit" in captured.err  # the banner says how to leave


def test_a_failed_turn_is_reported_and_left_out_of_the_conversation(
    llm_server: MockLLMServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    llm_server.enqueue(Reply.text("First answer."), Reply.error(400, "too long"), Reply.text("Third answer."))
    _stdin(monkeypatch, "first\nsecond\nthird\n")
    assert main(["chat", *_custom(llm_server)]) == 1  # the session went on, but one turn failed
    captured = capsys.readouterr()
    assert captured.out == "First answer.\nThird answer.\n"
    assert "minillm: error: " in captured.err and "too long" in captured.err
    assert [m["content"] for m in llm_server.requests[2].json["messages"]] == ["first", "First answer.", "third"]


# ----- chat: save and load -------------------------------------------------------------------------------


def test_save_then_load_continues_the_thread(
    llm_server: MockLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thread.json"
    llm_server.enqueue(Reply.text("Hi Bob!"), Reply.text("You are Bob."))
    assert main(["chat", "I am Bob.", "--system", "Be brief.", "--save", str(path), *_custom(llm_server)]) == 0
    _, leaf = ChatNode.from_thread_file(path)
    assert [m.content.all_text() for m in leaf.thread()] == ["Be brief.", "I am Bob.", "Hi Bob!"]

    assert main(["chat", "Who am I?", "--load", str(path), "--save", str(path), *_custom(llm_server)]) == 0
    assert capsys.readouterr().out == "Hi Bob!\nYou are Bob.\n"
    assert [m["content"] for m in llm_server.last_request.json["messages"]] == [
        "Be brief.",
        "I am Bob.",
        "Hi Bob!",
        "Who am I?",
    ]
    _, leaf = ChatNode.from_thread_file(path)
    assert leaf.depth() == 4 and leaf.text == "You are Bob."


def test_system_overrides_a_loaded_threads_own(
    llm_server: MockLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thread.json"
    ChatNode.root("Old system.").add_user("Hi").add_assistant("Hello").save_thread(path)
    assert main(["chat", "Again", "--load", str(path), "--system", "New system.", *_custom(llm_server)]) == 0
    sent = llm_server.last_request.json["messages"]
    assert sent[0] == {"role": "system", "content": "New system."}
    assert len(sent) == 4
    assert capsys.readouterr().out == "Echo: Again\n"


def test_session_saves_after_each_turn(
    llm_server: MockLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "session.json"
    llm_server.enqueue(Reply.text("one"), Reply.error(400, "bad"))
    _stdin(monkeypatch, "a\nb\n")
    assert main(["chat", "--save", str(path), *_custom(llm_server)]) == 1
    _, leaf = ChatNode.from_thread_file(path)  # the first turn was saved; the failed one was not
    assert [m.content.all_text() for m in leaf.thread()] == ["a", "one"]


@pytest.mark.parametrize("content", [None, "not json", '{"prompts": []}'])
def test_load_failures_are_one_line(
    content: str | None, llm_server: MockLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thread.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["chat", "Hi", "--load", str(path), *_custom(llm_server)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"minillm: error: cannot continue the conversation in {path}: ")
    assert llm_server.requests == []


def test_save_failure_is_one_line(
    llm_server: MockLLMServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "thread.json"
    assert main(["chat", "Hi", "--save", str(target), *_custom(llm_server)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "Echo: Hi\n"
    assert "cannot write thread file" in captured.err.splitlines()[-1]
    assert "Traceback" not in captured.err


# ----- demo ----------------------------------------------------------------------------------------------


def test_demo_runs_offline_and_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    headings = [
        "== 1. A conversation tree, with branching ==",
        "== 2. Streaming ==",
        "== 3. Templates (format kwargs) ==",
        "== 4. JSON repair ==",
        "== 5. Cost tracking ==",
        "== 6. A retry after a 429 ==",
        "== 7. Saving and loading a thread ==",
        "== 8. Structured output, with a re-ask ==",
    ]
    positions = [out.index(h) for h in headings]
    assert positions == sorted(positions)
    # A few facts each step prints, so a step that silently did nothing would fail here.
    out = " ".join(out.split())  # long lines are wrapped for the terminal
    assert "root.iter_leaves() -> 2 leaves" in out
    assert "Kyoto was not in it." in out
    assert "'You are a cheerful museum guide. Answer in at most 25 words.'" in out
    assert "loads(reply.text)['days'][2]['see'] -> 'Sintra'" in out
    assert "RESOLVED" in out and "UNPRICED" in out
    assert "the server saw 2 requests for one completion" in out
    assert "the same as saved: True" in out
    assert "errors sent back: ['$.days[0].day: expected an integer, got a string']" in out
    assert "reply.parsed -> _Plan(city='Porto'" in out
    assert "Done: 8 steps" in out


# ----- the real command, in a subprocess -----------------------------------------------------------------


def _run(args: list[str], stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    return subprocess.run(
        [sys.executable, "-m", "minillm", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_subprocess_one_shot_and_session(llm_server: MockLLMServer, tmp_path: Path) -> None:
    llm_server.enqueue(Reply.text("Hello from the server."))
    done = _run(["chat", "Hello?", *_custom(llm_server)], cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "Hello from the server.\n")

    llm_server.enqueue(Reply.text("Noted: blue."), Reply.text("Blue."))
    done = _run(["chat", *_custom(llm_server)], stdin="My colour is blue.\nWhat is my colour?\n", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "Noted: blue.\nBlue.\n")
    assert [m["content"] for m in llm_server.last_request.json["messages"]] == [
        "My colour is blue.",
        "Noted: blue.",
        "What is my colour?",
    ]


def test_subprocess_errors_have_no_traceback(tmp_path: Path) -> None:
    done = _run(["chat", "Hi", "--model", "openrouter:google/gemini-2.5-flash-lite"], cwd=tmp_path)
    assert done.returncode == 1
    assert "OPENROUTER_API_KEY" in _one_error_line(done.stderr)
    done = _run(["chat", "--temperature"], cwd=tmp_path)
    assert done.returncode == 2
    _one_error_line(done.stderr)


def test_subprocess_repair_json(tmp_path: Path) -> None:
    done = _run(["repair-json"], stdin="{'a': 1, 'b': [true, None,]}")
    assert (done.returncode, done.stdout, done.stderr) == (0, '{"a": 1, "b": [true, null]}\n', "")
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"x": "y"}) + "\n// trailing comment", encoding="utf-8")
    done = _run(["repair-json", str(path)])
    assert (done.returncode, done.stdout) == (0, '{"x": "y"}\n')
    done = _run(["repair-json", str(tmp_path / "absent.json")])
    assert done.returncode == 1 and done.stdout == ""
    assert _one_error_line(done.stderr).startswith("Error reading file: ")
