"""``ensemble``: the calibrated geometric mean of several models.

The members see the same text differently (TF-IDF n-grams with logistic regression; a CNN over
word embeddings beside a pre-trained sentence encoder), so their errors are partly independent
and averaging their log-probabilities lowers the log loss; one more calibration on the
validation data keeps the result honest about its confidence. The default model of
``make run``: on CIViC it is the best of the registry (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.models.base import Classifier, get_model_class, load_model, register

MEMBERS_DIR = "members"


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

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        return self._combine([m.predict_proba(samples) for m in self.members_])

    def _occluded_logits(self, sample: Sample, spans: Sequence[str]) -> np.ndarray:
        return self._combine([m.predict_proba_occluded(sample, spans) for m in self.members_])

    def _combine(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        """The mean log-probability of the members (each aligned to the ensemble's classes)."""
        logs = []
        for m, proba in zip(self.members_, probas, strict=True):
            p = np.full((len(proba), len(self.classes_)), 1e-9)
            p[:, [self.classes_.index(c) for c in m.classes_]] = proba
            logs.append(np.log(np.clip(p, 1e-9, 1.0)))
        return np.mean(logs, axis=0)

    def _save(self, directory: Path) -> None:
        for i, m in enumerate(self.members_):
            m.save(directory / MEMBERS_DIR / f"{i}-{m.name}")

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        self.members_ = [
            load_model(directory / MEMBERS_DIR / f"{i}-{name}")
            for i, name in enumerate(self.members)
        ]
