"""``encoder``'s explanations: read from the pass its prediction made, over the text it read."""

from __future__ import annotations

import numpy as np
import pytest

from oncoclass.data.records import Sample
from oncoclass.features.sentence_encoder import get_sentence_encoder
from oncoclass.features.text import select_sentences, select_text
from oncoclass.models import create_model
from oncoclass.models.base import locate_spans

FILLER = "The cohort of this trial was followed for five years at three centres in Europe."


@pytest.fixture(scope="module")
def encoder_model(toy_train, toy_valid):
    return create_model("encoder", task="clinical-significance", seed=7, epochs=3).fit(
        toy_train, toy_valid
    )


def _long_sample() -> Sample:
    # More than the encoder's 200 words, so that the explanation's sentences (a 400-word
    # selection) go beyond what the encoder read.
    about = "Patients with EGFR T790M were resistant to erlotinib in this cohort."
    text = " ".join(
        [
            about,
            *[FILLER] * 12,
            about.replace("resistant", "not sensitive"),
            *[f"{FILLER[:-1]} and EGFR was sequenced in batch {i}." for i in range(20)],
        ]
    )
    return Sample(id="long", gene="EGFR", variation="T790M", text=text, drugs=("erlotinib",))


def test_explaining_a_prediction_needs_no_second_encoder_pass(encoder_model, monkeypatch):
    sample = _long_sample()
    spans = [s.text for s in select_sentences(sample.text, "EGFR", "T790M", max_tokens=400)]
    read = select_text(sample.text, "EGFR", "T790M", encoder_model.max_tokens)
    assert " ".join(spans) != read  # the explanation's sentences are not what the model read
    encoder = get_sentence_encoder(encoder_model.encoder_backend)
    encoder.cache_clear()
    passes: list[np.ndarray] = []
    states = encoder.backend.states
    monkeypatch.setattr(
        encoder.backend, "states", lambda ids, *a, **k: passes.append(ids) or states(ids, *a, **k)
    )
    proba = encoder_model.predict_proba([sample])
    occluded = encoder_model.predict_proba_occluded(sample, spans)
    assert len(passes) == 1
    np.testing.assert_allclose(occluded[0], proba[0], rtol=1e-6)  # row 0: the prediction
    # A sentence the encoder never read (past its budget) changes nothing when left out;
    # one it read does.
    offsets = locate_spans(read, spans)
    unread = [i for i, o in enumerate(offsets, start=1) if o == (0, 0)]
    assert unread
    for i in unread:
        np.testing.assert_array_equal(occluded[i], occluded[0])
    assert not np.allclose(occluded[1], occluded[0])


def test_spans_are_located_in_order_and_missing_ones_are_empty():
    text = "A one. B two. A one. C three."
    assert locate_spans(text, ["A one.", "A one.", "D four.", "C three."]) == [
        (0, 6),
        (14, 20),
        (0, 0),
        (21, 29),
    ]
    assert locate_spans(text, ["", "B two."]) == [(0, 0), (7, 13)]
