"""``baseline``: TF-IDF text + gene/variation/context features + logistic regression.

The classical model every result is compared with: fast, strong on short evidence statements,
and a sanity check for the neural models. Features are built without pandas or a
ColumnTransformer, whose fixed cost (~50 ms a call) would dominate single predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from oncoclass.data.records import Sample
from oncoclass.features.genomic import gene_key, parsed, variation_key
from oncoclass.features.text import clean_text, select_text
from oncoclass.features.variation import FEATURE_NAMES
from oncoclass.models.base import Classifier, register

PIPELINE_FILE = "model.joblib"


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """Found once: looking up the loaded BLAS libraries costs ~5 ms, too much per request."""
    return ThreadpoolController()


def _columns(samples: Sequence[Sample], max_tokens: int) -> dict[str, list]:
    """The raw feature columns: three texts and one dict (categorical + dense) per sample."""
    cols: dict[str, list] = {"text": [], "variation": [], "context": [], "fields": []}
    for s in samples:
        gene, p = gene_key(s.gene), parsed(s.gene, s.variation)
        cols["text"].append(clean_text(select_text(s.text, s.gene, s.variation, max_tokens)))
        cols["variation"].append(variation_key(s.gene, s.variation))
        cols["context"].append(clean_text(" ".join([s.disease, *s.drugs])))
        cols["fields"].append(
            {
                "gene": gene,
                # Gene x variation type and gene x position: the same change means loss of function
                # in a tumour suppressor and gain in an oncogene, and hotspots recur.
                "gene_type": f"{gene}|{p.type}",
                "gene_position": f"{gene}|{p.position or p.normalized}",
                "has_drugs": float(bool(s.drugs)),
                **dict(zip(FEATURE_NAMES, p.features().tolist(), strict=True)),
            }
        )
    return cols


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

    def _vectorizers(self, cols: dict[str, list]) -> dict[str, Any]:
        vectorizers: dict[str, Any] = {
            "fields": DictVectorizer(),  # one-hot for strings, as-is for numbers
            "variation": TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        }
        # Text and context are optional inputs (MSKCC variants-only mode has neither): a
        # vectoriser is only added when the training data has words for it.
        if sum(bool(t.strip()) for t in cols["text"]) >= 2:
            vectorizers["text"] = TfidfVectorizer(
                ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=self.max_features
            )
        if any(c.strip() for c in cols["context"]):
            vectorizers["context"] = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        return vectorizers

    def _features(self, samples: Sequence[Sample]) -> sp.csr_matrix:
        cols = _columns(samples, self.max_tokens)
        return sp.hstack([v.transform(cols[k]) for k, v in self.vectorizers_.items()], "csr")

    def _fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None) -> None:
        cols = _columns(train, self.max_tokens)
        self.vectorizers_ = self._vectorizers(cols)
        x = sp.hstack([v.fit_transform(cols[k]) for k, v in self.vectorizers_.items()], "csr")
        self.clf_ = LogisticRegression(
            C=self.C, max_iter=3000, class_weight=self.class_weight, random_state=self.seed
        )
        # One BLAS thread: lbfgs on sparse features gains nothing from more, and on a small
        # machine shared with a server (or other fits) more threads are 4x slower.
        with _threadpools().limit(limits=1, user_api="blas"):
            self.clf_.fit(x, self.encode_labels(train))

    def _logits(self, samples: Sequence[Sample]) -> np.ndarray:
        # Log-probabilities in the global class order (a class absent from training gets -30).
        with _threadpools().limit(limits=1, user_api="blas"):
            logp = self.clf_.predict_log_proba(self._features(samples))
        out = np.full((len(samples), len(self.classes_)), -30.0)
        out[:, self.clf_.classes_] = logp
        return out

    def _save(self, directory: Path) -> None:
        joblib.dump({"vectorizers": self.vectorizers_, "clf": self.clf_}, directory / PIPELINE_FILE)

    def _load(self, directory: Path, card: dict[str, Any]) -> None:
        blob = joblib.load(directory / PIPELINE_FILE)
        self.vectorizers_, self.clf_ = blob["vectorizers"], blob["clf"]
