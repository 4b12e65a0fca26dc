"""Settings that could only fail later are refused where they are given: a generator without a usable model,
a client with no connections, a timeout that is not a number, an event bound that is not a size. Each is an
``InvalidParameterError`` naming the setting, raised by the constructor (both clients share one check).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest

from minillm import AsyncClient, GeneratorInfo, InvalidParameterError, SyncClient

PRESETS = {
    "openrouter": GeneratorInfo.openrouter,
    "openai": GeneratorInfo.openai,
    "anthropic": GeneratorInfo.anthropic,
    "claude_subscription": GeneratorInfo.claude_subscription,
}
BAD_MODELS = [None, "", "   ", 5, b"gpt-4o", ["gpt-4o"]]


@pytest.mark.parametrize("model", BAD_MODELS, ids=repr)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_without_a_usable_model_is_refused(preset: str, model: Any) -> None:
    with pytest.raises(InvalidParameterError, match="the model must be a non-empty string"):
        PRESETS[preset](model)


@pytest.mark.parametrize("model", BAD_MODELS, ids=repr)
def test_every_other_way_to_set_the_model_is_checked_too(model: Any) -> None:
    with pytest.raises(InvalidParameterError, match="model"):
        GeneratorInfo.custom("local", "http://127.0.0.1:8000/v1", model)
    with pytest.raises(InvalidParameterError, match="model"):
        GeneratorInfo("local", "http://127.0.0.1:8000/v1", model)
    with pytest.raises(InvalidParameterError, match="model"):
        GeneratorInfo.openai("gpt-4o").with_model(model)


def test_a_generator_name_must_be_a_string() -> None:
    with pytest.raises(InvalidParameterError, match="name"):
        GeneratorInfo(None, "http://127.0.0.1:8000/v1", "m")  # type: ignore[arg-type]


CLIENTS = {"sync": SyncClient, "async": AsyncClient}


@pytest.mark.parametrize("world", sorted(CLIENTS))
@pytest.mark.parametrize("count", [0, -1, True, 2.5, "3", None])
def test_a_client_without_a_connection_is_refused(world: str, count: Any) -> None:
    with pytest.raises(InvalidParameterError, match="max_connections must be an integer of at least 1"):
        CLIENTS[world](max_connections=count)


@pytest.mark.parametrize("world", sorted(CLIENTS))
@pytest.mark.parametrize("timeout", ["x", "10", 0, -1, math.nan, math.inf, True, [5]], ids=repr)
def test_a_timeout_that_is_not_a_positive_number_is_refused(world: str, timeout: Any) -> None:
    with pytest.raises(InvalidParameterError, match="timeout must be"):
        CLIENTS[world](timeout=timeout)


@pytest.mark.parametrize("world", sorted(CLIENTS))
@pytest.mark.parametrize("size", [0, -5, 1.5, "16MiB", None, False])
def test_max_event_bytes_that_is_not_a_size_is_refused(world: str, size: Any) -> None:
    with pytest.raises(InvalidParameterError, match="max_event_bytes must be an integer of at least 1"):
        CLIENTS[world](max_event_bytes=size)


@pytest.mark.parametrize("world", sorted(CLIENTS))
def test_good_settings_are_taken(world: str) -> None:
    for options in (
        {"timeout": 2.5, "max_connections": 1, "max_event_bytes": 1},
        {"timeout": 3},
        {"timeout": httpx.Timeout(5.0, connect=1.0)},
        {"timeout": httpx.Timeout(None)},
        {},
    ):
        client = CLIENTS[world](**options)
        assert client._max_event_bytes == options.get("max_event_bytes", 16 * 1024 * 1024)
        if isinstance(client, SyncClient):
            client.close()
        else:
            asyncio.run(client.aclose())
