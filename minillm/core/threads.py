"""Saving and loading threads (a root-to-node path) as JSON, with cattrs.

The format written::

    {"prompts": [{"message": {"role": "system", "content": "Hello {name}!", "cache_breakpoint": true},
                  "format_kwargs": {"name": "World"}, "metadata": {...}}, ...]}

``format_kwargs`` and ``metadata`` are omitted when empty; a node's cache mark rides in its message. An
assistant message keeps its ``reasoning`` text, ``refusal`` and ``reasoning_parts`` (each
``{"wire", "block", "after_tool_calls"?}``, the provider's block unchanged) when it has them, so a thread with
thinking can be loaded and sent again; files without these keys load as before.
Loading also accepts the legacy format ``{"prompts": [{"role": ..., "content": ...}], "required_kwargs":
{...}}``, where non-null values fill the placeholders of every message and null ones mark placeholders
still to be supplied (their names are kept in the root's ``metadata["required_kwargs"]``).

Every problem in the input becomes a ``ThreadFormatError`` naming the entry; nothing else escapes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import cattrs
from cattrs.errors import BaseValidationError

from minillm.core.errors import EmptyThreadError, FileAccessError, InvalidParameterError, ThreadFormatError
from minillm.core.messages import (
    AudioPart,
    ContentPart,
    ImagePart,
    Message,
    MessageContent,
    ReasoningPart,
    Role,
    TextPart,
    _to_role,
)
from minillm.core.utf8 import well_formed

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be removed there, which protects a running save instead
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from minillm.core.tree import ChatNode

__all__ = ["chain_from_data", "chain_from_file", "chain_from_json", "save_thread", "thread_to_data"]


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(omit_if_default=True)
    conv.register_structure_hook(MessageContent, lambda value, _: MessageContent.from_json(value))
    conv.register_unstructure_hook(MessageContent, lambda content: content.to_json())
    conv.register_structure_hook(Role, lambda value, _: _to_role(value))
    conv.register_unstructure_hook(Role, lambda role: role.value)
    conv.register_structure_hook(ReasoningPart, lambda value, _: ReasoningPart.from_dict(value))
    conv.register_unstructure_hook(ReasoningPart, lambda part: part.to_dict())
    return conv


_converter = _make_converter()


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, InvalidParameterError):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


# ----- writing ---------------------------------------------------------------------------------------


def thread_to_data(path: Sequence[ChatNode]) -> dict[str, Any]:
    """The thread data for a root-to-node path of nodes."""
    prompts: list[dict[str, Any]] = []
    for node in path:
        entry: dict[str, Any] = {"message": _converter.unstructure(node.message, Message)}
        kwargs = node.get_format_kwargs()
        if kwargs:
            entry["format_kwargs"] = kwargs
        if node.metadata:
            entry["metadata"] = node.metadata
        prompts.append(entry)
    return {"prompts": prompts}


def save_thread(path: Sequence[ChatNode], file: str | os.PathLike[str]) -> None:
    """Write the thread to ``file`` atomically: a temporary file in the same folder, then a rename.

    A symlink is written through (its target gets the new text; the link stays). A new file gets the mode
    the umask allows, an existing one keeps its mode. The folder is synced after the rename, so the new
    name survives a power cut. Temporary files that a killed save left for the same target are removed.
    A target that exists but is not a regular file (a folder, a device, a FIFO) is refused.
    """
    target = _path_argument(file, "write")
    try:
        text = json.dumps(thread_to_data(path), indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise InvalidParameterError(f"the thread cannot be saved as JSON (is some metadata not JSON?): {e}") from e
    text = well_formed(text) + "\n"  # a lone surrogate (half an emoji) is saved as U+FFFD: UTF-8 cannot hold it
    real = os.path.realpath(target)
    folder, name = os.path.split(real)
    try:
        existing: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        existing = None
    except OSError as e:
        raise FileAccessError(f"cannot write thread file {target!r}: {e.strerror or e}") from e
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise FileAccessError(
            f"cannot write thread file {target!r}: it is not a regular file (a folder, device, FIFO or "
            "socket); save the thread to a file path"
        )
    prefix = _temp_prefix(name)
    _remove_stale_temporaries(folder, prefix)
    try:
        fd, tmp, lock = _create_temporary(folder, prefix, private=existing is not None)
    except OSError as e:
        raise FileAccessError(f"cannot write thread file {target!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if existing is not None:
            os.chmod(tmp, existing.st_mode & 0o7777)
        os.replace(tmp, real)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise FileAccessError(f"cannot write thread file {target!r}: {e.strerror or e}") from e
        raise
    finally:
        if lock is not None:
            os.close(lock)
    _sync_folder(folder, target)


def _path_argument(file: object, action: str) -> str:
    """``file`` as a str path: ``InvalidParameterError`` for a non-path, ``FileAccessError`` for a NUL byte."""
    try:
        path = os.fspath(file)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidParameterError(
            f"a thread file must be a path (str or os.PathLike), not {type(file).__name__}"
        ) from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if "\0" in path:
        raise FileAccessError(
            f"cannot {action} thread file {path!r}: the path contains a NUL character, which no file name can hold"
        )
    return str(path)


_TEMP_SUFFIX = ".tmp"


def _temp_prefix(name: str) -> str:
    """Temporary files of target ``name`` are ``.<name>.minillm-<random>.tmp`` (name cut to fit NAME_MAX)."""
    return f".{name[:200]}.minillm-"


def _create_temporary(folder: str, prefix: str, *, private: bool) -> tuple[int, str, int | None]:
    """A new temporary file in ``folder``: its descriptor, path, and a second descriptor holding its lock.

    A new target's file is created with mode 0o666, which the umask (and a default ACL) narrows as for any
    new file; when the target exists it is created 0o600 and given the target's mode before the rename.
    The lock (POSIX ``flock``) tells another save's clean-up that this file is in use.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{_TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o600 if private else 0o666)
        except FileExistsError:
            continue
        if fcntl is None:
            return fd, tmp, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_nlink:  # not removed by a clean-up that locked it first
                return fd, tmp, os.dup(fd)
        except OSError:
            pass  # another save's clean-up holds it and will remove it
        os.close(fd)
    raise FileExistsError(17, "no free temporary file name")


def _remove_stale_temporaries(folder: str, prefix: str) -> None:
    """Remove the temporary files of this target that no running save holds (left by a killed save)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(_TEMP_SUFFIX)]
    except OSError:
        return
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    for candidate in names:
        tmp = os.path.join(folder, candidate)
        try:
            fd = os.open(tmp, flags)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                continue
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a save holds it
            if os.stat(tmp, follow_symlinks=False).st_ino == info.st_ino:
                os.unlink(tmp)  # on Windows this fails for a file a save has open, which is what we want
        except OSError:
            pass
        finally:
            os.close(fd)


def _sync_folder(folder: str, target: str) -> None:
    """Flush the folder's entry for the renamed file to disk (POSIX; a no-op where folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a folder we may write but not read: the rename stands, unsynced
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise FileAccessError(
                f"thread file {target!r} was written but its folder could not be synced: {e.strerror or e}"
            ) from e
    finally:
        os.close(fd)


# ----- reading ---------------------------------------------------------------------------------------


def chain_from_file(file: str | os.PathLike[str]) -> tuple[ChatNode, ChatNode]:
    """Load a thread file into a chain; returns ``(root, leaf)``. The file is only read."""
    source = _path_argument(file, "read")
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise FileAccessError(f"cannot read thread file {source!r}: {e.strerror or e}") from e
    return chain_from_json(raw)


def chain_from_json(text: str | bytes) -> tuple[ChatNode, ChatNode]:
    """Load thread JSON text into a chain; returns ``(root, leaf)``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ThreadFormatError(f"the thread is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except UnicodeDecodeError as e:
        raise ThreadFormatError(f"the thread is not UTF-8 text: {e.reason} at byte {e.start}") from e
    except RecursionError as e:
        raise ThreadFormatError("the thread JSON is nested too deeply to be a thread") from e
    except (TypeError, ValueError) as e:
        raise ThreadFormatError(f"the thread is not valid JSON: {e}") from e
    return chain_from_data(data)


def chain_from_data(data: Any) -> tuple[ChatNode, ChatNode]:
    """Build a chain from thread data in the current or the legacy format; returns ``(root, leaf)``."""
    from minillm.core.tree import ChatNode

    if not isinstance(data, Mapping):
        raise ThreadFormatError(f"a thread must be a JSON object with a 'prompts' list, not {_kind(data)}")
    prompts = data.get("prompts")
    if not isinstance(prompts, list):
        raise ThreadFormatError(f"a thread needs a 'prompts' list; got {_kind(prompts)}")
    if not prompts:
        raise EmptyThreadError("the thread's 'prompts' list is empty; a thread needs at least one message")
    legacy_kwargs, required = _legacy_kwargs(data.get("required_kwargs"))

    root: ChatNode | None = None
    leaf: ChatNode | None = None
    for index, entry in enumerate(prompts):
        message, kwargs, metadata = _parse_entry(entry, index, legacy_kwargs)
        node = ChatNode(message) if leaf is None else leaf._new_child(message)
        if kwargs:
            node.set_format_kwargs(kwargs)
        if metadata:
            node.metadata.update(metadata)
        if root is None:
            root = node
        leaf = node
    assert root is not None and leaf is not None
    if required:
        root.metadata["required_kwargs"] = required
    return root, leaf


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _legacy_kwargs(value: object) -> tuple[dict[str, str], list[str]]:
    """The non-null ``required_kwargs`` (to fill every message) and the names still to be supplied."""
    if value is None:
        return {}, []
    if not isinstance(value, Mapping):
        raise ThreadFormatError(f"'required_kwargs' must be an object of names to strings or null, not {_kind(value)}")
    filled: dict[str, str] = {}
    required: list[str] = []
    for key, v in value.items():
        if v is None:
            required.append(key)
        elif isinstance(v, str):
            filled[key] = v
        else:
            raise ThreadFormatError(f"'required_kwargs' value for {key!r} must be a string or null, not {_kind(v)}")
    return filled, required


def _parse_entry(
    entry: object, index: int, legacy_kwargs: Mapping[str, str]
) -> tuple[Message, dict[str, str], dict[str, Any]]:
    where = f"thread entry {index}"
    if not isinstance(entry, Mapping):
        raise ThreadFormatError(f"{where} must be an object with a 'message', not {_kind(entry)}")
    if "message" in entry:
        raw_message = entry["message"]
        if not isinstance(raw_message, Mapping):
            raise ThreadFormatError(f"{where}: 'message' must be an object, not {_kind(raw_message)}")
        message = _structure_message(raw_message, where)
        kwargs = _string_map(entry.get("format_kwargs"), f"{where}: 'format_kwargs'")
        metadata = entry.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise ThreadFormatError(f"{where}: 'metadata' must be an object, not {_kind(metadata)}")
        return message, kwargs, dict(metadata)
    if "role" in entry:
        return _legacy_message(entry, where), dict(legacy_kwargs), {}
    raise ThreadFormatError(f"{where} has no 'message' (nor a legacy 'role'); keys found: {sorted(map(str, entry))}")


def _structure_message(raw: Mapping[str, Any], where: str) -> Message:
    try:
        return _converter.structure(raw, Message)
    except BaseValidationError as e:
        problems = cattrs.transform_error(e, path="message", format_exception=_describe)
        raise ThreadFormatError(f"{where}: " + "; ".join(problems)) from e
    except (InvalidParameterError, TypeError, ValueError, AttributeError) as e:
        raise ThreadFormatError(f"{where}: the message is not valid: {e}") from e


def _string_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ThreadFormatError(f"{where} must be an object of strings to strings")
    return dict(value)


# ----- the legacy format -----------------------------------------------------------------------------

_IMAGE_MAGIC = (("iVBOR", "image/png"), ("/9j/", "image/jpeg"), ("R0lGOD", "image/gif"), ("UklGR", "image/webp"))
_AUDIO_MAGIC = (
    ("SUQz", "mp3"),
    ("//u", "mp3"),
    ("//s", "mp3"),
    ("UklGR", "wav"),
    ("T2dnUw", "ogg"),
    ("ZkxhQw", "flac"),
)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "data:"))


def _legacy_media(value: object, key: str, where: str) -> list[ContentPart]:
    items = value if isinstance(value, list) else [value]
    parts: list[ContentPart] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise ThreadFormatError(f"{where}: legacy {key!r} must be a URL or base64 text (or a list of them)")
        if key == "image_data":
            if _is_url(item):
                parts.append(ImagePart(item))
            else:
                mime = next((m for sig, m in _IMAGE_MAGIC if item.startswith(sig)), "application/octet-stream")
                parts.append(ImagePart(f"data:{mime};base64,{item}"))
        elif _is_url(item):
            parts.append(AudioPart(item))
        else:
            fmt = next((f for sig, f in _AUDIO_MAGIC if item.startswith(sig)), "wav")
            parts.append(AudioPart(item, fmt))
    return parts


def _legacy_message(entry: Mapping[str, Any], where: str) -> Message:
    try:
        role = _to_role(entry["role"])
    except InvalidParameterError as e:
        raise ThreadFormatError(f"{where}: {e}") from e
    content = entry.get("content", "")
    if not isinstance(content, str):
        try:
            return Message(role, MessageContent.from_json(content))
        except InvalidParameterError as e:
            raise ThreadFormatError(f"{where}: {e}") from e
    media: list[ContentPart] = []
    for key in ("image_data", "audio_data"):
        if entry.get(key) is not None:
            media.extend(_legacy_media(entry[key], key, where))
    if not media:
        return Message(role, content)
    return Message(role, MessageContent((TextPart(content), *media)))
