"""pytest fixtures for ``minillm.testing``; enable them with ``pytest_plugins = ["minillm.testing.pytest_plugin"]``
in your ``conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minillm.testing.server import MockLLMServer

__all__ = ["llm_server"]


@pytest.fixture
def llm_server() -> Iterator[MockLLMServer]:
    """A running ``MockLLMServer`` on a free loopback port, fresh for each test and stopped after it."""
    with MockLLMServer() as server:
        yield server
