"""The main jobs, shared by the CLI, ``make run`` and the benchmarks: load a task's data,
train a model (optionally cross-validating it first), evaluate it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, OTHER, get_task
from oncoclass.errors import DataNotFoundError
from oncoclass.evaluation import (
    ValidationResult,
    align_proba,
    cross_validate,
    split_validation,
    train_test,
)
from oncoclass.models import Classifier, create_model


def load_task_samples(
    task: str,
    data: Path | None = None,
    *,
    min_support: int = 30,
    text: bool = True,
    split: str = "train",
) -> list[Sample]:
    """Samples for a task: CIViC from ``data`` or the data home; MSKCC from ``data`` (a folder
    with the Kaggle files; ``split`` "train" or "stage1"); a CSV/JSONL file of one's own.

    CIViC items of classes under ``min_support`` are kept, labelled ``OTHER``: no model
    predicts them, the novelty detector learns from them, and evaluation leaves them out of
    the classification metrics."""
    from oncoclass.data import (
        civic_data_dir,
        load_civic,
        load_mskcc_stage1,
        load_mskcc_train,
        load_table,
    )

    get_task(task)
    if data is not None and data.is_file():
        return load_table(data)
    if task == CLINICAL_SIGNIFICANCE:
        return load_civic(data or civic_data_dir(), min_support=min_support, rare="merge")
    if data is None:
        raise DataNotFoundError(
            "the MSKCC files are Kaggle's and cannot be downloaded here: pass --data FOLDER "
            "holding training_variants (and training_text for text mode)"
        )
    text_file: str | None = "auto" if text else None
    if split == "stage1":
        return load_mskcc_stage1(data, text_file=text_file)
    return load_mskcc_train(data, text_file=text_file)


def make_factory(
    task: str, model: str, seed: int = 13, progress: bool = False, **params: Any
) -> Callable[[], Classifier]:
    """A function making fresh, unfitted models (what cross-validation needs)."""

    def factory() -> Classifier:
        return create_model(model, task=task, seed=seed, progress=progress, **params)

    return factory


def class_names(task: str, classes: Sequence[str]) -> dict[str, str]:
    t = get_task(task)
    return {c: t.class_name(c) for c in classes}


def evaluate(
    task: str,
    model: str,
    samples: Sequence[Sample],
    *,
    folds: int = 5,
    seed: int = 13,
    test: Sequence[Sample] | None = None,
    progress: bool = True,
    **params: Any,
) -> ValidationResult:
    """Grouped k-fold cross-validation, or a fixed train/test split when ``test`` is given."""
    factory = make_factory(task, model, seed=seed, **params)
    labels = {s.label for s in [*samples, *(test or [])] if s.label and s.label != OTHER}
    names = class_names(task, sorted(labels))
    if test is not None:
        return train_test(factory, samples, test, seed=seed, names=names)
    return cross_validate(factory, samples, k=folds, seed=seed, names=names, progress=progress)


def train(
    task: str,
    model: str,
    samples: Sequence[Sample],
    out: Path,
    *,
    seed: int = 13,
    valid_fraction: float = 0.1,
    progress: bool = True,
    cv: ValidationResult | None = None,
    **params: Any,
) -> Classifier:
    """Train on all samples (a grouped slice held out for early stopping and calibration)
    and save the self-describing model directory. ``cv``, the cross-validation of the same
    model on the same samples, goes into the model card and calibrates its prediction sets."""
    fit_part, valid_part = split_validation(samples, valid_fraction=valid_fraction, seed=seed)
    clf = create_model(model, task=task, seed=seed, progress=progress, **params)
    clf.fit(fit_part, valid_part)
    if cv is not None:
        # The prediction sets are calibrated on every sample's out-of-fold probabilities (all
        # held out, grouped), not only on the validation slice: ten times the data.
        index = {s.id: s for s in samples}
        scored = [index[i] for i in cv.sample_ids]
        clf.calibrate_sets(
            align_proba(cv.oof_proba, cv.classes, clf.classes_), scored, source=cv.mode
        )
        clf.metrics_ = {"protocol": cv.mode, **cv.to_dict()}
    clf.save(out)
    return clf
