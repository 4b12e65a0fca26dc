"""What ``import minillm`` loads, and that its lazily loaded names behave like eager imports.

``minillm/__init__.py`` loads each public name on first use (PEP 562), so these tests check, in fresh
interpreters, which modules a program gets for what it imports: never the time it takes (``bench/`` does).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import minillm

# Only some programs need these: the network (httpx), async code (asyncio), a retry (tenacity), saving or
# loading a thread (cattrs), repairing JSON (json_repair) and reading a ``.env`` file (dotenv).
_ON_DEMAND = ("httpx", "asyncio", "tenacity", "cattrs", "json_repair", "dotenv")


def _loaded_after(code: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` are in ``sys.modules`` after a fresh interpreter runs ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {candidates!r} if m in sys.modules]))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_the_package_loads_nothing_heavy() -> None:
    extra = ("minillm.core.tree", "minillm.transport", "attrs")
    assert _loaded_after("import minillm", _ON_DEMAND + extra) == []


def test_an_error_class_costs_no_more() -> None:
    code = "import minillm\ntry:\n    raise minillm.RateLimitError('slow down')\nexcept minillm.APIError:\n    pass"
    assert _loaded_after(code, _ON_DEMAND) == []


def test_a_blocking_program_loads_httpx_but_not_the_async_or_optional_parts() -> None:
    code = "from minillm import ChatNode, GeneratorInfo, SyncClient\nSyncClient()"
    wanted = ("httpx", "minillm.core.tree", "minillm.core.generator", "minillm.transport.sync_client")
    optional = ("asyncio", "tenacity", "cattrs", "json_repair", "dotenv", "minillm.transport.async_client")
    assert _loaded_after(code, wanted + optional) == list(wanted)


def test_building_a_tree_offline_loads_no_transport() -> None:
    code = "from minillm import ChatNode\nChatNode.root('Be brief.').add_user('Hi').merged_thread()"
    assert _loaded_after(code, ("httpx", "minillm.transport", "cattrs")) == []


def test_every_public_name_resolves_to_its_home_modules_object() -> None:
    homes = {name: module for module, names in minillm._EXPORTS.items() for name in names}
    assert sorted(homes) == sorted(minillm.__all__)  # a new public name needs its line in _EXPORTS
    assert len(set(minillm.__all__)) == len(minillm.__all__)
    for name in minillm.__all__:
        assert getattr(minillm, name) is getattr(importlib.import_module(homes[name]), name), name


def test_a_loaded_name_is_kept_in_the_namespace() -> None:
    value = minillm.Usage
    assert vars(minillm)["Usage"] is value


def test_dir_lists_the_public_names_before_they_are_loaded() -> None:
    code = "import json, minillm\nprint(json.dumps(sorted(set(minillm.__all__) - set(dir(minillm)))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
    assert set(minillm.__all__) <= set(dir(minillm))
    assert dir(minillm) == sorted(dir(minillm))


def test_an_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'minillm' has no attribute 'NoSuchThing'"):
        _ = minillm.NoSuchThing  # type: ignore[attr-defined]
    assert not hasattr(minillm, "chatnode")
    with pytest.raises(ImportError, match="NoSuchThing"):
        exec("from minillm import NoSuchThing", {})


def test_star_import_brings_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from minillm import *", namespace)
    assert set(minillm.__all__) <= set(namespace)
    assert namespace["ChatNode"] is minillm.ChatNode
    assert namespace["MiniLLMError"] is minillm.MiniLLMError


def test_a_completion_without_client_works_after_importing_only_the_tree() -> None:
    code = (
        "import json, sys\n"
        "from minillm import ChatNode, GeneratorInfo\n"
        "from minillm.testing import MockLLMServer, Reply\n"
        "loaded_before = 'minillm.transport' in sys.modules\n"
        "with MockLLMServer() as server:\n"
        "    gen = GeneratorInfo.openai('gpt-4o-mini').with_api_key('test').with_base_url(server.openai_base_url)\n"
        "    server.enqueue(Reply.text('Paris.'))\n"
        "    reply = ChatNode.user('Capital of France?').complete(gen)\n"
        "    sent = server.requests[0].json['messages']\n"
        "print(json.dumps([loaded_before, reply.text, sent]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    loaded_before, text, sent = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded_before is False  # the default client came from the seam loading the transport on demand
    assert text == "Paris."
    assert sent == [{"role": "user", "content": "Capital of France?"}]


def test_an_async_completion_without_client_works_after_importing_only_the_tree() -> None:
    code = (
        "import asyncio, json\n"
        "from minillm import ChatNode, GeneratorInfo\n"
        "from minillm.testing import MockLLMServer\n"
        "async def main(url):\n"
        "    gen = GeneratorInfo.openai('gpt-4o-mini').with_api_key('test').with_base_url(url)\n"
        "    return (await ChatNode.user('Hello!').acomplete(gen)).text\n"
        "with MockLLMServer() as server:\n"
        "    print(json.dumps(asyncio.run(main(server.openai_base_url))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "Echo: Hello!"


def test_httpx2_is_never_imported_for_an_httpx_client() -> None:
    assert _loaded_after("import minillm\nminillm.SyncClient()\nminillm.AsyncClient()", ("httpx2",)) == []


def test_what_only_some_paths_need_is_not_loaded_with_minillm() -> None:
    candidates = ("json_repair", "tenacity", "cattrs", "dotenv", "minillm.testing")
    assert _loaded_after("import minillm\nminillm.SyncClient()", candidates) == []
