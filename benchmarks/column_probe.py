"""The loop of a feature experiment on the `baseline`'s columns (docs/experiments/*/run.py).

An experiment patches ``oncoclass.models.linear._columns`` (the `baseline`'s feature columns,
which the ensemble's `baseline` member and the novelty detector read too) in its own process,
and scores each variant on the ``quality-civic`` protocol: the same selection split held out,
5 folds grouped by paper, one row per seed, track and variant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.harness import ModelSpec, cv_splits, evaluate, with_track
from benchmarks.quality import _shared, selection_split
from oncoclass.data import load_civic
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE
from oncoclass.models import linear

Columns = Callable[..., dict[str, list[Any]]]


def compare(
    variants: Mapping[str, Columns],
    seeds: Sequence[int],
    track: str = "context",
    model: str = "baseline",
) -> None:
    """Print log loss, macro-F1, accuracy and ECE of ``model`` with each variant's columns."""
    plain = linear._columns
    samples = load_civic(_shared("civic_2024"), min_support=30, rare="merge")
    rest, _ = selection_split(samples)
    print("seed | track | features | log loss | macro-F1 | accuracy | ECE")
    try:
        for seed in seeds:
            splits = cv_splits(with_track(rest, track), 5, seed)
            for label, columns in variants.items():
                linear._columns = columns
                (result,) = evaluate(
                    ModelSpec(model), splits, CLINICAL_SIGNIFICANCE, seed, track=track
                )[:1]  # an ensemble's own row (its members' rows follow it)
                m = result.metrics.summary()
                print(
                    f"{seed} | {track} | {model} {label} | {m['log_loss']:.4f} | "
                    f"{m['macro_f1']:.4f} | {m['accuracy']:.4f} | {m['ece']:.4f}",
                    flush=True,
                )
    finally:
        linear._columns = plain
