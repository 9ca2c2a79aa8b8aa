"""Honest validation: grouped cross-validation and fixed train/test splits.

Many samples share their evidence (one paper for several MSKCC variants, one PubMed id for
several CIViC items), so a random row split leaks the text of a test sample into training. Every
split here keeps a ``Sample.group_key`` on one side only, and every result carries the class-prior
reference scored on the same splits, so a model's numbers always come with the bar they must
clear.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np
from rich.progress import Progress
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.evaluation.metrics import Metrics, compute_metrics, prior_proba


class Classifier(Protocol):
    """What validation needs of a model: ``oncoclass.models.Classifier`` has it.

    A structural type, so that evaluation does not import the models (nor torch).
    """

    classes_: list[str]

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self: ...

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray: ...


@dataclass
class ValidationResult:
    """Out-of-fold (or test-set) predictions of one model and their metrics.

    ``folds`` holds the fold index of every sample, ``-1`` in train/test mode (where
    ``fold_metrics`` is empty). ``prior`` scores the class-prior reference on the same splits.
    """

    metrics: Metrics
    fold_metrics: list[Metrics]
    oof_proba: np.ndarray
    y_true: list[str]
    classes: list[str]
    sample_ids: list[str]
    folds: np.ndarray
    prior: Metrics

    @property
    def mode(self) -> str:
        return f"{len(self.fold_metrics)}-fold grouped CV" if self.fold_metrics else "train/test"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-sample arrays (those go to the report's CSV)."""
        return {
            "mode": self.mode,
            "n": self.metrics.n,
            "classes": list(self.classes),
            "metrics": self.metrics.to_dict(),
            "prior": self.prior.to_dict(),
            "fold_metrics": [m.to_dict() for m in self.fold_metrics],
        }


def grouped_folds(
    samples: Sequence[Sample], k: int = 5, seed: int = 13
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train indices, test indices) pairs; no group is ever on both sides.

    Stratified on the labels where scikit-learn can (``StratifiedGroupKFold``); it cannot when
    no class has ``k`` members, or it may leave a fold empty, and then plain ``GroupKFold``.
    """
    labels = _labels(samples)
    groups = np.array([s.group_key for s in samples])
    n_groups = len(set(groups))
    if k < 2:
        raise InvalidInputError(f"need at least 2 folds, got k={k}", field="k")
    if n_groups < k:
        raise InvalidInputError(
            f"only {n_groups} groups for {k} folds; every fold needs its own group", field="k"
        )
    x = np.zeros(len(samples))
    try:
        with warnings.catch_warnings():
            # Rare classes are normal (CIViC); the per-class table shows their support.
            warnings.filterwarnings("ignore", message="The least populated class")
            splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            folds = list(splitter.split(x, labels, groups))
        if any(len(test) == 0 for _, test in folds):
            raise ValueError("empty fold")
    except ValueError:
        folds = list(GroupKFold(n_splits=k).split(x, labels, groups))
    return folds


def split_validation(
    samples: Sequence[Sample], valid_fraction: float = 0.1, seed: int = 13
) -> tuple[list[Sample], list[Sample]]:
    """Split off a grouped validation part (for early stopping or calibration).

    Returns ``(train, valid)``; ``valid`` is empty when ``valid_fraction`` is 0 or there are
    too few groups to spare one.
    """
    if not 0.0 <= valid_fraction < 1.0:
        raise InvalidInputError(
            f"valid_fraction must be in [0, 1), got {valid_fraction}", field="valid_fraction"
        )
    samples = list(samples)
    groups = [s.group_key for s in samples]
    if valid_fraction == 0.0 or len(set(groups)) < 2:
        return samples, []
    splitter = GroupShuffleSplit(n_splits=1, test_size=valid_fraction, random_state=seed)
    train_idx, valid_idx = next(splitter.split(samples, groups=groups))
    return [samples[i] for i in train_idx], [samples[i] for i in valid_idx]


def cross_validate(
    make_model: Callable[[], Classifier],
    samples: Sequence[Sample],
    *,
    k: int = 5,
    seed: int = 13,
    valid_fraction: float = 0.1,
    names: Mapping[str, str] | None = None,
    progress: bool = True,
) -> ValidationResult:
    """Grouped k-fold cross-validation of a fresh model per fold.

    Each fold's training side loses a grouped validation part (``valid_fraction``) that the
    model may use for early stopping or calibration; the held-out fold is never seen. The
    classes are the sorted union of the labels and of every fold model's ``classes_``: a model
    that knows only some classes gets 0 for the others, and one that knows more (a task with
    fixed classes) keeps them, so its probabilities are scored as given.
    """
    samples = list(samples)
    labels = _labels(samples)
    splits = grouped_folds(samples, k=k, seed=seed)
    raw: list[tuple[np.ndarray, np.ndarray, list[str]]] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("cross-validating", total=len(splits))
        for fold, (train_idx, test_idx) in enumerate(splits):
            bar.update(task, description=f"fold {fold + 1}/{len(splits)}")
            train = [samples[i] for i in train_idx]
            test = [samples[i] for i in test_idx]
            proba, model_classes = _fit_predict(make_model, train, test, valid_fraction, seed)
            raw.append((test_idx, proba, model_classes))
            bar.advance(task)

    classes = sorted(set(labels).union(*(c for _, _, c in raw)))
    class_names = _names(classes, names)
    oof = np.zeros((len(samples), len(classes)))
    prior = np.zeros_like(oof)
    folds = np.full(len(samples), -1)
    fold_metrics = []
    for fold, ((train_idx, test_idx), (_, proba, model_classes)) in enumerate(
        zip(splits, raw, strict=True)
    ):
        oof[test_idx] = align_proba(proba, model_classes, classes)
        prior[test_idx] = prior_proba([labels[i] for i in train_idx], classes, len(test_idx))
        folds[test_idx] = fold
        fold_metrics.append(
            compute_metrics([labels[i] for i in test_idx], oof[test_idx], classes, class_names)
        )
    return ValidationResult(
        metrics=compute_metrics(labels, oof, classes, class_names),
        fold_metrics=fold_metrics,
        oof_proba=oof,
        y_true=labels,
        classes=classes,
        sample_ids=[s.id for s in samples],
        folds=folds,
        prior=compute_metrics(labels, prior, classes, class_names),
    )


def train_test(
    make_model: Callable[[], Classifier],
    train: Sequence[Sample],
    test: Sequence[Sample],
    *,
    valid_fraction: float = 0.1,
    seed: int = 13,
    names: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Fit on ``train`` (less a grouped validation part) and score on a fixed ``test`` set.

    For published splits (MSKCC ``training_variants`` -> the 368 labelled stage-1 rows). The
    caller owns the split, so leakage between ``train`` and ``test`` is the caller's to avoid.
    """
    train, test = list(train), list(test)
    train_labels, test_labels = _labels(train), _labels(test)
    proba, model_classes = _fit_predict(make_model, train, test, valid_fraction, seed)
    classes = sorted({*train_labels, *test_labels, *model_classes})
    class_names = _names(classes, names)
    aligned = align_proba(proba, model_classes, classes)
    return ValidationResult(
        metrics=compute_metrics(test_labels, aligned, classes, class_names),
        fold_metrics=[],
        oof_proba=aligned,
        y_true=test_labels,
        classes=classes,
        sample_ids=[s.id for s in test],
        folds=np.full(len(test), -1),
        prior=compute_metrics(
            test_labels, prior_proba(train_labels, classes, len(test)), classes, class_names
        ),
    )


def align_proba(
    proba: np.ndarray, model_classes: Sequence[str], classes: Sequence[str]
) -> np.ndarray:
    """Reorder a model's probability columns into ``classes``; absent classes get 0.

    Rows are renormalised, so columns the model knows but ``classes`` lacks are dropped
    without breaking the sum-to-one contract.
    """
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(proba), len(classes)))
    for j, c in enumerate(model_classes):
        if c in index:
            out[:, index[c]] = proba[:, j]
    totals = out.sum(axis=1, keepdims=True)
    if np.any(totals <= 0):
        raise InvalidInputError(
            "a prediction puts no probability on any known class", field="proba"
        )
    return out / totals


def _fit_predict(
    make_model: Callable[[], Classifier],
    train: list[Sample],
    test: list[Sample],
    valid_fraction: float,
    seed: int,
) -> tuple[np.ndarray, list[str]]:
    """Fit a fresh model on ``train`` (minus a validation part); predict ``test``."""
    fit_on, valid = split_validation(train, valid_fraction, seed)
    model = make_model().fit(fit_on, valid or None)
    classes = [str(c) for c in model.classes_]
    proba = np.asarray(model.predict_proba(test), dtype=float)
    if proba.shape != (len(test), len(classes)):
        raise InvalidInputError(
            f"model returned probabilities of shape {proba.shape} for {len(test)} samples "
            f"and {len(classes)} classes",
            field="proba",
        )
    return proba, classes


def _labels(samples: Sequence[Sample]) -> list[str]:
    unlabelled = [s.id for s in samples if s.label is None]
    if unlabelled:
        raise InvalidInputError(
            f"{len(unlabelled)} samples have no label (first: {unlabelled[0]!r})", field="label"
        )
    if not samples:
        raise InvalidInputError("no samples", field="samples")
    return [str(s.label) for s in samples]


def _names(classes: Sequence[str], names: Mapping[str, str] | None) -> list[str]:
    return [(names or {}).get(c, c) for c in classes]
