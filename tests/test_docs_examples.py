"""Every Python example in README.md and docs/ runs, as written (the docs are part of the product)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[Path, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append((page, line, match.group(1)))
    return found


def test_pages_have_examples() -> None:
    pages = {page for page, _, _ in _examples()}
    assert ROOT / "README.md" in pages and len(pages) >= 2


@pytest.mark.parametrize(
    ("page", "line", "code"), _examples(), ids=lambda v: f"{v.relative_to(ROOT)}" if isinstance(v, Path) else None
)
def test_example_runs(page: Path, line: int, code: str) -> None:
    # Pad with blank lines so a traceback points at the right line of the page.
    source = "\n" * (line - 1) + code
    exec(compile(source, str(page), "exec"), {"__name__": "docs_example"})


def test_examples_fit_the_content_column() -> None:
    """The docs theme is widened for 120-character lines (docs/stylesheets/wide-code.css); a longer line would
    scroll sideways and hide its trailing comment."""
    long = [
        f"{page.relative_to(ROOT)}:{line + i}"
        for page, line, code in _examples()
        for i, text in enumerate(code.splitlines())
        if len(text) > 120
    ]
    assert not long, f"example lines over 120 characters: {long}"
