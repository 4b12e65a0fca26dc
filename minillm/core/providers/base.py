"""What every provider wire offers; the wires themselves live in the sibling modules.

A provider turns normalized requests into its wire's HTTP shape and parses the answers back. This module
holds the protocol they share and small helpers; it does no I/O.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Provider", "join_url"]


@runtime_checkable
class Provider(Protocol):
    """A provider wire: its name and where its completions endpoint is."""

    @property
    def name(self) -> str:
        """A short lower-case identifier of the wire, e.g. ``"openai"``."""
        ...

    def completions_url(self, base_url: str) -> str:
        """The completions endpoint under ``base_url`` (a trailing ``/`` on ``base_url`` is ignored)."""
        ...


def join_url(base_url: str, path: str) -> str:
    """``base_url`` without trailing slashes, then ``path`` (which starts with ``/``)."""
    return base_url.rstrip("/") + path
