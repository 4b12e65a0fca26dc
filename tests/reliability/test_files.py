"""save_thread and the file system: symlinks, modes, the folder's sync, stale temporary files, targets that
are not regular files, and paths that are not paths.

POSIX only (symlinks, umask, FIFOs, ``flock``); elsewhere the module is skipped.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minillm import ChatNode, FileAccessError, InvalidParameterError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file-system semantics")


def _save(path: Any, text: str = "new") -> None:
    ChatNode.root(text).add_user("q").save_thread(path)


def _root_text(path: Path) -> str | None:
    return ChatNode.from_thread_file(path)[0].text


@pytest.fixture
def umask() -> Iterator[Any]:
    """Set the process umask for one test (restored after it)."""
    previous = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(previous)


# ----- symlinks ------------------------------------------------------------------------------------------


def test_saving_onto_a_symlink_writes_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "data" / "thread.json"
    real.parent.mkdir()
    _save(real, "old")
    link = tmp_path / "current.json"
    link.symlink_to(os.path.relpath(real, tmp_path))  # relative, as `ln -s` makes them
    _save(link, "new")
    assert link.is_symlink() and os.readlink(link) == os.path.join("data", "thread.json")
    assert _root_text(real) == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["thread.json"]  # the temporary file went there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.json", "data"]


def test_a_chain_of_symlinks_and_a_dangling_one(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    (tmp_path / "a.json").symlink_to("b.json")
    (tmp_path / "b.json").symlink_to("real.json")
    _save(tmp_path / "a.json", "through two links")  # the target does not exist yet: created
    assert real.is_file() and not real.is_symlink()
    assert _root_text(real) == "through two links"
    assert (tmp_path / "a.json").is_symlink() and (tmp_path / "b.json").is_symlink()


def test_a_symlink_loop_is_a_file_access_error(tmp_path: Path) -> None:
    (tmp_path / "a.json").symlink_to("b.json")
    (tmp_path / "b.json").symlink_to("a.json")
    with pytest.raises(FileAccessError, match="cannot write thread file"):
        _save(tmp_path / "a.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


# ----- modes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o077, 0o027, 0o022, 0o002])
def test_a_new_file_gets_the_mode_the_umask_allows(tmp_path: Path, umask: Any, mask: int) -> None:
    umask(mask)
    path = tmp_path / "t.json"
    _save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_an_existing_file_keeps_its_mode_whatever_the_umask(tmp_path: Path, umask: Any) -> None:
    path = tmp_path / "t.json"
    _save(path, "old")
    path.chmod(0o600)
    umask(0o000)
    _save(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _root_text(path) == "new"


# ----- the folder is synced --------------------------------------------------------------------------------


def test_the_folder_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _save(tmp_path / "t.json")
    assert events == ["fsync file", "rename", "fsync folder"]


# ----- stale temporary files ------------------------------------------------------------------------------


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path: Path) -> None:
    """Saves killed (no clean-up runs) before their rename: each one's temporary file is removed by the next
    save of the same target, so 20 kills leave one, not 20, and a save that completes leaves none. Another
    target's temporary file is left alone."""
    path = tmp_path / "t.json"
    _save(path, "good")
    script = textwrap.dedent(
        f"""
        import os
        from minillm import ChatNode

        def killed(src, dst):
            os._exit(9)  # like SIGKILL: no finally, no except, no atexit

        os.replace = killed
        ChatNode.root("lost").save_thread({str(path)!r})
        """
    )
    for _ in range(20):
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert result.returncode == 9, result.stderr
    other = tmp_path / ".other.json.minillm-0123456789ab.tmp"  # another target's: not ours to remove
    other.write_text("{}")
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".t.json.minillm-")]) == 1
    assert _root_text(path) == "good"
    _save(path, "next")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, other.name])
    assert _root_text(path) == "next"


def test_a_temporary_file_a_running_save_holds_is_left_alone(tmp_path: Path) -> None:
    """A save in progress holds a lock on its temporary file: another save of the same target must not
    remove it (it would make the first save's rename fail)."""
    import fcntl

    path = tmp_path / "t.json"
    busy = tmp_path / ".t.json.minillm-0123456789ab.tmp"
    with open(busy, "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        _save(path)
        assert busy.exists()
    _save(path)  # released: now it is stale
    assert not busy.exists()


def test_only_regular_temporary_files_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    decoy = tmp_path / "precious.txt"
    decoy.write_text("keep me")
    (tmp_path / ".t.json.minillm-aaaaaaaaaaaa.tmp").symlink_to("precious.txt")
    os.mkfifo(tmp_path / ".t.json.minillm-bbbbbbbbbbbb.tmp")
    _save(path)
    assert decoy.read_text() == "keep me"
    assert (tmp_path / ".t.json.minillm-aaaaaaaaaaaa.tmp").is_symlink()
    assert stat.S_ISFIFO((tmp_path / ".t.json.minillm-bbbbbbbbbbbb.tmp").stat().st_mode)


# ----- targets that are not regular files ----------------------------------------------------------------


def test_a_fifo_target_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "t.json"
    os.mkfifo(fifo)
    with pytest.raises(FileAccessError, match="not a regular file"):
        _save(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_a_device_target_is_refused(tmp_path: Path) -> None:
    """Through a symlink to /dev/null (as root the old code replaced the device node with a file)."""
    link = tmp_path / "t.json"
    link.symlink_to("/dev/null")
    with pytest.raises(FileAccessError, match="not a regular file"):
        _save(link)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert link.is_symlink()


def test_a_folder_target_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "t.json"
    folder.mkdir()
    with pytest.raises(FileAccessError, match="not a regular file"):
        _save(folder)
    assert folder.is_dir() and list(folder.iterdir()) == []


# ----- paths that are not paths -----------------------------------------------------------------------


def test_a_path_with_a_nul_byte_is_a_file_access_error(tmp_path: Path) -> None:
    bad = str(tmp_path / "t\0.json")
    with pytest.raises(FileAccessError, match="NUL"):
        _save(bad)
    with pytest.raises(FileAccessError, match="NUL"):
        ChatNode.from_thread_file(bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [42, None, 3.5, ["t.json"]], ids=["int", "None", "float", "list"])
def test_a_non_path_argument_is_an_invalid_parameter_error(bad: Any) -> None:
    with pytest.raises(InvalidParameterError, match="must be a path"):
        _save(bad)
    with pytest.raises(InvalidParameterError, match="must be a path"):
        ChatNode.from_thread_file(bad)


def test_bytes_paths_still_work(tmp_path: Path) -> None:
    path = os.fsencode(tmp_path / "t.json")
    _save(path, "bytes")
    assert ChatNode.from_thread_file(path)[0].text == "bytes"
