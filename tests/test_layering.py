"""The core stays sans-IO: nothing under minillm/core imports a transport, a loop, a socket or a thread."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "minillm" / "core"
FORBIDDEN = {"httpx", "httpx2", "asyncio", "anyio", "socket", "threading", "tenacity", "requests", "minillm.transport",
             "minillm.testing"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_io() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 5
    offenders = {
        str(f.relative_to(CORE)): sorted(n for n in _imports(f) if n.split(".")[0] in FORBIDDEN or n in FORBIDDEN)
        for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_never_sleeps() -> None:
    hits = [str(f) for f in CORE.rglob("*.py") if "sleep(" in f.read_text(encoding="utf-8")]
    assert hits == []
