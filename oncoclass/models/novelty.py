"""Is this input unlike anything the model was trained on? A novelty score for every answer.

A classifier's top probability is a poor out-of-distribution detector: softmax models are often
*more* confident on inputs from classes they never saw (measured on CIViC: evidence of classes
added after the training release got a higher top probability than evidence of known classes).
Distances in the sentence-encoder or TF-IDF space did little better (AUROC 0.53-0.70 on that
temporal split, docs/benchmarks.md).

What works is outlier exposure (Hendrycks et al., ICLR 2019) with real data: CIViC's own rare
classes (fewer than ``min_support`` items; task label ``OTHER``) are evidence of kinds the
classifier does not predict. A logistic regression on the baseline's features learns "one of
the known classes" against "a rare kind of evidence", and its probability is the novelty score.
It has never seen the classes a later release adds, yet it ranks them far above new evidence of
the known classes (docs/benchmarks.md, the temporal benchmark).

The flag threshold is the 95th percentile of the scores of in-distribution validation samples,
so about 1 in 20 ordinary inputs is flagged: a warning to read the evidence, not an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.errors import DataError
from oncoclass.models.linear import FeatureSpace, LinearScorer

#: Share of ordinary (in-distribution) inputs the flag may fire on.
FALSE_ALARM_RATE = 0.05
FILE = "novelty"


class NoveltyDetector:
    """``fit(inliers, outliers, valid)``, then ``score(samples)`` in [0, 1] and ``threshold_``."""

    def __init__(self, *, C: float = 1.0, seed: int = 13, max_tokens: int = 400) -> None:
        self.C = C
        self.seed = seed
        self.max_tokens = max_tokens
        self.threshold_ = 0.5

    def fit(
        self,
        inliers: Sequence[Sample],
        outliers: Sequence[Sample],
        valid: Sequence[Sample] = (),
    ) -> NoveltyDetector:
        self.features_ = FeatureSpace(self.max_tokens)
        x = self.features_.fit_transform([*inliers, *outliers])
        y = np.r_[np.zeros(len(inliers), dtype=int), np.ones(len(outliers), dtype=int)]
        # Balanced: a few dozen outliers against thousands of inliers.
        self.scorer_ = LinearScorer.fit(x, y, C=self.C, class_weight="balanced", seed=self.seed)
        if valid:
            self.threshold_ = float(np.quantile(self.score(valid), 1 - FALSE_ALARM_RATE))
        return self

    def score(self, samples: Sequence[Sample]) -> np.ndarray:
        if not samples:
            return np.zeros(0)
        return np.exp(self.scorer_.log_proba(self.features_.transform(samples))[:, 1])

    def save(self, directory: Path) -> None:
        self.features_.save(directory, f"{FILE}-features")
        self.scorer_.save(directory, f"{FILE}-coefficients")
        config = {"C": self.C, "seed": self.seed, "max_tokens": self.max_tokens}
        (directory / f"{FILE}.json").write_text(
            json.dumps({**config, "threshold": self.threshold_})
        )

    @classmethod
    def load(cls, directory: Path) -> NoveltyDetector:
        try:
            state: dict[str, Any] = json.loads((directory / f"{FILE}.json").read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"unreadable novelty detector ({exc})", path=str(directory)) from exc
        detector = cls(C=state["C"], seed=state["seed"], max_tokens=state["max_tokens"])
        detector.threshold_ = float(state["threshold"])
        detector.features_ = FeatureSpace.load(directory, f"{FILE}-features")
        detector.scorer_ = LinearScorer.load(directory, f"{FILE}-coefficients")
        return detector

    @staticmethod
    def present(directory: Path) -> bool:
        return (directory / f"{FILE}.json").is_file()
