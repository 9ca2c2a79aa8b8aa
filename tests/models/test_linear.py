"""The sparse features of ``baseline`` (and of the novelty detector)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace

import scipy.sparse as sp

from oncoclass.data import load_civic
from oncoclass.features.text import clean_text
from oncoclass.models.linear import FeatureSpace, _columns, direction_counts, near_drugs


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


def test_direction_counts_tell_resistance_from_response_and_read_negation_in_its_clause() -> None:
    text = (
        "EGFR T790M tumours were resistant to erlotinib, but responded to osimertinib; "
        "patients did not respond to gefitinib. Sensitivity was durable."
    )
    counts = {k: round(math.expm1(v)) for k, v in direction_counts(text, ("Erlotinib",)).items()}
    assert counts == {
        "text_resistance": 1, "text_response": 3,  # responded, Sensitivity, durable
        "text_not_resistance": 0, "text_not_response": 1,  # "did not respond"
        "text_poor_outcome": 0, "text_better_outcome": 0,
        "text_not_poor_outcome": 0, "text_not_better_outcome": 0,
        "drug_resistance": 1, "drug_response": 0,  # only erlotinib's clause
        "drug_not_resistance": 0, "drug_not_response": 0,
        "text_reduced_response": 0, "text_increased_response": 0, "text_acquired_resistance": 0,
    }  # fmt: skip
    gefitinib = direction_counts(text, ("gefitinib",))
    assert gefitinib["drug_not_response"] > 0 and gefitinib["drug_resistance"] == 0
    # "insensitive" and "nonresponders" are resistance, not response; no drug, no drug counts.
    other = direction_counts("Insensitive lines; nonresponders relapsed.", ())
    assert other["text_resistance"] == math.log1p(3) and other["text_response"] == 0
    assert all(v == 0 for k, v in other.items() if k.startswith("drug_"))


def test_outcome_counts_tell_poor_from_better_outcome_over_the_whole_text() -> None:
    text = (
        "IDH1 R132H was associated with longer overall survival and a favorable prognosis, "
        "whereas MGMT-unmethylated tumours had worse outcomes and shorter PFS with temozolomide; "
        "the mutation was not associated with poor response."
    )
    counts = {k: round(math.expm1(v)) for k, v in direction_counts(text, ("temozolomide",)).items()}
    assert (counts["text_better_outcome"], counts["text_poor_outcome"]) == (2, 2)
    assert (counts["text_not_poor_outcome"], counts["text_not_better_outcome"]) == (1, 0)
    assert "drug_poor_outcome" not in counts  # an outcome is the patient's, not the drug's
    # "unfavorable" is poor (not "favo..."), a word's middle is no cue ("forgood", "nonpoor").
    other = direction_counts("Unfavorable; forgood nonpoor.", ())
    assert other["text_poor_outcome"] == math.log1p(1) and other["text_better_outcome"] == 0


def test_shifted_counts_read_a_response_lessened_or_heightened_and_an_acquired_resistance() -> None:
    text = (
        "Reduced sensitivity to erlotinib and lower objective response rates were seen, with "
        "loss of the benefit; MET amplification enhanced sensitivity. Acquired T790M and "
        "secondary mutations emerged. Decreased. Sensitivity (lower, then response)."
    )
    counts = {k: round(math.expm1(v)) for k, v in direction_counts(text, ()).items()}
    assert counts["text_reduced_response"] == 3  # reduced, lower (two words apart), loss of
    assert counts["text_increased_response"] == 1  # enhanced
    assert counts["text_acquired_resistance"] == 3  # acquired, secondary, emerged
    # A sentence or clause between them, or three words, breaks the link.
    far = direction_counts("Reduced growth of the tumour cells and response.", ())
    assert far["text_reduced_response"] == 0


def test_the_direction_counts_are_features_of_the_fitted_space(civic_dir, tmp_path) -> None:
    samples = load_civic(civic_dir, min_support=30)[:300]
    space = FeatureSpace(max_features=5_000)
    x = space.fit_transform(samples)
    fields = space.vectorizers_["fields"]
    for name in ("text_resistance", "text_poor_outcome"):
        assert x[:, fields.vocabulary_[name]].nnz > 10  # CIViC says "resistance", "poor": real
    space.save(tmp_path, "features")
    assert (
        "drug_not_response"
        in FeatureSpace.load(tmp_path, "features").vectorizers_["fields"].vocabulary_
    )


def _direction_counts_word_by_word(text: str, drugs: Sequence[str]) -> dict[str, float]:
    """The definition direction_counts() must keep (docs/experiments/direction-words): every
    clause's words, those after a negation cue negated."""
    names = [n for n in (clean_text(d).split() for d in drugs) if n]
    counts = {f"{s}_{n}{k}": 0 for s in ("text", "drug") for n in ("", "not_") for k in KINDS}
    counts = {k: v for k, v in counts.items() if not k.startswith("drug_") or "outcome" not in k}
    for clause in re.split(r"[,;:.!?()]+\s", text):
        plain, cues, negated = [], [], False
        for word in clean_text(clause).split():
            if word in NEGATION:
                negated = True
                continue
            plain.append(word)
            for kind, beginnings in KINDS.items():
                if word.startswith(beginnings):
                    cues.append(f"{'not_' if negated else ''}{kind}")
                    break
        about = any(plain[i : i + len(n)] == n for n in names for i in range(len(plain)))
        for cue in cues:
            counts[f"text_{cue}"] += 1
            if "outcome" not in cue:  # outcome words: over the whole text only
                counts[f"drug_{cue}"] += about
    return {k: math.log1p(v) for k, v in counts.items()}


NEGATION = {
    "not", "no", "never", "without", "lack", "lacked", "lacking", "absence", "failed", "fail",
    "fails", "unable", "neither", "nor", "cannot", "didn", "doesn", "don", "isn", "wasn", "weren",
    "aren",
}  # fmt: skip
KINDS = {
    "resistance": ("resist", "refractor", "insensitiv", "progress", "relaps", "nonrespon",
                   "unrespons"),
    "response": ("sensitiv", "respon", "benefit", "remission", "efficac", "shrink", "regress",
                 "improv", "effective", "durable"),
    "poor_outcome": ("poor", "wors", "shorter", "shorten", "unfavo", "adverse", "inferior",
                     "aggressiv", "dismal", "detrimental"),
    "better_outcome": ("better", "favo", "longer", "prolong", "superior", "good", "excellent"),
}  # fmt: skip


def test_direction_counts_read_only_clauses_with_cues_and_give_the_word_by_word_counts(
    civic_dir,
) -> None:
    samples = load_civic(civic_dir, min_support=30)
    texts = [(s.text, s.drugs) for s in samples]
    texts += [
        ("Tumours did NOT respond to Erlotinib_x, (or) to erlotinib!? ", ("erlotinib",)),
        ("Non-responders; unresponsive: nonresponse,resistance(insensitive)", ("x",)),
        ("İnsensitive to ᴿesist; lack-of benefit; no-benefit; notresponding", ("ß",)),
        ("Not poorer, un-favourable: no worse/better (HR 0.5) PROLONGED", ("poor",)),
    ]
    assert sum(bool(d) for _, d in texts) > 100
    shifted = ("text_reduced_response", "text_increased_response", "text_acquired_resistance")
    for text, drugs in texts:
        counts = {k: v for k, v in direction_counts(text, drugs).items() if k not in shifted}
        assert counts == _direction_counts_word_by_word(text, drugs), text
