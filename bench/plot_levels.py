"""Draw tokens/s and TTFT against concurrency, one line per mode, from a stream_bench JSON.

    uv run --group bench python bench/plot_levels.py bench/results/stream_bench.json \
        -o docs/benchmarks-levels.svg

The input is what ``bench/stream_bench.py --out`` writes. Modes measured several times in the
run (``--compare`` adds ``<mode>@<ref>``) are drawn each as its own line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen: files only
import matplotlib.pyplot as plt  # after the backend is chosen


def levels_by_mode(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each mode's levels in order of concurrency (a mode seen twice: its last result)."""
    return {
        r["mode"]: sorted(r["levels"], key=lambda level: level["concurrency"])
        for r in results
        if r.get("levels")
    }


def plot(data: dict[str, Any], out: Path, title: str) -> None:
    """Two panels side by side: aggregate tokens/s, TTFT p50 (log scale), per concurrency."""
    by_mode = levels_by_mode(data["results"])
    if not by_mode:
        raise SystemExit("no levels in the input: run stream_bench.py with --levels")
    figure, (rate, ttft) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for mode, levels in by_mode.items():
        concurrency = [level["concurrency"] for level in levels]
        style = "--" if "@" in mode else "-"
        for axis, key in ((rate, "aggregate_tokens_per_s"), (ttft, "ttft_p50_ms")):
            axis.plot(concurrency, [level[key] for level in levels], style, marker="o", label=mode)
    rate.set(xscale="log", xlabel="concurrent runs", ylabel="tokens/s (all runs)")
    rate.set_title("throughput")
    ttft.set(xscale="log", yscale="log", xlabel="concurrent runs", ylabel="TTFT p50 (ms)")
    ttft.set_title("time to first token")
    measured = sorted({level["concurrency"] for levels in by_mode.values() for level in levels})
    for axis in (rate, ttft):
        axis.set_xticks(measured, [str(c) for c in measured])
        axis.minorticks_off()
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(title)
    figure.savefig(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("results", type=Path, help="stream_bench.py --out JSON")
    parser.add_argument("-o", "--output", type=Path, required=True, help=".svg or .png")
    parser.add_argument("--title", default="Headwater beside the in-process graph")
    args = parser.parse_args()
    plot(json.loads(args.results.read_text()), args.output, args.title)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
