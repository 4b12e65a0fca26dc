"""Every error minillm raises, in one small family.

Catch ``MiniLLMError`` to catch them all. The tree, with whose fault each one is::

    MiniLLMError
    ├── ConfigurationError          local: a generator cannot be used as configured (e.g. no key)
    ├── InvalidParameterError       local: a bad argument (also a ValueError)
    ├── BudgetExceededError         local: the request could cost more than its budget has left
    ├── ProviderError               the provider or the way to it failed: another model may do better
    │   ├── APIError                the server answered with an error
    │   │   ├── BadRequestError     400, 404, 422
    │   │   ├── AuthenticationError 401, 403
    │   │   ├── RateLimitError      429 (``retry_after`` in seconds, when advertised)
    │   │   └── ServerError         5xx
    │   ├── APIConnectionError      the network failed before an answer arrived
    │   │   └── APITimeoutError     ...because a deadline passed
    │   ├── StreamError             a stream broke after it started (``partial_text``)
    │   └── MalformedResponseError  an answer that is not the wire's shape
    ├── ReplyRejectedError          the model answered, but minillm was asked to refuse what it said
    │   ├── EmptyResponseError      the model's text was blank (``crash_on_empty_response``)
    │   ├── NoJSONFoundError        no usable JSON in the text (``crash_on_refusal``)
    │   └── SchemaValidationError   the reply never matched the schema, re-asks included
    ├── JSONRepairError             the JSON could not be repaired
    ├── MaxRetriesExceededError     every attempt failed (``last_error``, also ``__cause__``)
    ├── FileAccessError             a file could not be read or written (the OS error is the cause)
    └── ThreadFormatError           a saved thread is not valid (also a ValueError)
        └── EmptyThreadError        ...because it has no messages

Messages say what happened and what to do; none ever carries a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "ConfigurationError",
    "EmptyResponseError",
    "EmptyThreadError",
    "FileAccessError",
    "InvalidParameterError",
    "JSONRepairError",
    "MalformedResponseError",
    "MaxRetriesExceededError",
    "MiniLLMError",
    "NoJSONFoundError",
    "ProviderError",
    "RateLimitError",
    "ReplyRejectedError",
    "SchemaValidationError",
    "ServerError",
    "StreamError",
    "ThreadFormatError",
]


class MiniLLMError(Exception):
    """The base of every error minillm raises."""


class ConfigurationError(MiniLLMError):
    """A generator or client cannot be used as configured (for example, no API key was found)."""


class InvalidParameterError(MiniLLMError, ValueError):
    """An argument is not acceptable: the caller's mistake, detected before anything is sent."""


class ProviderError(MiniLLMError):
    """The provider, or the network on the way to it, failed: catch it to try another model or provider."""


class ReplyRejectedError(MiniLLMError):
    """The provider answered, but the reply is not one minillm was asked to accept (blank, no JSON, off-schema)."""


class APIError(ProviderError):
    """The provider answered with an error status, or an error object in a successful body.

    ``retry_after`` is the wait in seconds the server advertised (``Retry-After``), when it did.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: object = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        text = f"API error ({status_code}): {message}"
        if request_id:
            text += f" [request id: {request_id}]"
        super().__init__(text)


class BadRequestError(APIError):
    """The provider refused the request as malformed (400, 404, 422). Retrying will not help."""


class AuthenticationError(APIError):
    """The provider refused the credential (401, 403). Check the API key or token."""


class RateLimitError(APIError):
    """The provider is rate limiting (429). ``retry_after`` holds its advertised wait in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: object = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, request_id=request_id, retry_after=retry_after)


class ServerError(APIError):
    """The provider failed on its side (5xx); usually worth retrying."""


class APIConnectionError(ProviderError):
    """The request did not get an answer: connection refused, reset, or a network failure."""


class APITimeoutError(APIConnectionError):
    """A deadline passed: connecting, waiting for the response, or between stream events."""


class StreamError(ProviderError):
    """A stream broke after it began. ``partial_text`` is the text received before the failure."""

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class MalformedResponseError(ProviderError):
    """The provider's answer does not have the shape its wire defines."""


class EmptyResponseError(ReplyRejectedError):
    """The model returned blank text and ``crash_on_empty_response`` asked for an error."""

    def __init__(self, message: str = "the model returned an empty response") -> None:
        super().__init__(message)


class NoJSONFoundError(ReplyRejectedError):
    """``crash_on_refusal`` was set and the text held no usable JSON. ``content`` is the text."""

    def __init__(self, content: str) -> None:
        shown = content if len(content) <= 200 else content[:200] + "..."
        super().__init__(f"the model returned no usable JSON: {shown!r}")
        self.content = content


class SchemaValidationError(ReplyRejectedError):
    """The reply still did not match the requested schema when the re-asks ran out.

    ``node`` is the last reply node (in the tree, so nothing is lost), ``raw`` its text, ``value`` the
    best-effort parse of that text (None when it held no JSON), ``errors`` the validation messages.
    """

    def __init__(self, message: str, *, node: Any, raw: str, value: object, errors: Sequence[str]) -> None:
        super().__init__(message)
        self.node = node
        self.raw = raw
        self.value = value
        self.errors = list(errors)


class BudgetExceededError(MiniLLMError):
    """A request was refused before it was sent: its cost (``estimate``) could exceed what ``budget`` has left."""

    def __init__(self, message: str, *, budget: Any, estimate: Any) -> None:
        super().__init__(message)
        self.budget = budget
        self.estimate = estimate


class JSONRepairError(MiniLLMError):
    """The text could not be repaired into JSON."""


class MaxRetriesExceededError(MiniLLMError):
    """Every attempt failed. ``last_error`` (also the ``__cause__``) is the final attempt's error."""

    def __init__(self, last_error: BaseException, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempt(s); the last error was: {last_error}")
        self.last_error = last_error
        self.attempts = attempts
        self.__cause__ = last_error


class FileAccessError(MiniLLMError):
    """A file (a saved thread, a media file) could not be read or written; ``__cause__`` is the OS error."""


class ThreadFormatError(MiniLLMError, ValueError):
    """A saved thread is not valid JSON or not in a thread format; the message says where."""


class EmptyThreadError(ThreadFormatError):
    """A thread (or message list) holds no messages, so there is no tree to build."""

    def __init__(self, message: str = "the thread has no messages; nothing to load") -> None:
        super().__init__(message)
