"""Grouped validation with fake classifiers that follow the models' contract."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pytest

from oncoclass.data.records import Sample
from oncoclass.data.tasks import MSKCC_CLASS_NAMES
from oncoclass.errors import InvalidInputError
from oncoclass.evaluation import (
    STRATIFIED,
    align_proba,
    cross_validate,
    grouped_folds,
    make_folds,
    split_validation,
    train_test,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class Minimal:
    """The rest of the model contract: sets of the top class only, no novelty detector."""

    coverage = None
    novelty_threshold = None

    def predict_sets(self, proba: np.ndarray) -> np.ndarray:
        return proba == proba.max(axis=1, keepdims=True)

    def novelty_score(self, samples: Sequence[Sample]) -> np.ndarray | None:
        return None


class PriorModel(Minimal):
    """Predicts the training class frequencies; knows only the classes it was trained on."""

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        labels = [s.label for s in train]
        self.classes_ = sorted(set(labels))
        self._prior = np.array([labels.count(c) for c in self.classes_]) / len(labels)
        return self

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
        return np.tile(self._prior, (len(samples), 1))


class CheatModel(Minimal):
    """Reads the label from the text ("label:x"): 0.9 on it, the rest spread evenly."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes_ = list(classes)

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        return self

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
        k = len(self.classes_)
        proba = np.full((len(samples), k), 0.1 / (k - 1))
        for row, s in enumerate(samples):
            proba[row, self.classes_.index(s.text.removeprefix("label:"))] = 0.9
        return proba


class RecordingModel(PriorModel):
    """A prior model that logs what it was fitted on and asked about, to check for leaks."""

    log: list[dict[str, set[str]]] = []

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        self.log.append(
            {"train": {s.group_key for s in train}, "valid": {s.group_key for s in valid or []}}
        )
        return super().fit(train, valid)

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
        self.log[-1]["test"] = {s.group_key for s in samples}
        return super().predict_proba(samples)


def make_samples(labels_per_group: Sequence[str], per_group: int = 3) -> list[Sample]:
    """``per_group`` samples for each group, all with the group's label (like a shared text)."""
    return [
        Sample(
            id=f"g{g}-{i}",
            gene="TP53",
            variation=f"R{g}{i}C",
            text=f"label:{label}",
            label=label,
            group=f"g{g}",
        )
        for g, label in enumerate(labels_per_group)
        for i in range(per_group)
    ]


BALANCED = make_samples(["x", "y", "z"] * 10)


def test_grouped_folds_partition_without_leaks() -> None:
    folds = grouped_folds(BALANCED, k=5)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(BALANCED)))
    for train, test in folds:
        train_groups = {BALANCED[i].group_key for i in train}
        test_groups = {BALANCED[i].group_key for i in test}
        assert not train_groups & test_groups
        assert len(train) + len(test) == len(BALANCED)


def test_grouped_folds_are_reproducible() -> None:
    a, b = grouped_folds(BALANCED, seed=1), grouped_folds(BALANCED, seed=1)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))


def test_grouped_folds_fall_back_when_stratification_is_impossible(caplog) -> None:
    samples = make_samples(["a", "b", "c", "d"], per_group=2)  # no class has 3 members' groups
    with caplog.at_level("WARNING"):
        folds, strategy = make_folds(samples, k=3)
    assert len(folds) == 3
    for train, test in folds:
        assert len(test) > 0
        assert not {samples[i].group for i in train} & {samples[i].group for i in test}
    # The fallback is explicit: logged, and carried into results and reports.
    assert "NOT stratified" in strategy and "no class has 3 samples" in strategy
    assert "NOT stratified" in caplog.text
    assert make_folds(BALANCED, k=3)[1] == STRATIFIED
    result = cross_validate(PriorModel, samples, k=3, progress=False)
    assert result.fold_strategy == strategy and result.to_dict()["fold_strategy"] == strategy


def test_grouped_folds_need_enough_groups() -> None:
    with pytest.raises(ValueError, match="only 3 groups for 5 folds"):
        grouped_folds(make_samples(["x", "y", "z"]), k=5)


def test_split_validation_is_grouped() -> None:
    train, valid = split_validation(BALANCED, valid_fraction=0.2, seed=3)
    assert valid
    assert len(train) + len(valid) == len(BALANCED)
    assert not {s.group for s in train} & {s.group for s in valid}
    assert split_validation(BALANCED, valid_fraction=0.0) == (BALANCED, [])
    one_group = make_samples(["x"], per_group=4)
    assert split_validation(one_group) == (one_group, [])
    with pytest.raises(InvalidInputError):
        split_validation(BALANCED, valid_fraction=1.0)


def test_cross_validate_never_leaks_groups() -> None:
    RecordingModel.log = []
    result = cross_validate(RecordingModel, BALANCED, k=4, valid_fraction=0.2, progress=False)
    assert len(RecordingModel.log) == 4
    for fit in RecordingModel.log:
        assert fit["valid"], "a validation part was split off"
        assert not fit["train"] & fit["test"]
        assert not fit["valid"] & fit["test"]
        assert not fit["train"] & fit["valid"]
    assert set(result.folds) == {0, 1, 2, 3}


def test_cross_validate_scores_a_cheating_model() -> None:
    result = cross_validate(lambda: CheatModel(["x", "y", "z"]), BALANCED, k=5, progress=True)
    assert result.classes == ["x", "y", "z"]
    assert result.metrics.accuracy == 1.0
    assert result.metrics.log_loss == pytest.approx(-math.log(0.9))
    assert result.metrics.n == len(BALANCED)
    assert len(result.fold_metrics) == 5
    assert sum(f.n for f in result.fold_metrics) == len(BALANCED)
    # Balanced classes: the prior is close to uniform, far worse than the cheat.
    assert result.prior.log_loss == pytest.approx(math.log(3), abs=0.05)
    assert result.prior.accuracy < 0.5
    np.testing.assert_allclose(result.oof_proba.sum(axis=1), 1.0)
    assert result.sample_ids == [s.id for s in BALANCED]
    assert result.to_dict()["mode"] == "5-fold grouped CV"


def test_prior_model_matches_the_prior_reference() -> None:
    result = cross_validate(PriorModel, BALANCED, k=3, valid_fraction=0.0, progress=False)
    # Same frequencies, only add-one smoothing apart.
    assert result.metrics.log_loss == pytest.approx(result.prior.log_loss, abs=0.02)


def test_missing_class_in_a_fold_does_not_crash() -> None:
    samples = make_samples(["x", "y"] * 6 + ["rare"])  # "rare" is one group: one fold only
    result = cross_validate(PriorModel, samples, k=3, names={"rare": "Rare one"}, progress=False)
    assert result.classes == ["rare", "x", "y"]
    assert result.metrics.names == ["Rare one", "x", "y"]
    rare = [i for i, y in enumerate(result.y_true) if y == "rare"]
    # The fold holding "rare" was trained without it: probability 0, finite but large log loss.
    assert np.all(result.oof_proba[rare, 0] == 0)
    assert math.isfinite(result.metrics.log_loss)
    assert all(math.isfinite(f.log_loss) for f in result.fold_metrics)
    assert result.metrics.per_class[0].support == len(rare)


def test_model_with_extra_classes_keeps_them() -> None:
    result = cross_validate(lambda: CheatModel(["w", "x", "y", "z"]), BALANCED, k=3, progress=False)
    assert result.classes == ["w", "x", "y", "z"]
    assert result.metrics.per_class[0].support == 0
    assert result.metrics.log_loss == pytest.approx(-math.log(0.9))


def test_train_test_mode() -> None:
    train = make_samples(["x", "y"] * 5)
    test = make_samples(["x", "y", "z"], per_group=2)
    result = train_test(PriorModel, train, test)
    assert result.classes == ["x", "y", "z"]
    assert result.fold_metrics == []
    assert np.all(result.folds == -1)
    assert result.metrics.n == len(test)
    assert result.to_dict()["mode"] == "train/test"


def test_model_breaking_the_contract_is_reported() -> None:
    class Broken(PriorModel):
        def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
            return np.ones((len(samples), 7))

    with pytest.raises(InvalidInputError, match="shape"):
        cross_validate(Broken, BALANCED, k=3, progress=False)


def test_unlabelled_samples_are_rejected() -> None:
    samples = [*BALANCED, BALANCED[0].with_label(None)]
    with pytest.raises(InvalidInputError, match="no label"):
        cross_validate(PriorModel, samples, progress=False)


def test_align_proba_reorders_and_renormalises() -> None:
    proba = np.array([[0.25, 0.75]])
    np.testing.assert_allclose(align_proba(proba, ["b", "a"], ["a", "b", "c"]), [[0.75, 0.25, 0]])
    np.testing.assert_allclose(align_proba(proba, ["b", "extra"], ["a", "b"]), [[0, 1]])


def _mskcc(path: Path, labels: Sequence[str]) -> list[Sample]:
    frame = pd.read_csv(path, dtype=str)
    return [
        # No texts here, so group by gene: stricter than by text, and never leaky.
        Sample(id=row.ID, gene=row.Gene, variation=row.Variation, label=label, group=row.Gene)
        for row, label in zip(frame.itertuples(), labels, strict=True)
    ]


@pytest.mark.integration
def test_real_mskcc_prior_baseline() -> None:
    mskcc = DATA / "mskcc"
    if not (mskcc / "training_variants").exists():
        pytest.skip("real data not found in ../shared/data")
    train_labels = pd.read_csv(mskcc / "training_variants", dtype=str)["Class"].tolist()
    train = _mskcc(mskcc / "training_variants", train_labels)
    assert len(train) == 3321

    result = cross_validate(PriorModel, train, k=5, names=MSKCC_CLASS_NAMES, progress=False)
    assert result.classes == [str(i) for i in range(1, 10)]
    assert result.metrics.names[3] == "Loss-of-function"
    assert result.metrics.log_loss == pytest.approx(result.prior.log_loss, abs=0.05)
    assert 1.5 < result.prior.log_loss < math.log(9)  # imbalanced classes beat uniform

    solution = pd.read_csv(mskcc / "stage1_solution_filtered.csv", dtype={"ID": str})
    labels = (solution.drop(columns="ID").to_numpy().argmax(axis=1) + 1).astype(str).tolist()
    variants = pd.read_csv(mskcc / "test_variants", dtype=str).set_index("ID")
    stage1 = [
        Sample(id=i, gene=variants.at[i, "Gene"], variation=variants.at[i, "Variation"], label=y)
        for i, y in zip(solution["ID"], labels, strict=True)
    ]
    fixed = train_test(PriorModel, train, stage1, names=MSKCC_CLASS_NAMES)
    assert fixed.metrics.n == 368
    assert math.isfinite(fixed.metrics.log_loss)


def test_the_coarse_level_is_scored_too() -> None:
    samples = make_samples(["A: x", "A: y", "B: z"] * 4)
    result = cross_validate(
        lambda: CheatModel(["A: x", "A: y", "B: z"]), samples, k=3, progress=False,
        group_of=lambda label: label.split(":")[0],
    )  # fmt: skip
    assert result.group_metrics is not None
    assert result.group_metrics.labels == ["A", "B"]
    assert result.group_metrics.accuracy == 1.0  # right class, so right group
    assert result.group_metrics.log_loss < result.metrics.log_loss  # 0.9+0.05 pooled for A
    assert result.to_dict()["group_metrics"]["accuracy"] == 1.0
