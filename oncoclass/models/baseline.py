"""``baseline``: TF-IDF text + gene/variation/context features + logistic regression.

The classical model every result is compared with: fast, strong on short evidence statements,
and a sanity check for the neural models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from oncoclass.data.records import Sample
from oncoclass.features.genomic import gene_key, variation_key
from oncoclass.features.text import clean_text, select_text
from oncoclass.features.variation import FEATURE_NAMES, parse_variation
from oncoclass.models.base import Classifier, register

PIPELINE_FILE = "model.joblib"


def _frame(samples: Sequence[Sample], max_tokens: int) -> pd.DataFrame:
    rows = []
    for s in samples:
        parsed = parse_variation(s.variation, s.gene)
        rows.append(
            {
                "text": clean_text(select_text(s.text, s.gene, s.variation, max_tokens=max_tokens)),
                "gene": gene_key(s.gene),
                "variation": variation_key(s.gene, s.variation),
                "context": clean_text(" ".join([s.disease, *s.drugs])),
                "has_drugs": float(bool(s.drugs)),
                **dict(zip(FEATURE_NAMES, parsed.features().tolist(), strict=True)),
            }
        )
    return pd.DataFrame(rows)


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

    def _pipeline(self, frame: pd.DataFrame) -> Pipeline:
        dense = ["has_drugs", *FEATURE_NAMES]
        columns = [
            ("gene", OneHotEncoder(handle_unknown="ignore"), ["gene"]),
            (
                "variation",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
                "variation",
            ),
            ("dense", "passthrough", dense),
        ]
        # Text and context are optional inputs (MSKCC variants-only mode has neither): a
        # vectoriser is only added when the training data has some words for it.
        if frame["text"].str.strip().astype(bool).sum() >= 2:
            columns.append(
                (
                    "text",
                    TfidfVectorizer(
                        ngram_range=(1, 2),
                        min_df=2,
                        sublinear_tf=True,
                        max_features=self.max_features,
                    ),
                    "text",
                )
            )
        if frame["context"].str.strip().astype(bool).any():
            columns.append(
                ("context", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), "context")
            )
        features = ColumnTransformer(columns)
        clf = LogisticRegression(
            C=self.C, max_iter=3000, class_weight=self.class_weight, random_state=self.seed
        )
        return Pipeline([("features", features), ("clf", clf)])

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        frame = _frame(train, self.max_tokens)
        # One BLAS thread: lbfgs on sparse features gains nothing from more, and on a small
        # machine shared with the server (or other fits) more threads are 4x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            self.pipeline_ = self._pipeline(frame).fit(frame, self.encode_labels(train))

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        # Log-probabilities in the global class order (a class absent from training gets -30).
        with threadpool_limits(limits=1, user_api="blas"):
            logp = self.pipeline_.predict_log_proba(_frame(samples, self.max_tokens))
        out = np.full((len(samples), len(self.classes_)), -30.0)
        out[:, self.pipeline_.classes_] = logp
        return out

    def _save(self, directory: Path) -> None:
        joblib.dump(self.pipeline_, directory / PIPELINE_FILE)

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        self.pipeline_ = joblib.load(directory / PIPELINE_FILE)
