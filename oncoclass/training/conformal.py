"""Prediction sets with a stated coverage: split-conformal classification (crepes).

A calibrated probability says how likely the top class is; a clinician also wants to know which
classes cannot be ruled out. Split-conformal prediction answers that with a guarantee that
does not depend on the model being right: calibrated on held-out (grouped) data, the set
contains the true class for at least ``coverage`` of new inputs drawn like the calibration data
(Vovk et al.; Angelopoulos & Bates, 2021).

The non-conformity score is ``1 - p(class)`` ("LAC", the smallest sets on average); p-values are
computed by crepes without smoothing, so the same probabilities always give the same set. A set
is never empty: the top class is always in it (which can only raise the coverage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from crepes import ConformalClassifier

DEFAULT_COVERAGE = 0.9


@dataclass
class ConformalSets:
    """``fit(proba, y)`` on held-out calibrated probabilities, then ``predict(proba)``."""

    coverage: float = DEFAULT_COVERAGE
    #: Non-conformity scores of the calibration samples (what crepes needs to rebuild).
    alphas_: list[float] = field(default_factory=list)
    #: Where the calibration data came from ("validation", "cross-validation", ...).
    source_: str = ""
    _classifier: ConformalClassifier | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def fitted(self) -> bool:
        return bool(self.alphas_)

    def fit(self, proba: np.ndarray, y: np.ndarray, source: str) -> ConformalSets:
        proba = np.asarray(proba, dtype=float)
        self.alphas_ = (1.0 - proba[np.arange(len(y)), np.asarray(y)]).round(8).tolist()
        self.source_ = source
        self._classifier = None
        return self

    def predict(self, proba: np.ndarray) -> np.ndarray:
        """A boolean matrix (n, k): class j is in sample i's set. Unfitted: the top class."""
        proba = np.asarray(proba, dtype=float)
        top = np.zeros(proba.shape, dtype=bool)
        top[np.arange(len(proba)), proba.argmax(axis=1)] = True
        if not self.fitted or not len(proba):
            return top
        if self._classifier is None:  # sorting the calibration scores once, not per call
            self._classifier = ConformalClassifier().fit(np.asarray(self.alphas_))
        sets = self._classifier.predict_set(1.0 - proba, confidence=self.coverage, smoothing=False)
        return sets.astype(bool) | top

    def to_dict(self) -> dict[str, Any]:
        return {"coverage": self.coverage, "alphas": self.alphas_, "source": self.source_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConformalSets:
        return cls(
            coverage=float(d.get("coverage", DEFAULT_COVERAGE)),
            alphas_=[float(a) for a in d.get("alphas", [])],
            source_=str(d.get("source", "")),
        )
