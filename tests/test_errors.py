"""The error family: every relation the contract pins, and the two groups by whose fault an error is."""

from __future__ import annotations

import pytest

import minillm
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
