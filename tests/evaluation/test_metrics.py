"""compute_metrics against cases whose values can be worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from oncoclass.errors import InvalidInputError
from oncoclass.evaluation import (
    Metrics,
    compute_metrics,
    expected_calibration_error,
    prior_proba,
)

CLASSES = ["a", "b", "c"]


def test_perfect_prediction() -> None:
    y = ["a", "b", "c", "a"]
    proba = np.eye(3)[[0, 1, 2, 0]]
    m = compute_metrics(y, proba, CLASSES)
    assert m.n == 4
    assert m.log_loss == pytest.approx(0.0, abs=1e-12)
    assert m.accuracy == 1.0
    assert m.macro_f1 == 1.0
    assert m.roc_auc == 1.0
    assert m.ece == pytest.approx(0.0)
    assert m.brier == pytest.approx(0.0)
    assert m.confusion == [[2, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert [c.support for c in m.per_class] == [2, 1, 1]


def test_uniform_prediction_has_log_loss_ln_k() -> None:
    y = ["a", "b", "c", "c", "b"]
    m = compute_metrics(y, np.full((5, 3), 1 / 3), CLASSES)
    assert m.log_loss == pytest.approx(math.log(3))
    assert m.roc_auc == pytest.approx(0.5)
    # Brier of the uniform vector: (1 - 1/3)^2 + 2 * (1/3)^2 = 2/3 for every sample.
    assert m.brier == pytest.approx(2 / 3)


def test_hand_computed_values() -> None:
    y = ["a", "b"]
    proba = np.array([[0.8, 0.2, 0.0], [0.6, 0.4, 0.0]])
    m = compute_metrics(y, proba, CLASSES, names=["Alpha", "Beta", "Gamma"])
    assert m.log_loss == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)
    assert m.accuracy == 0.5
    assert m.confusion == [[1, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert m.per_class[0].precision == pytest.approx(0.5)
    assert m.per_class[0].recall == 1.0
    assert m.per_class[0].name == "Alpha"
    # Both predictions say "a" at 0.8 and 0.6 (bins differ); one is right, one is wrong.
    assert m.ece == pytest.approx((abs(1 - 0.8) + abs(0 - 0.6)) / 2)


def test_zero_probability_on_true_class_is_finite() -> None:
    m = compute_metrics(["c", "a"], np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), CLASSES)
    assert math.isfinite(m.log_loss)
    assert m.log_loss == pytest.approx(-math.log(1e-15) / 2, rel=1e-3)


def test_auc_over_present_classes_and_undefined_with_one_class() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    m = compute_metrics(["a", "b", "a"], proba, CLASSES)  # "c" absent
    assert m.roc_auc == 1.0
    assert m.per_class[2].support == 0
    assert compute_metrics(["a", "a", "a"], proba, CLASSES).roc_auc is None


def test_unknown_label_raises_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\['z'\] are not among the classes"):
        compute_metrics(["a", "z"], np.full((2, 3), 1 / 3), CLASSES)


@pytest.mark.parametrize(
    "proba",
    [np.full((2, 2), 0.5), np.full((3, 3), 1 / 3), np.array([[np.nan, 0.5, 0.5]] * 2)],
)
def test_bad_probabilities_raise(proba: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        compute_metrics(["a", "b"], proba, CLASSES)


def test_to_dict_round_trips_through_json() -> None:
    m = compute_metrics(["a", "b", "c"], np.full((3, 3), 1 / 3), CLASSES)
    again = Metrics.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m
    assert set(m.summary()) == {"n", "log_loss", "accuracy", "macro_f1", "roc_auc", "ece", "brier"}


def test_summary_omits_undefined_auc() -> None:
    m = compute_metrics(["a", "a"], np.full((2, 3), 1 / 3), CLASSES)
    assert "roc_auc" not in m.summary()


def test_ece_of_overconfident_model() -> None:
    # Always 90% sure, right half the time: ECE = |0.5 - 0.9| = 0.4.
    proba = np.array([[0.9, 0.1]] * 4)
    assert expected_calibration_error(np.array([0, 1, 0, 1]), proba) == pytest.approx(0.4)


def test_prior_proba_add_one_smoothing() -> None:
    proba = prior_proba(["a", "a", "b"], CLASSES, 4)
    assert proba.shape == (4, 3)
    np.testing.assert_allclose(proba[0], [3 / 6, 2 / 6, 1 / 6])
