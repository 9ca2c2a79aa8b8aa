"""The default ensemble with its `encoder` member on the static back-end, on the full
`quality-civic` protocol (the same selection split, grouped folds, seeds and tracks), to set
beside the int8 default's rows of the same commit's benchmarks/results/quality-civic.json.

    python docs/experiments/static-default/run.py OUT.json [TRACKS] [SEEDS]

Writes OUT.json after every (track, seed): a stopped run keeps what it measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.harness import ModelSpec, cv_splits, evaluate, provenance, with_track
from benchmarks.quality import _shared, selection_split
from benchmarks.speed import _backend_params
from oncoclass.data import load_civic
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE

METRICS = ("log_loss", "accuracy", "macro_f1", "ece")


def main(out: Path, tracks: list[str], seeds: list[int]) -> None:
    samples = load_civic(_shared("civic_2024"), min_support=30, rare="merge")
    rest, _ = selection_split(samples)
    spec = ModelSpec("ensemble", _backend_params("ensemble", "static"))
    rows = []
    for track in tracks:
        for seed in seeds:
            splits = cv_splits(with_track(rest, track), 5, seed)
            for r in evaluate(spec, splits, CLINICAL_SIGNIFICANCE, seed, track=track):
                row = {"model": r.model, "track": track, "seed": seed}
                row |= {m: float(getattr(r.metrics, m)) for m in METRICS}
                rows.append(row)
                print(json.dumps(row), flush=True)
            payload = {"machine": provenance(), "params": spec.params, "rows": rows}
            out.write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main(
        Path(sys.argv[1]),
        (sys.argv[2] if len(sys.argv) > 2 else "context,text").split(","),
        [int(s) for s in (sys.argv[3] if len(sys.argv) > 3 else "13,14,15").split(",")],
    )
