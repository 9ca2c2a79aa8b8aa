"""``ensemble``: the calibrated geometric mean of several models.

The members see the same text differently (TF-IDF n-grams with logistic regression; a CNN over
word embeddings beside a pre-trained sentence encoder), so their errors are partly independent
and averaging their log-probabilities lowers the log loss; one more calibration on the
validation data keeps the result honest about its confidence. The default model of
``make run``: on CIViC it is the best of the registry (docs/benchmarks.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.models.base import Classifier, get_model_class, load_model, register
from oncoclass.training.calibration import Calibrator

MEMBERS_DIR = "members"
WEIGHTS_FILE = "ensemble.json"


def _equal(n: int) -> list[float]:
    return [1.0 / n] * n


def _simplex(n: int, steps: int) -> Iterator[list[float]]:
    """Every weight vector of ``n`` non-negative multiples of 1/steps summing to 1."""

    def parts(n: int, total: int) -> Iterator[list[int]]:
        if n == 1:
            yield [total]
            return
        for k in range(total + 1):
            for rest in parts(n - 1, total - k):
                yield [k, *rest]

    for counts in parts(n, steps):
        yield [c / steps for c in counts]


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0))))


@register
class EnsembleClassifier(Classifier):
    name = "ensemble"

    def __init__(
        self,
        *,
        members: Sequence[str] = ("baseline", "multimodal"),
        member_params: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.members = tuple(members)
        self.member_params = dict(member_params or {})

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        self.members_: list[Classifier] = []
        for name in self.members:
            cls = get_model_class(name)
            member = cls(
                task=self.task,
                seed=self.seed,
                progress=self.progress,
                novelty=False,  # the ensemble's own detector speaks for it
                **self.member_params.get(name, {}),
            )
            self.members_.append(member.fit(train, valid))
        self.weights_ = self._fit_weights(valid) if valid else _equal(len(self.members_))

    def _fit_weights(self, valid: Sequence[Sample]) -> list[float]:
        """The members' weights in the pooled log-probability: the grid point (steps of 0.1)
        whose calibrated pool has the lowest log loss on the validation slice. The weights
        are coarse and few, so the held-out slice cannot be overfitted by them."""
        probas = [m.predict_proba(valid) for m in self.members_]
        y = self.encode_labels(valid)
        best, best_loss = _equal(len(self.members_)), np.inf
        for weights in _simplex(len(self.members_), steps=10):
            logits = self._combine(probas, weights)
            loss = _log_loss(Calibrator().fit(logits, y).transform(logits), y)
            if loss < best_loss - 1e-9:
                best, best_loss = weights, loss
        return best

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        return self._combine([m.predict_proba(samples) for m in self.members_])

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        return self._combine([m.predict_proba_occluded(sample, spans) for m in self.members_])

    def _combine(
        self, probas: Sequence[np.ndarray], weights: Sequence[float] | None = None
    ) -> np.ndarray:
        """The weighted mean log-probability of the members (each aligned to the ensemble's
        classes): a geometric pool, which the calibration then rescales."""
        weights = self.weights_ if weights is None else weights
        logs = []
        for m, proba in zip(self.members_, probas, strict=True):
            p = np.full((len(proba), len(self.classes_)), 1e-9)
            p[:, [self.classes_.index(c) for c in m.classes_]] = proba
            logs.append(np.log(np.clip(p, 1e-9, 1.0)))
        return np.average(logs, axis=0, weights=weights)

    def _save(self, directory: Path) -> None:
        for i, m in enumerate(self.members_):
            m.save(directory / MEMBERS_DIR / f"{i}-{m.name}")
        (directory / WEIGHTS_FILE).write_text(json.dumps({"weights": self.weights_}))

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        self.members_ = [
            load_model(directory / MEMBERS_DIR / f"{i}-{name}")
            for i, name in enumerate(self.members)
        ]
        self.weights_ = json.loads((directory / WEIGHTS_FILE).read_text())["weights"]
