"""The peer suite's fixtures: a LiteLLM proxy with mock models, started once per session.

The proxy is found through ``MINILLM_LITELLM`` (the path of its ``litellm`` executable) or ``litellm`` on
``PATH``; without it, every peer test is skipped, saying so. It listens on a free loopback port with a random
master key, reads no remote price list (``LITELLM_LOCAL_MODEL_COST_MAP``), and is stopped by its PID at the
end of the session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from tests.peers.relay import CountingRelay

_STARTUP_SECONDS = 180  # the proxy imports a lot; on a busy 2-core machine it took half a minute

CONFIG = """\
model_list:
  - model_name: mock-text
    litellm_params:
      model: openai/mock-text
      api_key: sk-not-used
      mock_response: "Hello from the LiteLLM mock model."
  - model_name: mock-tool
    litellm_params:
      model: openai/mock-tool
      api_key: sk-not-used
      mock_response: ""
      mock_tool_calls:
        - id: call_peer_1
          type: function
          function: {name: get_weather, arguments: '{"city": "Paris"}'}
  - model_name: mock-429
    litellm_params:
      model: openai/mock-429
      api_key: sk-not-used
      mock_response: litellm.RateLimitError
  - model_name: mock-500
    litellm_params:
      model: openai/mock-500
      api_key: sk-not-used
      mock_response: litellm.InternalServerError
  - model_name: mock-slow
    litellm_params:
      model: openai/mock-slow
      api_key: sk-not-used
      mock_response: "Slow but sure."
      mock_delay: 5
litellm_settings:
  num_retries: 0
  request_timeout: 60
router_settings:
  num_retries: 0
"""


@attrs.frozen
class Proxy:
    """A running LiteLLM proxy: where it listens and the key it wants."""

    port: int
    key: str = attrs.field(repr=False)


def _litellm() -> str | None:
    configured = os.environ.get("MINILLM_LITELLM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("litellm")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="session")
def litellm_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    exe = _litellm()
    if exe is None:
        pytest.skip(
            "no LiteLLM proxy: install it in a venv of its own (python -m venv v && v/bin/pip install "
            "'litellm[proxy]') and set MINILLM_LITELLM=v/bin/litellm, or put litellm on PATH"
        )
    directory = tmp_path_factory.mktemp("litellm")
    config = directory / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    port, key = _free_port(), "sk-peer-" + secrets.token_hex(24)
    env = {**os.environ, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    log_path = directory / "proxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [exe, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    try:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not _alive(port):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"the LiteLLM proxy did not start (exit code {process.poll()}); its log ends:\n{tail}")
            time.sleep(0.5)
        yield Proxy(port, key)
    finally:
        process.terminate()  # by its PID: only the process this fixture started
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def relay(litellm_proxy: Proxy) -> Iterator[CountingRelay]:
    """A counting relay in front of the proxy, fresh for each test."""
    r = CountingRelay(litellm_proxy.port)
    yield r
    r.close()
