"""mkdocs hook: draws the picture of a branched tree on the "Conversation trees" page from the library's own
``ChatNode.show_tree()``, so the picture can never drift from what the code prints.

The SVG is added to the site as ``img/branched-tree.svg`` while the site builds; nothing is written to docs/.
"""

from __future__ import annotations

from html import escape
from typing import Any

from mkdocs.structure.files import File, Files

from minillm import ChatNode

PICTURE = "img/branched-tree.svg"
_CHAR_W, _LINE_H, _PAD = 8.4, 22, 16
_COLOURS = {"system": "#6a737d", "user": "#0b5cad", "assistant": "#1a7f37", "tool": "#8250df"}


def sample_tree() -> ChatNode:
    """The tree the picture shows: a question answered twice, and a follow-up on the second answer."""
    root = ChatNode.root("You are a travel guide.")
    question = root.add_user("Suggest a city for a weekend.")
    question.add_assistant("Lisbon: trams, custard tarts and the sea.")
    kyoto = question.add_assistant("Kyoto: temples and gardens.")
    follow_up = kyoto.add_user("What should I eat there?")
    follow_up.add_assistant("Try kaiseki, and tofu in Nanzen-ji.")
    follow_up.add_assistant("Matcha sweets in Gion.")
    return follow_up


def tree_svg(node: ChatNode) -> str:
    """``node.show_tree()`` drawn as an SVG: rails in grey, each role in its colour, the marked line shaded."""
    lines = node.show_tree().splitlines()
    width = int(max(len(line) for line in lines) * _CHAR_W + 2 * _PAD)
    height = len(lines) * _LINE_H + 2 * _PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
        f'<rect width="{width}" height="{height}" rx="8" fill="#f6f8fa"/>',
    ]
    for i, line in enumerate(lines):
        y = _PAD + i * _LINE_H
        rail_end = len(line) - len(line.lstrip(" │├└─"))
        rails, text = line[:rail_end], line[rail_end:]
        role = text.split(":", 1)[0]
        if text.endswith("◀ here"):
            out.append(f'<rect x="{_PAD - 4}" y="{y}" width="{width - 2 * _PAD + 8}" height="{_LINE_H}" '
                       'rx="4" fill="#fff8c5"/>')
        baseline = y + _LINE_H - 6
        out.append(
            f'<text x="{_PAD}" y="{baseline}" xml:space="preserve"><tspan fill="#8c959f">{escape(rails)}</tspan>'
            f'<tspan fill="{_COLOURS.get(role, "#24292f")}" font-weight="bold">{escape(role)}</tspan>'
            f'<tspan fill="#24292f">{escape(text[len(role):])}</tspan></text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def on_files(files: Files, config: Any) -> Files:
    files.append(File.generated(config, PICTURE, content=tree_svg(sample_tree())))
    return files
