"""Calibration: a temperature fitted on held-out logits; checkpoints that learned a class bias
keep it."""

from __future__ import annotations

import numpy as np

from oncoclass.training.calibration import Calibrator, softmax


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits three times too sharp for the labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 4)) * 2.0
    y = np.array([rng.choice(4, p=p) for p in softmax(logits)])
    return logits * 3.0, y


def _nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(proba[np.arange(len(y)), y]).mean())


def test_a_temperature_alone_undoes_overconfidence() -> None:
    logits, y = _overconfident(3000, 0)
    calibrator = Calibrator().fit(logits, y)
    assert calibrator.bias_ == []  # no class bias: it overfits a small validation slice
    assert 2.5 < calibrator.temperature_ < 3.5
    proba = calibrator.transform(logits)
    np.testing.assert_allclose(proba, softmax(logits / calibrator.temperature_))
    assert _nll(proba, y) < _nll(softmax(logits), y)


def test_a_class_bias_is_learned_only_when_asked_for() -> None:
    logits, y = _overconfident(3000, 1)
    shifted = logits + np.array([0.0, 0.0, 0.0, 4.0])  # the prior shift a bias can undo
    with_bias = Calibrator(class_bias=True).fit(shifted, y)
    assert len(with_bias.bias_) == 4 and with_bias.bias_[3] < -0.5
    assert _nll(with_bias.transform(shifted), y) < _nll(
        Calibrator().fit(shifted, y).transform(shifted), y
    )


def test_a_card_saved_with_a_class_bias_keeps_its_answers() -> None:
    logits, y = _overconfident(500, 2)
    old = Calibrator(class_bias=True).fit(logits, y)
    card = old.to_dict()
    del card["class_bias"]  # as every card written before the choice existed
    again = Calibrator.from_dict(card)
    assert again.class_bias
    np.testing.assert_array_equal(again.transform(logits), old.transform(logits))
    assert Calibrator.from_dict(Calibrator().fit(logits, y).to_dict()).bias_ == []
