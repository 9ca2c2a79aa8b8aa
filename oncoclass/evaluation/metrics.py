"""Metrics of probabilistic classifiers: computed here, drawn in :mod:`oncoclass.evaluation.report`.

Keeping the numbers apart from the drawing (like scikit-learn's ``ConfusionMatrixDisplay``) lets
the CLI, the API and the tests use metrics without matplotlib. Everything comes from
scikit-learn except the expected calibration error, which it does not ship.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from oncoclass.errors import InvalidInputError

#: Probabilities are clipped to at least this before the log loss, so that a class the model
#: gave exactly 0 (e.g. one it never saw in training) costs a large but finite penalty.
PROBA_EPS = 1e-15


@dataclass(frozen=True, slots=True)
class ClassReport:
    """Precision, recall and F1 of one class, with its support (true samples of the class)."""

    label: str
    name: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every number we report about one set of probabilistic predictions.

    ``roc_auc`` is the macro one-vs-rest AUC over the classes present in the true labels; it is
    ``None`` when fewer than two classes are present (AUC is undefined then). ``macro_f1``
    averages over the classes that occur in the true or predicted labels (scikit-learn's
    default), so a class absent from both does not drag it down. ``brier`` is the multiclass
    Brier score: the mean squared distance between the probability vector and the one-hot truth,
    in [0, 2]. ``confusion[i][j]`` counts samples of class ``labels[i]`` predicted as
    ``labels[j]``.
    """

    n: int
    log_loss: float
    accuracy: float
    macro_f1: float
    roc_auc: float | None
    ece: float
    brier: float
    per_class: list[ClassReport]
    confusion: list[list[int]]
    labels: list[str]
    names: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metrics:
        fields = dict(d)
        fields["per_class"] = [ClassReport(**c) for c in d["per_class"]]
        return cls(**fields)

    def summary(self) -> dict[str, float]:
        """The headline numbers; ``roc_auc`` is left out when undefined (JSON has no NaN)."""
        out: dict[str, float] = {
            "n": self.n,
            "log_loss": self.log_loss,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
        }
        if self.roc_auc is not None:
            out["roc_auc"] = self.roc_auc
        out["ece"] = self.ece
        out["brier"] = self.brier
        return out


def expected_calibration_error(
    y_true_idx: np.ndarray, proba: np.ndarray, n_bins: int = 15
) -> float:
    """Top-label expected calibration error with equal-width confidence bins.

    The confidence of each prediction (its top probability) falls into one of ``n_bins`` bins
    ``(lo, hi]``; ECE is the sample-weighted mean gap between the accuracy and the mean
    confidence of each bin (Guo et al., 2017). 0 means the stated confidence is the hit rate.
    """
    y_true_idx = np.asarray(y_true_idx)
    proba = np.asarray(proba, dtype=float)
    if len(y_true_idx) == 0:
        return 0.0
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true_idx).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Inner edges only, right-closed: a confidence of exactly 1.0 lands in the last bin.
    bins = np.digitize(confidence, edges[1:-1], right=True)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    # |sum(acc - conf)| per bin equals n_b * |acc_b - conf_b|.
    return float(np.abs(gap[counts > 0]).sum() / len(y_true_idx))


def compute_metrics(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    names: Sequence[str] | None = None,
) -> Metrics:
    """Score probabilities ``proba`` (columns in the order of ``classes``) against ``y_true``."""
    classes = [str(c) for c in classes]
    names = list(names) if names is not None else list(classes)
    y_idx, proba = _validate(y_true, proba, classes, names)
    k = len(classes)
    every = list(range(k))
    pred = proba.argmax(axis=1)

    clipped = np.clip(proba, PROBA_EPS, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    onehot = np.eye(k)[y_idx]

    precision, recall, f1, support = precision_recall_fscore_support(
        y_idx, pred, labels=every, zero_division=0
    )
    per_class = [
        ClassReport(c, n, float(p), float(r), float(f), int(s))
        for c, n, p, r, f, s in zip(classes, names, precision, recall, f1, support, strict=True)
    ]
    return Metrics(
        n=len(y_idx),
        log_loss=float(log_loss(y_idx, clipped, labels=every)),
        accuracy=float(accuracy_score(y_idx, pred)),
        macro_f1=float(f1_score(y_idx, pred, average="macro", zero_division=0)),
        roc_auc=_macro_ovr_auc(onehot, proba),
        ece=expected_calibration_error(y_idx, proba),
        # Multiclass Brier is one line of numpy; scikit-learn has it only from 1.7 on.
        brier=float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        per_class=per_class,
        confusion=confusion_matrix(y_idx, pred, labels=every).tolist(),
        labels=classes,
        names=names,
    )


@dataclass(frozen=True, slots=True)
class UncertaintyMetrics:
    """How well a model says when not to trust it.

    ``coverage`` is the share of samples whose true class is in the prediction set (the model
    states ``stated_coverage``), ``mean_set_size`` the average number of classes in a set.
    ``novelty_auroc`` is the AUROC of the novelty score at telling rare-class (``OTHER``) items,
    which no class fits, from items of the known classes (None without both kinds);
    ``flagged_known`` / ``flagged_novel`` the share of each kind the novelty flag fires on.
    """

    n: int
    stated_coverage: float | None
    coverage: float | None
    mean_set_size: float | None
    n_novel: int
    novelty_auroc: float | None
    flagged_known: float | None
    flagged_novel: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def uncertainty_metrics(
    y_idx: np.ndarray,
    sets: np.ndarray | None,
    stated_coverage: float | None,
    novelty_known: np.ndarray | None = None,
    novelty_novel: np.ndarray | None = None,
    threshold: np.ndarray | float | None = None,
) -> UncertaintyMetrics:
    """``sets`` (n, k) booleans for samples with true class indices ``y_idx``; novelty scores
    of known-class and of rare-class samples, with the flag threshold (one per sample when it
    differs between fold models)."""
    coverage = size = None
    if sets is not None and len(y_idx):
        coverage = float(sets[np.arange(len(y_idx)), y_idx].mean())
        size = float(sets.sum(axis=1).mean())
    auroc = flagged_known = flagged_novel = None
    known = np.asarray(novelty_known if novelty_known is not None else [])
    novel = np.asarray(novelty_novel if novelty_novel is not None else [])
    if len(known) and len(novel):
        auroc = float(
            roc_auc_score(np.r_[np.zeros(len(known)), np.ones(len(novel))], np.r_[known, novel])
        )
    if threshold is not None and len(known):
        t = np.asarray(threshold, dtype=float)
        t_known, t_novel = (t[: len(known)], t[len(known) :]) if t.ndim else (t, t)
        flagged_known = float((known >= t_known).mean())
        flagged_novel = float((novel >= t_novel).mean()) if len(novel) else None
    return UncertaintyMetrics(
        n=len(y_idx),
        stated_coverage=stated_coverage,
        coverage=coverage,
        mean_set_size=size,
        n_novel=len(novel),
        novelty_auroc=auroc,
        flagged_known=flagged_known,
        flagged_novel=flagged_novel,
    )


def prior_proba(train_labels: Sequence[str], classes: Sequence[str], n: int) -> np.ndarray:
    """The class-prior reference: every one of ``n`` rows predicts the training frequencies.

    Add-one smoothing keeps a class unseen in training above 0, so its log loss stays finite.
    A model that does not beat this has learned nothing beyond the class balance.
    """
    counts = Counter(train_labels)
    row = np.array([counts.get(c, 0) + 1.0 for c in classes])
    return np.tile(row / row.sum(), (n, 1))


def _validate(
    y_true: Sequence[str], proba: np.ndarray, classes: list[str], names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Check the inputs and turn the labels into column indices."""
    if len(classes) < 2:
        raise InvalidInputError("need at least two classes to score a classifier", field="classes")
    if len(set(classes)) != len(classes):
        raise InvalidInputError(f"duplicate classes in {classes}", field="classes")
    if len(names) != len(classes):
        raise InvalidInputError(f"{len(names)} names for {len(classes)} classes", field="names")
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise InvalidInputError(
            f"probabilities have shape {proba.shape}, expected ({len(y_true)}, {len(classes)})",
            field="proba",
        )
    if len(y_true) == 0:
        raise InvalidInputError("no samples to score", field="y_true")
    if not np.all(np.isfinite(proba)) or proba.min() < 0:
        raise InvalidInputError("probabilities must be finite and non-negative", field="proba")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(y) for y in y_true} - index.keys())
    if unknown:
        raise InvalidInputError(
            f"true labels {unknown} are not among the classes {classes}", field="y_true"
        )
    return np.array([index[str(y)] for y in y_true]), proba


def _macro_ovr_auc(onehot: np.ndarray, proba: np.ndarray) -> float | None:
    """Macro one-vs-rest ROC AUC over the classes present in the truth.

    A class absent from the truth has no positives, so its AUC is undefined; averaging over the
    present ones (each scored as a binary problem, as scikit-learn's ``multi_class="ovr"`` does)
    still gives a number for a fold that misses a rare class. Needs two present classes.
    """
    present = onehot.sum(axis=0) > 0
    if present.sum() < 2:
        return None
    return float(roc_auc_score(onehot[:, present], proba[:, present], average="macro"))
