"""The static ensemble's rows (run.py's JSON) beside the int8 default's rows of the same
commit's quality-civic run: per (track, seed), and the mean difference per track.

    python docs/experiments/static-default/compare.py results.json \
        benchmarks/results/quality-civic.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

METRICS = ("log_loss", "macro_f1", "ece")


def main(static_path: Path, quality_path: Path) -> None:
    static = json.loads(static_path.read_text())["rows"]
    quality = json.loads(quality_path.read_text())["results"]
    int8 = {(r["track"], r["seed"]): r["metrics"] for r in quality if r["model"] == "ensemble"}
    diffs: dict[str, list[float]] = defaultdict(list)
    print(
        "| track | seed | log loss int8 / static | Δ | macro-F1 int8 / static | ECE int8 / static |"
    )
    print("|:---|---:|---:|---:|---:|---:|")
    for row in static:
        if row["model"] != "ensemble":
            continue
        key = (row["track"], row["seed"])
        ref = int8[key]
        delta = row["log_loss"] - ref["log_loss"]
        diffs[row["track"]].append(delta)
        print(
            f"| {key[0]} | {key[1]} | {ref['log_loss']:.4f} / {row['log_loss']:.4f} | "
            f"{delta:+.4f} | {ref['macro_f1']:.3f} / {row['macro_f1']:.3f} | "
            f"{ref['ece']:.3f} / {row['ece']:.3f} |"
        )
    for track, d in diffs.items():
        print(f"\n{track}: mean Δ log loss {sum(d) / len(d):+.4f} over {len(d)} seed(s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
