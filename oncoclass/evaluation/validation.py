"""Honest validation: grouped cross-validation and fixed train/test splits.

Many samples share their evidence (one paper for several MSKCC variants, one PubMed id for
several CIViC items), so a random row split leaks the text of a test sample into training. Every
split here keeps a ``Sample.group_key`` on one side only, and every result carries the class-prior
reference scored on the same splits, so a model's numbers always come with the bar they must
clear.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self

import numpy as np
from rich.progress import Progress
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, StratifiedGroupKFold

from oncoclass.data.records import Sample
from oncoclass.data.tasks import OTHER
from oncoclass.errors import InvalidInputError
from oncoclass.evaluation.metrics import (
    Metrics,
    UncertaintyMetrics,
    compute_metrics,
    prior_proba,
    uncertainty_metrics,
)

log = logging.getLogger(__name__)


class Classifier(Protocol):
    """What validation needs of a model: ``oncoclass.models.Classifier`` has it.

    A structural type, so that evaluation does not import the models (nor torch).
    """

    classes_: list[str]
    coverage: float

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self: ...

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray: ...

    def predict_sets(self, proba: np.ndarray) -> np.ndarray: ...

    def novelty_score(self, samples: Sequence[Sample]) -> np.ndarray | None: ...

    @property
    def novelty_threshold(self) -> float | None: ...


@dataclass
class ValidationResult:
    """Out-of-fold (or test-set) predictions of one model and their metrics.

    The classification numbers are over the samples of the known classes; rare-class samples
    (label ``OTHER``, never a class) only score the novelty detector (``uncertainty``).
    ``folds`` holds the fold index of every scored sample, ``-1`` in train/test mode (where
    ``fold_metrics`` is empty). ``prior`` scores the class-prior reference on the same splits.
    ``fold_strategy`` says how the folds were made (stratified unless that was impossible).
    """

    metrics: Metrics
    fold_metrics: list[Metrics]
    oof_proba: np.ndarray
    y_true: list[str]
    classes: list[str]
    sample_ids: list[str]
    folds: np.ndarray
    prior: Metrics
    uncertainty: UncertaintyMetrics | None = None
    fold_strategy: str = ""
    #: The same predictions scored at the coarse level (CIViC's evidence type): the classes'
    #: probabilities summed within each group. None when the task has no such level.
    group_metrics: Metrics | None = None

    @property
    def mode(self) -> str:
        return f"{len(self.fold_metrics)}-fold grouped CV" if self.fold_metrics else "train/test"

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-sample arrays (those go to the report's CSV)."""
        return {
            "mode": self.mode,
            "fold_strategy": self.fold_strategy,
            "n": self.metrics.n,
            "classes": list(self.classes),
            "metrics": self.metrics.to_dict(),
            "prior": self.prior.to_dict(),
            "uncertainty": self.uncertainty.to_dict() if self.uncertainty else None,
            "group_metrics": self.group_metrics.to_dict() if self.group_metrics else None,
            "fold_metrics": [m.to_dict() for m in self.fold_metrics],
        }


#: How ``grouped_folds`` made its folds.
STRATIFIED = "stratified grouped k-fold (shuffled)"


def grouped_folds(
    samples: Sequence[Sample], k: int = 5, seed: int = 13
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train indices, test indices) pairs; no group is ever on both sides."""
    return make_folds(samples, k, seed)[0]


def make_folds(
    samples: Sequence[Sample], k: int = 5, seed: int = 13
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """:func:`grouped_folds` and how they were made.

    Stratified on the labels and shuffled (``StratifiedGroupKFold``) where scikit-learn can.
    It cannot when a class has fewer members than folds in a way that leaves a fold empty;
    only then, and saying so (a warning in the log, and the strategy returned for reports),
    plain unshuffled ``GroupKFold``: still grouped, no longer stratified.
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
    if max(Counter(labels).values()) < k:
        reason = f"no class has {k} samples"
    else:
        with warnings.catch_warnings():
            # Rare classes are normal (CIViC); the per-class table shows their support.
            warnings.filterwarnings("ignore", message="The least populated class")
            splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            folds = list(splitter.split(x, labels, groups))
        if all(len(test) for _, test in folds):
            return folds, STRATIFIED
        reason = "stratified folds left a fold empty"
    strategy = f"grouped k-fold, NOT stratified ({reason})"
    log.warning("cross-validation folds: %s", strategy)
    return list(GroupKFold(n_splits=k).split(x, labels, groups)), strategy


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


@dataclass
class FoldOutput:
    """What one fitted model says about its test samples."""

    proba: np.ndarray  # (n_test, len(classes))
    classes: list[str]
    sets: np.ndarray  # (n_test, len(classes)) booleans
    novelty: np.ndarray | None  # (n_test,)
    threshold: float | None
    coverage: float | None


def cross_validate(
    make_model: Callable[[], Classifier],
    samples: Sequence[Sample],
    *,
    k: int = 5,
    seed: int = 13,
    valid_fraction: float = 0.1,
    names: Mapping[str, str] | None = None,
    progress: bool = True,
    group_of: Callable[[str], str] | None = None,
) -> ValidationResult:
    """Grouped k-fold cross-validation of a fresh model per fold.

    Each fold's training side loses a grouped validation part (``valid_fraction``) that the
    model may use for early stopping and calibration; the held-out fold is never seen.
    """
    samples = list(samples)
    splits, strategy = make_folds(samples, k=k, seed=seed)
    outputs: list[FoldOutput] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("cross-validating", total=len(splits))
        for fold, (train_idx, test_idx) in enumerate(splits):
            bar.update(task, description=f"fold {fold + 1}/{len(splits)}")
            train = [samples[i] for i in train_idx]
            fit_on, valid = split_validation(train, valid_fraction, seed)
            model = make_model().fit(fit_on, valid or None)
            outputs.append(fold_output(model, [samples[i] for i in test_idx]))
            bar.advance(task)
    return combine_folds(
        samples, splits, outputs, names=names, strategy=strategy, group_of=group_of
    )


def combine_folds(
    samples: Sequence[Sample],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    outputs: Sequence[FoldOutput],
    *,
    names: Mapping[str, str] | None = None,
    strategy: str = "",
    group_of: Callable[[str], str] | None = None,
) -> ValidationResult:
    """Out-of-fold metrics from each fold's output (what ``cross_validate`` and the benchmark
    harness share). The classes are the sorted union of the known labels and of every fold
    model's ``classes_``: a model that knows only some classes gets 0 for the others, and one
    that knows more (a task with fixed classes) keeps them, so its probabilities are scored as
    given."""
    labels = _labels(samples)
    known = np.array([label != OTHER for label in labels])
    known_labels = {label for label in labels if label != OTHER}
    classes = sorted(known_labels.union(*(o.classes for o in outputs)))
    class_names = _names(classes, names)
    n = len(samples)
    oof, prior = np.zeros((n, len(classes))), np.zeros((n, len(classes)))
    sets = np.zeros((n, len(classes)), dtype=bool)
    novelty, thresholds = np.full(n, np.nan), np.full(n, np.nan)
    folds = np.full(n, -1)
    fold_metrics = []
    for fold, ((train_idx, test_idx), out) in enumerate(zip(splits, outputs, strict=True)):
        test_idx = np.asarray(test_idx)
        oof[test_idx] = align_proba(out.proba, out.classes, classes)
        sets[test_idx] = _align_sets(out.sets, out.classes, classes)
        if out.novelty is not None:
            novelty[test_idx] = out.novelty
            thresholds[test_idx] = np.nan if out.threshold is None else out.threshold
        train_known = [labels[i] for i in train_idx if labels[i] != OTHER]
        prior[test_idx] = prior_proba(train_known, classes, len(test_idx))
        folds[test_idx] = fold
        scored = [i for i in test_idx if known[i]]
        fold_metrics.append(
            compute_metrics([labels[i] for i in scored], oof[scored], classes, class_names)
        )
    scored = known & (folds >= 0)  # a fixed split scores its test part only
    y_true = [labels[i] for i in np.flatnonzero(scored)]
    group_metrics = None
    if group_of is not None:
        groups = sorted({group_of(c) for c in classes})
        if len(groups) >= 2:
            pooled = np.zeros((int(scored.sum()), len(groups)))
            for j, c in enumerate(classes):
                pooled[:, groups.index(group_of(c))] += oof[scored][:, j]
            group_metrics = compute_metrics([group_of(y) for y in y_true], pooled, groups)
    coverages = {o.coverage for o in outputs}
    tested = folds >= 0
    return ValidationResult(
        metrics=compute_metrics(y_true, oof[scored], classes, class_names),
        fold_metrics=fold_metrics if len(splits) > 1 else [],
        oof_proba=oof[scored],
        y_true=y_true,
        classes=classes,
        sample_ids=[s.id for s, k_ in zip(samples, scored, strict=True) if k_],
        folds=folds[scored],
        prior=compute_metrics(y_true, prior[scored], classes, class_names),
        uncertainty=_uncertainty(
            y_true,
            classes,
            sets[scored],
            coverages,
            novelty[tested],
            thresholds[tested],
            known[tested],
        ),
        fold_strategy=strategy,
        group_metrics=group_metrics,
    )


def train_test(
    make_model: Callable[[], Classifier],
    train: Sequence[Sample],
    test: Sequence[Sample],
    *,
    valid_fraction: float = 0.1,
    seed: int = 13,
    names: Mapping[str, str] | None = None,
    group_of: Callable[[str], str] | None = None,
) -> ValidationResult:
    """Fit on ``train`` (less a grouped validation part) and score on a fixed ``test`` set.

    For published splits (MSKCC ``training_variants`` -> the 368 labelled stage-1 rows), and
    for temporal ones (an older CIViC release -> the items a newer one added). The caller owns
    the split, so leakage between ``train`` and ``test`` is the caller's to avoid.
    """
    train, test = list(train), list(test)
    fit_on, valid = split_validation(train, valid_fraction, seed)
    model = make_model().fit(fit_on, valid or None)
    both = [*train, *test]
    split = (np.arange(len(train)), np.arange(len(train), len(both)))
    result = combine_folds(
        both,
        [split],
        [fold_output(model, test)],
        names=names,
        strategy="fixed train/test split",
        group_of=group_of,
    )
    result.folds = np.full(len(result.y_true), -1)
    return result


def _uncertainty(
    y_true: list[str],
    classes: list[str],
    sets: np.ndarray,
    coverages: set[float | None],
    novelty: np.ndarray,
    thresholds: np.ndarray,
    known: np.ndarray,
) -> UncertaintyMetrics:
    y_idx = np.array([classes.index(y) for y in y_true], dtype=int)
    stated = next(iter(coverages)) if len(coverages) == 1 else None
    has = ~np.isnan(novelty)
    return uncertainty_metrics(
        y_idx,
        sets,
        stated,
        novelty[known & has],
        novelty[~known & has],
        np.r_[thresholds[known & has], thresholds[~known & has]] if has.any() else None,
    )


def _align_sets(
    sets: np.ndarray, model_classes: Sequence[str], classes: Sequence[str]
) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(sets), len(classes)), dtype=bool)
    for j, c in enumerate(model_classes):
        if c in index:
            out[:, index[c]] = sets[:, j]
    return out


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


def fold_output(model: Classifier, test: Sequence[Sample]) -> FoldOutput:
    """What a fitted model says about ``test``: probabilities, sets, novelty."""
    classes = [str(c) for c in model.classes_]
    proba = np.asarray(model.predict_proba(test), dtype=float)
    if proba.shape != (len(test), len(classes)):
        raise InvalidInputError(
            f"model returned probabilities of shape {proba.shape} for {len(test)} samples "
            f"and {len(classes)} classes",
            field="proba",
        )
    novelty = model.novelty_score(test)
    conformal = getattr(model, "conformal_", None)
    return FoldOutput(
        proba=proba,
        classes=classes,
        sets=np.asarray(model.predict_sets(proba), dtype=bool),
        novelty=None if novelty is None else np.asarray(novelty, dtype=float),
        threshold=model.novelty_threshold,
        coverage=model.coverage if conformal is None or conformal.fitted else None,
    )


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
