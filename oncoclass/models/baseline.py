"""``baseline``: TF-IDF text + gene/variation/context features + logistic regression.

The classical model every result is compared with: fast, strong on short evidence statements,
and a sanity check for the neural models. Its features and coefficients are stored as JSON and
arrays (:mod:`oncoclass.models.linear`), never as a pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oncoclass.data.records import Sample
from oncoclass.models.base import Classifier, register
from oncoclass.models.linear import FeatureSpace, LinearScorer

FEATURES = "features"
COEFFICIENTS = "coefficients"


@register
class BaselineClassifier(Classifier):
    name = "baseline"

    def __init__(
        self,
        *,
        C: float = 4.0,
        max_tokens: int = 400,
        max_features: int = 100_000,
        class_weight: str | None = "balanced",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.C = C
        self.max_tokens = max_tokens
        self.max_features = max_features
        self.class_weight = class_weight

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        self.features_ = FeatureSpace(self.max_tokens, self.max_features)
        x = self.features_.fit_transform(train)
        self.scorer_ = LinearScorer.fit(
            x, self.encode_labels(train), C=self.C, class_weight=self.class_weight, seed=self.seed
        )

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        # Log-probabilities in the global class order (a class absent from training gets -30).
        logp = self.scorer_.log_proba(self.features_.transform(samples))
        out = np.full((len(samples), len(self.classes_)), -30.0)
        out[:, self.scorer_.classes] = logp
        return out

    def _save(self, directory: Path) -> None:
        self.features_.save(directory, FEATURES)
        self.scorer_.save(directory, COEFFICIENTS)

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        self.features_ = FeatureSpace.load(directory, FEATURES)
        self.scorer_ = LinearScorer.load(directory, COEFFICIENTS)
