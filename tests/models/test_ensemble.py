"""The ensemble's rules of its own: how it averages its members (and a member's seeds), and
checkpoints saved under older rules keep their answers."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import log_softmax

from oncoclass.errors import InvalidInputError
from oncoclass.models import create_model, load_model
from oncoclass.models.base import MODEL_FILE

SMALL = {
    "members": ["baseline", "cnn"],
    "member_params": {"cnn": {"epochs": 3, "emb_dim": 32, "n_filters": 16}},
}


def _fit(combine: str, toy_train, toy_valid):
    model = create_model("ensemble", task="clinical-significance", seed=7, combine=combine, **SMALL)
    return model.fit(toy_train, toy_valid)


def _detune_members(model) -> None:
    # What a member's own calibration would do to the mean: a hotter temperature, a prior shift.
    for member in model.members_:
        member.calibrator_.temperature_ *= 3.0
        member.calibrator_.bias_ = [0.5 * i for i in range(len(model.classes_))]


def test_the_ensemble_calibrates_once_on_the_members_scores(toy_train, toy_valid, toy_test):
    model = _fit("uncalibrated", toy_train, toy_valid)
    before = model.predict_proba(toy_test)
    _detune_members(model)
    # Nothing the members' own calibrators say reaches the ensemble's answer (or explanation).
    np.testing.assert_array_equal(model.predict_proba(toy_test), before)
    sample = toy_test[0]
    spans = [sample.text, "An unrelated sentence."]
    np.testing.assert_allclose(
        model.predict_proba_occluded(sample, spans)[0],
        model.predict_proba([replace(sample, text=" ".join(spans))])[0],
        atol=1e-9,
    )


def test_the_older_rule_averages_calibrated_members(toy_train, toy_valid, toy_test):
    model = _fit("calibrated", toy_train, toy_valid)
    before = model.predict_proba(toy_test)
    _detune_members(model)
    # The rule the test above rules out: the members' calibrators move the answer.
    assert not np.allclose(model.predict_proba(toy_test), before)


def test_a_checkpoint_saved_before_the_choice_keeps_its_answers(
    toy_train, toy_valid, toy_test, tmp_path
):
    model = _fit("calibrated", toy_train, toy_valid)
    path = model.save(tmp_path / "old")
    card = json.loads((path / MODEL_FILE).read_text())
    del card["config"]["combine"]  # as every ensemble saved before it was written
    (path / MODEL_FILE).write_text(json.dumps(card))
    again = load_model(path)
    assert again.combine == "calibrated"
    np.testing.assert_array_equal(again.predict_proba(toy_test), model.predict_proba(toy_test))


def test_an_unknown_rule_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="combine must be one of"):
        create_model("ensemble", combine="median")


def test_a_member_fitted_from_several_seeds_weighs_as_one(toy_train, toy_valid, toy_test, tmp_path):
    model = create_model(
        "ensemble", task="clinical-significance", seed=7, member_seeds={"cnn": 2}, **SMALL
    ).fit(toy_train, toy_valid)
    assert [(m.name, m.seed) for m in model.members_] == [
        ("baseline", 7),
        ("cnn", 7),
        ("cnn", 1007),
    ]
    logp = [log_softmax(m._logits(toy_test), axis=1) for m in model.members_]
    # The cnn's two seeds are averaged first: together they weigh as much as the baseline.
    np.testing.assert_allclose(model._logits(toy_test), (logp[0] + (logp[1] + logp[2]) / 2) / 2)
    again = load_model(model.save(tmp_path / "seeds"))
    np.testing.assert_array_equal(again.predict_proba(toy_test), model.predict_proba(toy_test))


def test_a_checkpoint_saved_before_member_seeds_has_one_fit_per_member(
    toy_train, toy_valid, toy_test, tmp_path
):
    # ``encoder`` has several seeds by default now; an ensemble saved before had one.
    model = create_model(
        "ensemble",
        task="clinical-significance",
        seed=7,
        members=["baseline", "encoder"],
        member_seeds={},
        member_params={"encoder": {"epochs": 3}},
    ).fit(toy_train, toy_valid)
    path = model.save(tmp_path / "old")
    card = json.loads((path / MODEL_FILE).read_text())
    del card["config"]["member_seeds"]
    (path / MODEL_FILE).write_text(json.dumps(card))
    again = load_model(path)
    assert [m.name for m in again.members_] == ["baseline", "encoder"]
    np.testing.assert_array_equal(again.predict_proba(toy_test), model.predict_proba(toy_test))


@pytest.mark.parametrize("seeds", [{"cnn": 0}, {"cnn": 1.5}])
def test_a_member_needs_at_least_one_whole_seed(seeds):
    with pytest.raises(InvalidInputError, match="member_seeds"):
        create_model("ensemble", member_seeds=seeds)
