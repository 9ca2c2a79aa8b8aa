"""The sparse features of ``baseline`` (and of the novelty detector)."""

from __future__ import annotations

from dataclasses import replace

import scipy.sparse as sp

from oncoclass.data import load_civic
from oncoclass.features.text import clean_text
from oncoclass.models.linear import FeatureSpace, _columns, near_drugs


def test_the_unchecked_transform_gives_scikit_learns_checked_numbers(civic_dir, tmp_path) -> None:
    # transform() skips scikit-learn's parameter and array checks for speed: on real CIViC
    # statements it must give exactly what the checked calls give, before and after a reload.
    samples = load_civic(civic_dir, min_support=30)[:400]
    train, test = samples[:300], samples[300:]
    space = FeatureSpace(max_tokens=400, max_features=5_000)
    space.fit_transform(train)
    space.save(tmp_path, "features")
    cols = _columns(test, space.max_tokens)
    checked = sp.hstack([v.transform(cols[k]) for k, v in space.vectorizers_.items()], "csr")
    for fitted in (space, FeatureSpace.load(tmp_path, "features")):
        fast = fitted.transform(test)
        assert fast.shape == checked.shape and fast.dtype == checked.dtype
        assert (fast != checked).nnz == 0
        assert checked.nnz > 10 * len(test)  # real features, not two empty matrices


def test_the_words_next_to_the_items_drug_tell_which_effect_it_is_about() -> None:
    text = clean_text("EGFR T790M: resistant to erlotinib but sensitive to osimertinib (n=12).")
    assert near_drugs(text, ("Osimertinib",)) == "erlotinib but sensitive to drug n 12"
    erlotinib = near_drugs(text, ("Erlotinib",))
    assert erlotinib == "egfr t790m resistant to drug but sensitive to osimertinib"
    assert near_drugs(text, ("Trastuzumab Deruxtecan", "")) == ""  # not named: nothing
    two_words = clean_text("Response to trastuzumab deruxtecan was durable.")
    assert near_drugs(two_words, ("Trastuzumab Deruxtecan",)) == "response to drug was durable"


def test_the_drug_words_are_a_feature_only_where_drugs_are_given(civic_dir, tmp_path) -> None:
    samples = load_civic(civic_dir, min_support=30)[:300]
    with_drugs = FeatureSpace(max_features=5_000)
    with_drugs.fit_transform(samples)
    assert "near_drugs" in with_drugs.vectorizers_
    with_drugs.save(tmp_path, "features")
    assert "near_drugs" in FeatureSpace.load(tmp_path, "features").vectorizers_
    text_only = FeatureSpace(max_features=5_000)
    text_only.fit_transform([replace(s, drugs=()) for s in samples])  # the text-only track
    assert "near_drugs" not in text_only.vectorizers_
