"""Prediction sets: the stated coverage holds on new data and sets are the most likely
classes."""

from __future__ import annotations

import numpy as np

from oncoclass.training.conformal import ConformalSets


def _calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a calibrated 5-class model and labels drawn from them."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet([0.4] * 5, size=n)
    return proba, np.array([rng.choice(5, p=p) for p in proba])


def test_the_stated_coverage_holds_on_new_data() -> None:
    sets = ConformalSets(0.9).fit(*_calibrated(2000, 0), source="test")
    proba, y = _calibrated(4000, 1)
    covered = sets.predict(proba)[np.arange(len(y)), y].mean()
    assert 0.88 <= covered <= 0.93
    assert sets.predict(proba).sum(axis=1).mean() < 4  # informative, not everything


def test_sets_are_the_most_likely_classes() -> None:
    sets = ConformalSets(0.9).fit(*_calibrated(2000, 0), source="test")
    proba, _ = _calibrated(500, 2)
    chosen = sets.predict(proba)
    for p, s in zip(proba, chosen, strict=True):
        inside, outside = p[s], p[~s]
        assert s[p.argmax()] and (not len(outside) or inside.min() >= outside.max())


def test_scores_and_sets_are_deterministic() -> None:
    proba, y = _calibrated(300, 3)
    a = ConformalSets(0.8).fit(proba, y, source="a")
    b = ConformalSets.from_dict(a.to_dict())
    np.testing.assert_array_equal(a.predict(proba), b.predict(proba))


def test_unfitted_sets_hold_the_top_class_only() -> None:
    proba = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_array_equal(ConformalSets().predict(proba), [[False, True, False]])
