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
import json
import os
import tempfile
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
    """Write the thread to ``file`` atomically: a temporary file in the same folder, then a rename."""
    try:
        text = json.dumps(thread_to_data(path), indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise InvalidParameterError(f"the thread cannot be saved as JSON (is some metadata not JSON?): {e}") from e
    target = os.fspath(file)
    folder = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".minillm-", suffix=".tmp", dir=folder)
    except OSError as e:
        raise FileAccessError(f"cannot write thread file {target!r}: {e.strerror or e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777
        except OSError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise FileAccessError(f"cannot write thread file {target!r}: {e.strerror or e}") from e
        raise


# ----- reading ---------------------------------------------------------------------------------------


def chain_from_file(file: str | os.PathLike[str]) -> tuple[ChatNode, ChatNode]:
    """Load a thread file into a chain; returns ``(root, leaf)``. The file is only read."""
    try:
        with open(file, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise FileAccessError(f"cannot read thread file {os.fspath(file)!r}: {e.strerror or e}") from e
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
