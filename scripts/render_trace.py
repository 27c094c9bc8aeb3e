"""Render one trace from a HEADWATER_TRACE_FILE (JSON lines) as an SVG timeline.

Usage: uv run python scripts/render_trace.py api.jsonl worker.jsonl --run-id <uuid> > trace.svg
Each span is a bar on its own row, indented by depth, coloured by service.
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from typing import Any

COLOURS = {"headwater-api": "#4c78a8", "headwater-worker": "#f58518", "headwater-dev": "#54a24b"}
ROW, LEFT, WIDTH = 26, 330, 760


def load(paths: list[str]) -> list[dict[str, Any]]:
    spans = []
    for path in paths:
        with open(path, encoding="utf-8") as lines:
            spans += [json.loads(line) for line in lines if line.strip()]
    return spans


def pick_trace(spans: list[dict[str, Any]], run_id: str | None) -> list[dict[str, Any]]:
    if run_id:
        trace_ids = {
            s["trace_id"] for s in spans if s["attributes"].get("headwater.run_id") == run_id
        }
    else:
        trace_ids = {spans[-1]["trace_id"]}
    return [s for s in spans if s["trace_id"] in trace_ids]


def ordered(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        parent = span["parent_id"] if span["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(span)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in sorted(by_parent.get(parent, []), key=lambda s: s["start_ns"]):
            out.append((depth, span))
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return out


def render(spans: list[dict[str, Any]]) -> str:
    rows = ordered(spans)
    start = min(s["start_ns"] for s in spans)
    end = max(s["end_ns"] for s in spans)
    scale = WIDTH / max(end - start, 1)
    height = ROW * (len(rows) + 2) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 90}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="100%" height="100%" fill="white"/><text x="8" y="18" font-weight="bold">One run, one trace ({(end - start) / 1e6:.1f} ms)</text>',
    ]
    for ms in range(0, int((end - start) / 1e6) + 1, max(1, int((end - start) / 1e6 / 8))):
        x = LEFT + ms * 1e6 * scale
        out.append(
            f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{height - 20}" stroke="#eee"/><text x="{x:.1f}" y="{height - 6}" fill="#888">{ms} ms</text>'
        )
    for i, (depth, span) in enumerate(rows):
        y = 34 + i * ROW
        x = LEFT + (span["start_ns"] - start) * scale
        w = max((span["end_ns"] - span["start_ns"]) * scale, 1.5)
        colour = COLOURS.get(span.get("service") or "", "#72b7b2")
        label = escape(f"{span['name']} ({span['kind'].lower()})")
        out.append(f'<text x="{8 + depth * 14}" y="{y + 15}">{label}</text>')
        out.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 8}" rx="3" fill="{colour}"/>'
        )
        out.append(
            f'<text x="{x + w + 4:.1f}" y="{y + 15}" fill="#444">{(span["end_ns"] - span["start_ns"]) / 1e6:.1f} ms</text>'
        )
    legend_y = 34 + len(rows) * ROW + 4
    for j, (service, colour) in enumerate(COLOURS.items()):
        out.append(
            f'<rect x="{8 + j * 170}" y="{legend_y}" width="12" height="12" fill="{colour}"/><text x="{24 + j * 170}" y="{legend_y + 11}">{service}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+")
    parser.add_argument("--run-id")
    args = parser.parse_args()
    spans = pick_trace(load(args.files), args.run_id)
    if not spans:
        sys.exit("no spans for that run")
    sys.stdout.write(render(spans))


if __name__ == "__main__":
    main()
