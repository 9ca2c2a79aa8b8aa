"""The main jobs, shared by the CLI, ``make run`` and the benchmarks: load a task's data,
train a model (optionally cross-validating it first), evaluate it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
from oncoclass.models.store import publish


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
    group_of = get_task(task).group_of
    if test is not None:
        return train_test(factory, samples, test, seed=seed, names=names, group_of=group_of)
    return cross_validate(
        factory, samples, k=folds, seed=seed, names=names, progress=progress, group_of=group_of
    )


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
    versioned: bool = False,
    **params: Any,
) -> Classifier:
    """Train on all samples (a grouped slice held out for early stopping and calibration)
    and save the self-describing model directory. ``cv``, the cross-validation of the same
    model on the same samples, goes into the model card and calibrates its prediction sets.

    With ``versioned``, ``out`` is a model home: the model goes into a new version directory
    there, which becomes ``current`` only once complete (``oncoclass.models.store``)."""
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
    if versioned:
        publish(out, lambda tmp: _save(clf, tmp))
    else:
        clf.save(out)
    return clf


def _save(clf: Classifier, directory: Path) -> str:
    clf.save(directory)
    return str(clf.training_["fingerprint"])


# ---- following the evidence ----------------------------------------------------------------------
@dataclass
class UpdateReport:
    """What a newer CIViC release changes for a trained model, and whether to retrain."""

    model_release: str | None
    new_release: str
    diff: Any  # oncoclass.data.releases.ReleaseDiff
    n_added: int
    n_known: int
    unknown_classes: dict[str, int]
    known_metrics: dict[str, float] | None
    cv_log_loss: float | None
    flagged_unknown: float | None
    flagged_known: float | None
    reasons: list[str]

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    def lines(self) -> list[str]:
        out = [*self.diff.summary(), ""]
        out.append(
            f"{self.n_added:,} items added since the model's release ({self.model_release}): "
            f"{self.n_known:,} of classes it knows, {self.n_added - self.n_known:,} of classes "
            "it does not know"
            + (
                f" ({', '.join(f'{c}: {n}' for c, n in self.unknown_classes.items())})"
                if self.unknown_classes
                else ""
            )  # fmt: skip
        )
        if self.known_metrics:
            m = self.known_metrics
            cv = (
                f" (cross-validated at training: {self.cv_log_loss:.3f})"
                if self.cv_log_loss
                else ""
            )
            out.append(
                f"the model on the added items of known classes: log loss {m['log_loss']:.3f}"
                f"{cv}, accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}"
            )
        if self.flagged_unknown is not None:
            out.append(
                f"novelty flag on added items: {self.flagged_unknown:.0%} of unknown-class items, "
                f"{self.flagged_known:.0%} of known-class items"
            )
        out.append("")
        if self.retrain:
            out.append("RECOMMENDATION: retrain (`oncoclass train --cv 5`), because:")
            out += [f"  - {r}" for r in self.reasons]
        else:
            out.append("RECOMMENDATION: no retraining needed yet.")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_release": self.model_release,
            "new_release": self.new_release,
            "diff": self.diff.to_dict(),
            "n_added": self.n_added,
            "n_known": self.n_known,
            "unknown_classes": self.unknown_classes,
            "known_metrics": self.known_metrics,
            "cv_log_loss": self.cv_log_loss,
            "flagged_unknown": self.flagged_unknown,
            "flagged_known": self.flagged_known,
            "retrain": self.retrain,
            "reasons": self.reasons,
        }


#: Retrain when the added items are this share of the training data, or more.
RETRAIN_SHARE = 0.05
#: ... or when the model's log loss on them is this much worse than cross-validated.
RETRAIN_LOG_LOSS_GAP = 0.1


def update_report(model: Classifier, new_dir: Path, data_home: Path | None = None) -> UpdateReport:
    """Compare the CIViC release ``model`` was trained on (it must be in the data home) with
    the one in ``new_dir``, score the model on the items added since, and recommend."""
    from oncoclass.data import civic_data_dir, load_civic
    from oncoclass.data.civic import civic_release
    from oncoclass.data.releases import compare_releases
    from oncoclass.evaluation import compute_metrics

    model_release = model.training_.get("data_release")
    if not model_release:
        raise DataNotFoundError(
            "the model card does not say which CIViC release it was trained on "
            "(a model trained by an older OncoClass, or not on CIViC): train it again"
        )
    try:
        old_dir = civic_data_dir(data_home, release=model_release)
    except DataNotFoundError as exc:
        raise DataNotFoundError(
            f"the release the model was trained on ({model_release}) is not in the data home; "
            f"fetch it with `oncoclass data fetch civic --release {model_release}`"
        ) from exc
    diff = compare_releases(old_dir, new_dir)
    added_ids = set(diff.new)
    added = [s for s in load_civic(new_dir, min_support=1) if s.id in added_ids]
    known = [s for s in added if s.label in model.classes_]
    unknown = Counter(s.label for s in added if s.label not in model.classes_)
    metrics = None
    if len({s.label for s in known}) >= 2:
        m = compute_metrics(
            [s.label for s in known], model.predict_proba(known), model.classes_, model.class_names_
        )
        metrics = m.summary()
    flagged_unknown = flagged_known = None
    threshold = model.novelty_threshold
    if threshold is not None and added:
        scores = model.novelty_score(added)
        is_known = np.array([s.label in model.classes_ for s in added])
        if (~is_known).any():
            flagged_unknown = float((scores[~is_known] >= threshold).mean())
        if is_known.any():
            flagged_known = float((scores[is_known] >= threshold).mean())
    cv = model.metrics_.get("metrics", {}).get("log_loss") if model.metrics_ else None
    reasons = []
    if diff.new_classes:
        reasons.append(f"new classes the model cannot predict: {', '.join(diff.new_classes)}")
    n_train = int(model.training_.get("n_samples") or 0)
    if n_train and len(added) >= RETRAIN_SHARE * n_train:
        reasons.append(
            f"{len(added):,} new items, {len(added) / n_train:.0%} of the {n_train:,} it "
            "learned from"
        )
    if metrics and cv and metrics["log_loss"] > cv + RETRAIN_LOG_LOSS_GAP:
        reasons.append(
            f"its log loss on the new items ({metrics['log_loss']:.3f}) is worse than "
            f"cross-validated ({cv:.3f})"
        )
    if len(diff.changed) >= RETRAIN_SHARE * max(n_train, 1):
        reasons.append(f"{len(diff.changed):,} items it learned from were changed by curators")
    return UpdateReport(
        model_release=model_release,
        new_release=civic_release(new_dir).name,
        diff=diff,
        n_added=len(added),
        n_known=len(known),
        unknown_classes=dict(unknown.most_common()),
        known_metrics=metrics,
        cv_log_loss=cv,
        flagged_unknown=flagged_unknown,
        flagged_known=flagged_known,
        reasons=reasons,
    )
