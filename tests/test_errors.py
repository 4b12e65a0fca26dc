"""The error family: every relation the contract pins, and the two groups by whose fault an error is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import minillm
import minillm.core.errors
from minillm.core.errors import SchemaValidationError

PINNED = [
    ("ConfigurationError", "MiniLLMError"),
    ("InvalidParameterError", "MiniLLMError"),
    ("InvalidParameterError", "ValueError"),
    ("APIError", "MiniLLMError"),
    ("BadRequestError", "APIError"),
    ("AuthenticationError", "APIError"),
    ("RateLimitError", "APIError"),
    ("ServerError", "APIError"),
    ("APIConnectionError", "MiniLLMError"),
    ("APITimeoutError", "APIConnectionError"),
    ("StreamError", "MiniLLMError"),
    ("MalformedResponseError", "MiniLLMError"),
    ("EmptyResponseError", "MiniLLMError"),
    ("NoJSONFoundError", "MiniLLMError"),
    ("JSONRepairError", "MiniLLMError"),
    ("MaxRetriesExceededError", "MiniLLMError"),
    ("ThreadFormatError", "MiniLLMError"),
    ("ThreadFormatError", "ValueError"),
    ("EmptyThreadError", "ThreadFormatError"),
    # second round
    ("APIError", "ProviderError"),
    ("APIConnectionError", "ProviderError"),
    ("StreamError", "ProviderError"),
    ("MalformedResponseError", "ProviderError"),
    ("ProviderError", "MiniLLMError"),
    ("EmptyResponseError", "ReplyRejectedError"),
    ("NoJSONFoundError", "ReplyRejectedError"),
    ("SchemaValidationError", "ReplyRejectedError"),
    ("BudgetExceededError", "MiniLLMError"),
]


def _cls(name: str) -> type:
    return ValueError if name == "ValueError" else getattr(minillm, name)


@pytest.mark.parametrize(("child", "parent"), PINNED)
def test_pinned_relation(child: str, parent: str) -> None:
    assert issubclass(_cls(child), _cls(parent))


@pytest.mark.parametrize(
    "name",
    [
        "ConfigurationError",
        "InvalidParameterError",
        "JSONRepairError",
        "BudgetExceededError",
        "EmptyResponseError",
        "ThreadFormatError",
        "MaxRetriesExceededError",
    ],
)
def test_local_errors_are_not_provider_errors(name: str) -> None:
    """``except ProviderError`` (to try another model) must not catch the caller's own mistakes."""
    assert not issubclass(_cls(name), minillm.ProviderError)


def test_schema_validation_error_carries_what_was_lost() -> None:
    error = SchemaValidationError("no", node="n", raw='{"a": 1', value={"a": 1}, errors=("a: not a string",))
    assert (error.node, error.raw, error.value, error.errors) == ("n", '{"a": 1', {"a": 1}, ["a: not a string"])


# ----- the drawings of the tree ---------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
_NAME = re.compile(r"[A-Z]\w+")


def _drawn_tree(text: str) -> dict[str, str]:
    """Each class in the box-drawing tree that starts at the line "MiniLLMError", with its drawn parent.

    A class's depth is the column of its name over 4: the root at 0, "├── X" at 4, "│   ├── X" at 8.
    """
    lines = text.splitlines()
    root = next(i for i, line in enumerate(lines) if line.strip() == "MiniLLMError")
    margin = lines[root].index("MiniLLMError")
    parents: dict[str, str] = {}
    stack = ["MiniLLMError"]
    for line in lines[root + 1 :]:
        row = line[margin:]
        match = _NAME.search(row)
        if "── " not in row or match is None:
            break
        depth = match.start() // 4
        del stack[depth:]
        parents[match.group()] = stack[-1]
        stack.append(match.group())
    return parents


def _real_tree() -> dict[str, str]:
    classes = [getattr(minillm.core.errors, name) for name in minillm.core.errors.__all__]
    return {cls.__name__: cls.__bases__[0].__name__ for cls in classes if cls is not minillm.core.errors.MiniLLMError}


def test_the_tree_drawn_in_the_errors_module_is_the_real_one() -> None:
    assert minillm.core.errors.__doc__ is not None
    assert _drawn_tree(minillm.core.errors.__doc__) == _real_tree()


def test_the_tree_drawn_in_the_errors_page_is_the_real_one() -> None:
    assert _drawn_tree(DOCS.read_text(encoding="utf-8")) == _real_tree()
