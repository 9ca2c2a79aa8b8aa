"""Every registered model honours the one contract and round-trips through its checkpoint."""

from __future__ import annotations

import json
from dataclasses import replace

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
    # OncoClass's own models (the benchmarks may register their references too).
    ours = {n for n, cls in REGISTRY.items() if cls.__module__.startswith("oncoclass.models")}
    assert ours >= {"baseline", "cnn", "encoder", "multimodal", "ensemble"}
    assert set(FAST) >= ours, f"untested: {ours - set(FAST)}"


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


def test_model_files_hold_no_pickle_and_are_checksummed(fitted):
    model, path = fitted
    card = read_card(path)
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert sorted(card["files"]) == [f for f in files if f != "model.json"]
    for name in card["files"]:
        assert not name.endswith((".joblib", ".pkl", ".pickle")), name
        if name.endswith(".npz"):
            np.load(path / name, allow_pickle=False)  # arrays only, no objects


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete", "card"])
def test_a_damaged_model_directory_is_refused_naming_the_file(fitted, tmp_path, damage):
    import shutil

    from oncoclass.errors import CorruptModelError

    _, path = fitted
    copy = shutil.copytree(path, tmp_path / "copy")
    victim = max((p for p in copy.rglob("*") if p.is_file() and p.name != "model.json"),
                 key=lambda p: p.stat().st_size)  # fmt: skip
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    elif damage == "alter":
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif damage == "delete":
        victim.unlink()
    else:
        victim = copy / "model.json"
        victim.write_text('{"model": "baseline"')  # cut short
    with pytest.raises(CorruptModelError) as err:
        load_model(copy)
    assert victim.name in str(err.value)


def _mskcc_style(samples: list[Sample]) -> list[Sample]:
    """The toy samples relabelled into three of MSKCC's fixed classes (mutation effect)."""
    to_effect = {"Predictive: Resistance": "7", "Predictive: Sensitivity/Response": "4"}
    return [replace(s, label=to_effect.get(s.label or "", "1")) for s in samples]


def test_each_task_calibrates_as_measured(toy_train, toy_valid, tmp_path):
    # docs/experiments/calibration: a class bias helps MSKCC's mutation effect and overfits
    # CIViC's grouped validation slice; a checkpoint keeps the calibration it was fitted with.
    civic = create_model("baseline", task="clinical-significance", seed=7).fit(toy_train, toy_valid)
    assert civic.calibrator_.bias_ == []
    mskcc = create_model("baseline", task="mutation-effect", seed=7).fit(
        _mskcc_style(toy_train), _mskcc_style(toy_valid)
    )
    assert mskcc.calibrator_.class_bias
    assert len(mskcc.calibrator_.bias_) == 9 and any(mskcc.calibrator_.bias_)
    again = load_model(mskcc.save(tmp_path / "mskcc"))
    assert again.calibrator_.bias_ == mskcc.calibrator_.bias_
