"""The sentence-encoder back-end is part of a model: recorded in model.json, read back on load,
``torch`` for a model saved before back-ends existed, and a changed encoder build flagged."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest

from oncoclass.data.records import Sample
from oncoclass.errors import InvalidInputError
from oncoclass.features.encoder_backends import REFERENCE_BACKEND, backend_key
from oncoclass.features.sentence_encoder import DEFAULT_BACKEND
from oncoclass.models import create_model, load_model
from oncoclass.models.base import MODEL_FILE

LABELS = ("Predictive: Resistance", "Predictive: Sensitivity/Response")
TEXTS = {
    LABELS[0]: "The tumour was resistant to {d} and progressed quickly.",
    LABELS[1]: "Patients responded to {d} with durable remissions.",
}


def samples(n: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label, drug = LABELS[i % 2], rng.choice(["erlotinib", "vemurafenib"])
        out.append(
            Sample(
                id=f"{seed}-{i}",
                gene=rng.choice(["EGFR", "BRAF"]),
                variation="V600E",
                text=TEXTS[label].format(d=drug),
                label=label,
                group=f"g{i}",
            )
        )
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The static back-end: cheap, and not the default, so that "recorded" is tested.
    model = create_model("encoder", encoder_backend="static", epochs=1, seed=0)
    return model.fit(samples(40), samples(10, seed=1)).save(tmp_path_factory.mktemp("m") / "m")


def test_the_back_end_is_recorded_and_read_back(saved: Path) -> None:
    card = json.loads((saved / MODEL_FILE).read_text())
    assert card["config"]["encoder_backend"] == "static"
    model = load_model(saved)
    assert model.encoder_backend == "static"
    test = samples(6, seed=2)
    again = load_model(saved)
    np.testing.assert_array_equal(model.predict_proba(test), again.predict_proba(test))


def test_a_model_saved_before_back_ends_existed_reads_the_reference(
    saved: Path, tmp_path: Path
) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for path in saved.iterdir():
        (legacy / path.name).write_bytes(path.read_bytes())
    card = json.loads((legacy / MODEL_FILE).read_text())
    del card["config"]["encoder_backend"]
    (legacy / MODEL_FILE).write_text(json.dumps(card))
    assert load_model(legacy).encoder_backend == REFERENCE_BACKEND


def test_a_new_model_reads_the_default_back_end() -> None:
    assert create_model("multimodal").get_params()["encoder_backend"] == DEFAULT_BACKEND
    assert create_model("ensemble").get_params()["member_params"] == {}


def test_an_unknown_back_end_is_refused_at_construction() -> None:
    with pytest.raises(InvalidInputError, match="encoder_backend|back-end"):
        create_model("multimodal", encoder_backend="onnx-int4")


def test_a_model_served_with_another_encoder_build_is_flagged(
    saved: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="oncoclass.models.encoder"):
        load_model(saved)
    assert not caplog.records  # the same build: nothing to say
    import oncoclass.models.encoder as encoder_module

    monkeypatch.setattr(encoder_module, "backend_key", lambda name: f"{name}-otherbuild")
    with caplog.at_level(logging.WARNING, logger="oncoclass.models.encoder"):
        load_model(saved)
    assert backend_key("static") in caplog.text
    assert "static-otherbuild" in caplog.text
