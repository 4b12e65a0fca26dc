"""Data safety: saving a thread never loses the old file, and loading one never changes it.

``tests/test_threads.py`` already covers a failing ``fsync`` and an interruption (``KeyboardInterrupt``) at
the rename; these add a write that fails part-way, a process killed between the write and the rename, a
failing ``chmod``, a read-only folder, racing writers and readers, and loads that fail or read old formats.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from minillm import ChatNode, FileAccessError, ThreadFormatError

GOOD = "the good version"


def saved(path: Path) -> bytes:
    """Save a thread whose root says ``GOOD`` at ``path``; return the file's bytes."""
    ChatNode.root(GOOD).add_user("a question").save_thread(path)
    return path.read_bytes()


def assert_untouched(path: Path, good: bytes) -> None:
    """The old file is whole and loads; no temporary file is left next to it."""
    assert path.read_bytes() == good
    assert ChatNode.from_thread_file(path)[0].text == GOOD
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_a_write_that_fails_part_way_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    good = saved(path)
    written: list[str] = []
    real_fdopen = os.fdopen

    class HalfWritingFile:
        """Writes half of what it is given to the real file, then fails as a full disk does."""

        def __init__(self, real: Any) -> None:
            self._real = real

        def write(self, text: str) -> int:
            self._real.write(text[: len(text) // 2])
            self._real.flush()
            written.append(text)
            raise OSError(28, "No space left on device")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

        def __enter__(self) -> HalfWritingFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self._real.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfWritingFile(real_fdopen(fd, *a, **k)))
    with pytest.raises(FileAccessError, match="No space left on device") as info:
        ChatNode.root("the new version, much longer " * 50).save_thread(path)
    assert isinstance(info.value.__cause__, OSError)
    assert written  # the failure did happen part-way through the write
    assert_untouched(path, good)


def test_a_failing_chmod_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    good = saved(path)

    def chmod(target: Any, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", chmod)
    with pytest.raises(FileAccessError, match="Operation not permitted"):
        ChatNode.root("new").save_thread(path)
    assert_untouched(path, good)


def test_a_process_killed_between_write_and_rename_keeps_the_old_file(tmp_path: Path) -> None:
    """A hard kill (no clean-up runs) right before the rename: the old file is intact, and what is left is
    a hidden temporary file, whole, in the same folder (so the rename would have been atomic)."""
    path = tmp_path / "t.json"
    good = saved(path)
    script = textwrap.dedent(
        f"""
        import os
        from minillm import ChatNode

        def killed(src, dst):
            print(src, flush=True)
            os._exit(9)  # like SIGKILL: no finally, no except, no atexit

        os.replace = killed
        ChatNode.root("the new version").add_user("q").save_thread({str(path)!r})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 9, result.stderr
    temporary = Path(result.stdout.strip())
    assert path.read_bytes() == good and ChatNode.from_thread_file(path)[0].text == GOOD
    assert temporary.parent == path.parent and temporary.name.startswith(".t.json.minillm-")
    assert ChatNode.from_thread_file(temporary)[0].text == "the new version"  # the write itself was whole
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, temporary.name])
    ChatNode.root("the next save").save_thread(path)  # removes what the killed save left
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_a_read_only_folder_is_a_file_access_error_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "t.json"
    good = saved(path)
    if os.geteuid() == 0:  # root writes into read-only folders: refuse the temporary file as the OS would
        real_open = os.open

        def refusing_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & os.O_CREAT and os.path.dirname(os.fspath(file)) == str(folder):
                raise PermissionError(13, "Permission denied")
            return real_open(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(FileAccessError, match=r"cannot write thread file .*Permission denied"):
            ChatNode.root("new").save_thread(path)
    finally:
        folder.chmod(stat.S_IRWXU)
    assert_untouched(path, good)


def test_metadata_that_is_not_json_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    good = saved(path)
    with pytest.raises(ValueError, match="metadata"):
        ChatNode.root("new").set_metadata("handle", object()).save_thread(path)
    assert_untouched(path, good)


def test_racing_writers_and_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    """Eight threads save different threads to one path while four load it: every load succeeds, and the
    file ends as exactly one of the versions written."""
    path = tmp_path / "t.json"
    saved(path)
    versions = {f"writer {w} version {v} " + "x" * (w * 500) for w in range(8) for v in range(10)}
    failures: list[BaseException] = []
    loaded: list[str] = []
    done = threading.Event()

    def write(w: int) -> None:
        for v in range(10):
            ChatNode.root(f"writer {w} version {v} " + "x" * (w * 500)).save_thread(path)

    def read() -> None:
        while not done.is_set():
            try:
                loaded.append(ChatNode.from_thread_file(path)[0].text or "")
            except BaseException as e:  # any failure is a torn read
                failures.append(e)
                return

    readers = [threading.Thread(target=read) for _ in range(4)]
    writers = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()
    assert failures == []
    assert loaded and set(loaded) <= versions | {GOOD}
    assert ChatNode.from_thread_file(path)[0].text in versions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


# ----- loading never modifies the file ------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file in ``folder`` with its bytes, modification time and mode."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"prompts": [{"role": "system", "content": "Hi {name}"}], "required_kwargs": {"name": None}}),
        json.dumps({"prompts": [{"message": {"role": "user", "content": "q"}, "metadata": {"k": 1}}]}),
        '{"prompts": [{"message": {"role": "user", "content": "cut',
        json.dumps({"prompts": []}),
        json.dumps({"prompts": [{"message": {"role": "wizard", "content": "x"}}]}),
        "\ufeff" + json.dumps({"prompts": [{"role": "user", "content": "bom"}]}),
    ],
    ids=["legacy", "current", "truncated", "empty", "bad-role", "bom"],
)
def test_loading_never_modifies_the_file_whether_it_loads_or_not(tmp_path: Path, content: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content, encoding="utf-8")
    path.chmod(0o444)  # read-only: a loader that tried to write or re-save would fail here
    before = _snapshot(tmp_path)
    try:
        root, _ = ChatNode.from_thread_file(path)
        root.add_user("changed in memory")  # changing the loaded tree does not touch the file either
    except ThreadFormatError:
        pass
    assert _snapshot(tmp_path) == before


def test_loading_leaves_no_open_file_behind(tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("counting open files needs /proc")
    path = tmp_path / "t.json"
    saved(path)
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(200):
        ChatNode.from_thread_file(path)
        with pytest.raises(ThreadFormatError):
            ChatNode.from_thread_file(tmp_path / "bad.json")
        with pytest.raises(FileAccessError):
            ChatNode.from_thread_file(tmp_path / "missing.json")
        ChatNode.root("s").save_thread(tmp_path / "out.json")
    assert len(os.listdir("/proc/self/fd")) == before


def test_the_temporary_file_is_private_to_the_target_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename is atomic only within one file system, so the temporary file is made next to the target,
    not in the system's temporary folder."""
    made: list[str] = []
    real_open = os.open

    def recording_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            made.append(os.fspath(file))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    path = tmp_path / "sub" / "t.json"
    path.parent.mkdir()
    ChatNode.root("s").save_thread(path)
    assert len(made) == 1 and Path(made[0]).parent == path.parent
    assert not Path(made[0]).exists()
