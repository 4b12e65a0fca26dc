"""pytest fixtures for ``minillm.testing``; enable them with ``pytest_plugins = ["minillm.testing.pytest_plugin"]``
in your ``conftest.py``.

- ``llm_server``: a fresh ``MockLLMServer`` for each test.
- ``llm_server_session``: one server for the whole session (cheaper; call ``reset()`` where a test needs a
  clean queue and request log).
- ``llm_cassettes``: generators and vcrpy cassettes for tests of your own app, in the mode chosen with
  ``--llm-record`` (none: replay; ``local``: record against the local server; ``live``: against the real
  API). Cassettes live in ``cassettes/<test module>/`` beside the test file, or under the ``llm_cassette_dir``
  ini option.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from minillm.testing.cassettes import CassetteMode, LLMCassettes
from minillm.testing.server import MockLLMServer

__all__ = ["llm_cassettes", "llm_server", "llm_server_session"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("minillm")
    group.addoption(
        "--llm-record",
        choices=["local", "live"],
        default=None,
        help="record the llm_cassettes cassettes: 'local' against minillm's local server and its scripted "
        "replies, 'live' against the real provider (needs its key). Without it cassettes are replayed offline.",
    )
    parser.addini("llm_cassette_dir", "where llm_cassettes keeps cassettes (default: cassettes/ beside each test)")


@pytest.fixture
def llm_server() -> Iterator[MockLLMServer]:
    """A running ``MockLLMServer`` on a free loopback port, fresh for each test and stopped after it."""
    with MockLLMServer() as server:
        yield server


@pytest.fixture(scope="session")
def llm_server_session() -> Iterator[MockLLMServer]:
    """One running ``MockLLMServer`` shared by the whole session."""
    with MockLLMServer() as server:
        yield server


@pytest.fixture
def llm_cassettes(request: pytest.FixtureRequest) -> Iterator[LLMCassettes]:
    """Generators and cassettes for this test: ``gen = llm_cassettes.generator("openai", "gpt-4o-mini")``,
    then ``with llm_cassettes.use("name"): ...``."""
    chosen = request.config.getoption("--llm-record")
    mode = CassetteMode(chosen) if chosen else CassetteMode.REPLAY
    configured = request.config.getini("llm_cassette_dir")
    base = Path(str(request.config.rootpath)) / configured if configured else request.path.parent / "cassettes"
    directory = base / request.path.stem
    if mode is CassetteMode.LOCAL:
        with MockLLMServer() as server:
            yield LLMCassettes(mode, directory, server, skip=pytest.skip)
    else:
        yield LLMCassettes(mode, directory, skip=pytest.skip)
