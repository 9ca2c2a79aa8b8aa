"""Every registered model honours the one contract and round-trips through its checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oncoclass.data.records import Sample
from oncoclass.errors import ModelNotFittedError, ModelNotFoundError, UnknownModelError
from oncoclass.models import REGISTRY, create_model, load_model, read_card

FAST = {
    "baseline": {},
    "cnn": {"epochs": 4, "emb_dim": 32, "n_filters": 16},
    "encoder": {"epochs": 6},
    "multimodal": {"epochs": 4, "emb_dim": 32, "n_filters": 16},
    "ensemble": {
        "members": ["baseline", "cnn"],
        "member_params": {"cnn": {"epochs": 3, "emb_dim": 32, "n_filters": 16}},
    },
}


@pytest.fixture(scope="module", params=sorted(FAST))
def fitted(request, toy_train, toy_valid, tmp_path_factory):
    name = request.param
    model = create_model(name, task="clinical-significance", seed=7, **FAST[name])
    model.fit(toy_train, toy_valid)
    path = model.save(tmp_path_factory.mktemp(name))
    return model, path


def test_every_registered_model_is_tested():
    assert set(REGISTRY) >= set(FAST)


def test_probabilities_are_calibrated_distributions(fitted, toy_test):
    model, _ = fitted
    proba = model.predict_proba(toy_test)
    assert proba.shape == (len(toy_test), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert model.classes_ == sorted({s.label for s in toy_test})
    assert model.calibrator_.temperature_ > 0


def test_learns_the_signal(fitted, toy_test):
    model, _ = fitted
    accuracy = np.mean(
        [p == s.label for p, s in zip(model.predict(toy_test), toy_test, strict=False)]
    )
    assert accuracy > 0.8  # chance is 1/3


def test_checkpoint_describes_itself_and_round_trips(fitted, toy_test):
    model, path = fitted
    card = read_card(path)
    assert card["model"] == model.name
    assert card["task"] == "clinical-significance"
    assert card["class_names"] == model.class_names_
    assert len(card["training"]["fingerprint"]) == 16
    assert card["package_version"]
    json.dumps(card)  # plain JSON
    again = load_model(path)
    np.testing.assert_allclose(
        again.predict_proba(toy_test), model.predict_proba(toy_test), atol=1e-5
    )


def test_unknown_gene_and_variation_are_normal_input(fitted):
    model, _ = fitted
    odd = [
        Sample(id="x", gene="NOTAGENE1", variation="Q999*"),
        Sample(id="y", gene="", variation="???", text="@@@ ### ;;;"),
        Sample(id="z", gene="BRAF", variation="weird shape 12 ab", text="x" * 5000),
    ]
    proba = model.predict_proba(odd)
    assert np.isfinite(proba).all() and proba.shape[0] == 3
    assert not model.genomic_.known_gene("NOTAGENE1")
    assert model.genomic_.known_gene("braf")


def test_same_seed_same_model(toy_train, toy_valid, toy_test):
    a = create_model("cnn", seed=3, **FAST["cnn"]).fit(toy_train, toy_valid)
    b = create_model("cnn", seed=3, **FAST["cnn"]).fit(toy_train, toy_valid)
    np.testing.assert_allclose(a.predict_proba(toy_test), b.predict_proba(toy_test), atol=1e-6)


def test_errors_are_typed(tmp_path):
    with pytest.raises(UnknownModelError, match="choose one of"):
        create_model("nope")
    with pytest.raises(ModelNotFittedError):
        create_model("baseline").predict_proba([Sample(id="1", gene="A", variation="B")])
    with pytest.raises(ModelNotFoundError, match="oncoclass train"):
        load_model(tmp_path)
