"""``sync_client.py`` is generated from ``async_client.py``: the committed file must be what the script makes
(so CI fails on drift), and the substitution table must turn async lines into their blocking twins."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "unasync.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_unasync_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


unasync = _script()


def test_the_committed_sync_client_is_what_the_script_generates() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_fails_with_a_diff_when_the_generated_file_drifts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = tmp_path / "sync_client.py"
    drifted.write_text(unasync.unasync(unasync.SOURCE.read_text(encoding="utf-8")).replace("def close(", "def shut("))
    monkeypatch.setattr(unasync, "TARGET", drifted)
    monkeypatch.setattr(unasync, "ROOT", tmp_path)
    assert unasync.main(["--check"]) == 1
    shown = capsys.readouterr().out
    assert "-    def shut(self) -> None:" in shown and "+    def close(self) -> None:" in shown
    assert "run `python scripts/unasync.py`" in shown
    assert drifted.read_text().count("def shut(") == 2  # --check only compares
    assert unasync.main([]) == 0
    assert unasync.main(["--check"]) == 0 and "def shut(" not in drifted.read_text()


def test_the_generated_file_says_so_at_its_top() -> None:
    text = unasync.TARGET.read_text(encoding="utf-8")
    assert text.startswith(unasync.HEADER)
    assert "async_client.py" in unasync.HEADER and "python scripts/unasync.py" in unasync.HEADER


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("    async def acomplete(self) -> ChatNode:", "    def complete(self) -> ChatNode:"),
        ("        return await self._send(x)", "        return self._send(x)"),
        (
            "        async for state in tenacity.AsyncRetrying(sleep=_concurrency.asleep):",
            "        for state in tenacity.Retrying(sleep=_concurrency.sleep):",
        ),
        ("    async def __aenter__(self) -> AsyncCompletionStream:", "    def __enter__(self) -> CompletionStream:"),
        ("            raise StopAsyncIteration", "            raise StopIteration"),
        ("        self._raw = response.aiter_raw()", "        self._raw = response.iter_raw()"),
        ("                body = await response.aread()", "                body = response.read()"),
        ("        http_client: httpx.AsyncClient | None = None,", "        http_client: httpx.Client | None = None,"),
        ("    def __init__(self, client: AsyncClient) -> None:", "    def __init__(self, client: SyncClient) -> None:"),
        ("        return await self._client.acost()", "        return self._client.cost()"),
        ("    attempt: Callable[[], Awaitable[_T]]", "    attempt: Callable[[], _T]"),
        ("from collections.abc import Awaitable, Callable", "from collections.abc import Callable"),
        ("    check = _concurrency.LoopCheck()", "    check = _concurrency.NoLoopCheck()"),
        ('__all__ = ["AsyncClient", "AsyncCompletionStream"]\n', '__all__ = ["CompletionStream", "SyncClient"]\n'),
    ],
)
def test_substitutions(line: str, expected: str) -> None:
    assert unasync.unasync_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "        self._aclose_all()",  # only whole words: a longer name that contains one stays
        "        reader.acloser = x",
        "        basleep(1)",
        "        await_count = 0",  # ``await`` only as the keyword, followed by a space
        "    # nothing async about this line",
    ],
)
def test_substitutions_replace_whole_words_only(line: str) -> None:
    assert unasync.unasync_line(line) == line


def test_every_async_public_name_has_its_twin_in_the_generated_file() -> None:
    from minillm.transport import async_client, sync_client

    for name, twin in [("AsyncClient", "SyncClient"), ("AsyncCompletionStream", "CompletionStream")]:
        source, generated = getattr(async_client, name), getattr(sync_client, twin)
        for member in vars(source):
            if member.startswith("__") and member not in ("__aenter__", "__aexit__", "__aiter__", "__anext__"):
                continue
            assert hasattr(generated, unasync.unasync_line(member)), (name, member)
