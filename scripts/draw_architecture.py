"""Draw ``docs/architecture.svg``: one completion's path through minillm's modules.

The picture is data (the steps below) plus a few lines of layout, so it changes with a diff like code. Each
step is coloured by its layer: the sans-IO core, a provider's wire (also core), or the transport (I/O).

    python scripts/draw_architecture.py          # write docs/architecture.svg
    python scripts/draw_architecture.py --check  # exit 1 when docs/architecture.svg is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "architecture.svg"

# layer: (fill, stroke, legend)
LAYERS = {
    "core": ("#e8f1fb", "#3b6ea5", "core: sans-IO, no sockets, no sleeping"),
    "wire": ("#fdf1e2", "#b7791f", "core/providers: one module per wire"),
    "io": ("#eaf6ec", "#2f7d43", "transport: httpx, sleeps, retries run here"),
}

# (layer, what, where): down the left column, the request goes out; up the right one, the answer comes back.
OUT = [
    ("core", "ChatNode.complete(generator, params)", "core/tree.py"),
    ("core", "seam: client= or the default client", "core/seam.py"),
    ("io", "SyncClient.complete / AsyncClient.acomplete", "transport/sync_client.py, async_client.py"),
    ("core", "CompletionCall: prompt, params, retry policy", "core/flow.py"),
    ("wire", "provider.build_body(WireRequest)", "core/providers/<wire>.py"),
    ("core", "HTTPRequest: method, URL, headers, JSON", "core/http.py"),
    ("io", "httpx sends it; a failure may be retried", "transport + core/retry.py"),
]
BACK = [
    ("io", "status, headers and body bytes come back", "transport"),
    ("core", "a stream: StreamParser.feed(bytes)", "core/stream.py"),
    ("core", "a stream: SSEDecoder, bytes to events", "core/sse.py"),
    ("wire", "provider.parse_stream_event / parse_response", "core/providers/<wire>.py"),
    ("core", "StreamAccumulator: chunks to a response", "core/stream.py, core/response.py"),
    ("core", "CompletionCall.accept: post-process the text", "core/flow.py (a stream: append_response)"),
    ("core", "the new assistant ChatNode", "core/tree.py"),
]

BOX_W, BOX_H, GAP = 380, 46, 18
LEFT_X, RIGHT_X, TOP = 20, 460, 56
WIDTH = RIGHT_X + BOX_W + 20


def _box(x: int, y: int, layer: str, what: str, where: str) -> list[str]:
    fill, stroke, _ = LAYERS[layer]
    return [
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{stroke}"/>',
        f'<text x="{x + 12}" y="{y + 20}" class="what">{escape(what)}</text>',
        f'<text x="{x + 12}" y="{y + 37}" class="where">{escape(where)}</text>',
    ]


def _arrow(x1: int, y1: int, x2: int, y2: int) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="flow" marker-end="url(#head)"/>'


def draw() -> str:
    """The SVG text."""
    rows = max(len(OUT), len(BACK))
    height = TOP + rows * (BOX_H + GAP) + 20 + 24 * len(LAYERS)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="One completion through minillm\'s modules">',
        "<style>",
        "text { font-family: ui-sans-serif, system-ui, sans-serif; fill: #1f2933; }",
        ".what { font-size: 14px; }",
        ".where { font-size: 12px; fill: #52606d; font-family: ui-monospace, monospace; }",
        ".title { font-size: 15px; font-weight: 600; }",
        ".flow { stroke: #52606d; stroke-width: 1.5; fill: none; }",
        "</style>",
        '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#52606d"/></marker></defs>',
        f'<text x="{LEFT_X}" y="{TOP - 20}" class="title">the request goes out</text>',
        f'<text x="{RIGHT_X}" y="{TOP - 20}" class="title">the answer comes back</text>',
    ]
    for i, (layer, what, where) in enumerate(OUT):
        y = TOP + i * (BOX_H + GAP)
        out += _box(LEFT_X, y, layer, what, where)
        if i:
            out.append(_arrow(LEFT_X + BOX_W // 2, y - GAP, LEFT_X + BOX_W // 2, y))
    # BACK is drawn bottom-up, so the answer climbs the right column back to the tree.
    last = TOP + (len(OUT) - 1) * (BOX_H + GAP)
    for i, (layer, what, where) in enumerate(BACK):
        y = last - i * (BOX_H + GAP)
        out += _box(RIGHT_X, y, layer, what, where)
        if i:
            out.append(_arrow(RIGHT_X + BOX_W // 2, y + BOX_H + GAP, RIGHT_X + BOX_W // 2, y + BOX_H))
    out.append(_arrow(LEFT_X + BOX_W, last + BOX_H // 2, RIGHT_X, last + BOX_H // 2))
    legend_y = TOP + rows * (BOX_H + GAP) + 4
    for i, (fill, stroke, label) in enumerate(LAYERS.values()):
        y = legend_y + i * 24
        out.append(f'<rect x="{LEFT_X}" y="{y}" width="16" height="16" rx="3" fill="{fill}" stroke="{stroke}"/>')
        out.append(f'<text x="{LEFT_X + 24}" y="{y + 13}" class="where">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed SVG is out of date")
    args = parser.parse_args(argv)
    svg = draw()
    if args.check:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != svg:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python scripts/draw_architecture.py")
            return 1
        return 0
    TARGET.write_text(svg, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
