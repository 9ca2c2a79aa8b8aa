"""The Predictor: validation, the prediction set, the warnings, explanation, and the same answer
whatever came before."""

from __future__ import annotations

import numpy as np
import pytest

from oncoclass.data.records import Sample
from oncoclass.data.tasks import OTHER
from oncoclass.errors import InvalidInputError
from oncoclass.models import create_model
from oncoclass.predictor import Predictor
from tests.models.conftest import make_samples


def _outliers(n: int) -> list[Sample]:
    """Rare-class items (label OTHER): what the novelty detector learns from."""
    return [
        Sample(
            id=f"o{i}",
            gene="TP53",
            variation="R175H",
            text="The variant showed a dominant negative effect in a yeast functional assay.",
            label=OTHER,
            group=f"other:{i}",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    model = create_model("baseline").fit(make_samples(240, 1) + _outliers(20), make_samples(60, 2))
    path = model.save(tmp_path_factory.mktemp("baseline"))
    return Predictor.load(path, max_text_chars=10_000, min_margin=0.2)


TEXT = (
    "Background on the cohort was collected. Cells carrying EGFR T790M were resistant to "
    "erlotinib and progressed on treatment. The weather was fine."
)


def test_prediction_has_every_class_and_sums_to_one(predictor):
    p = predictor.predict("EGFR", "T790M", TEXT, "Lung Cancer", ["erlotinib"])
    assert p.name == "Predictive: Resistance"
    assert abs(sum(c.probability for c in p.probabilities) - 1) < 1e-6
    assert p.probability == max(c.probability for c in p.probabilities)
    assert p.variation.position == 790
    assert p.model_name == "baseline" and "+" in p.model_version
    assert not p.unknown_gene and not p.unknown_variation
    assert p.group.label == "Predictive"
    assert p.group.probability == pytest.approx(
        sum(c.probability for c in p.probabilities if c.label.startswith("Predictive"))
    )
    assert p.mentions is not None and p.mentions.gene and p.mentions.variation


def test_prediction_set_holds_the_top_class_and_states_its_coverage(predictor):
    p = predictor.predict("EGFR", "T790M", TEXT, "Lung Cancer", ["erlotinib"])
    assert p.prediction_set[0] == p.label
    assert p.set_coverage == 0.9
    probabilities = {c.label: c.probability for c in p.probabilities}
    # Sets are nested by probability: a class in the set is at least as likely as one outside.
    outside = [q for label, q in probabilities.items() if label not in p.prediction_set]
    assert all(probabilities[label] >= max(outside, default=0) for label in p.prediction_set)


def test_close_calls_are_flagged_by_margin(predictor):
    p = predictor.predict("EGFR", "T790M", TEXT, "Lung Cancer", ["erlotinib"])
    flagged = "close_call" in p.warning_codes
    assert flagged == (p.margin < predictor.min_margin)
    strict = Predictor(predictor.model, min_margin=1.0)
    answer = strict.predict("EGFR", "T790M", TEXT)
    assert "close_call" in answer.warning_codes
    # A close call is never a one-class set: every class within the margin is in it.
    assert len(answer.prediction_set) == len(predictor.classes)


def test_a_text_about_another_variant_is_flagged(predictor):
    on_topic = predictor.predict("EGFR", "T790M", TEXT)
    off_topic = predictor.predict("BRAF", "V600E", TEXT)
    assert "text_off_topic" not in on_topic.warning_codes
    assert "text_off_topic" in off_topic.warning_codes
    assert "BRAF" in next(w.message for w in off_topic.warnings if w.code == "text_off_topic")
    # Any spelling the parser knows counts as naming the variation.
    three_letter = predictor.predict("EGFR", "T790M", "The p.Thr790Met change was found.")
    assert "text_off_topic" not in three_letter.warning_codes


def test_novelty_scores_rare_kinds_of_evidence_higher(predictor):
    novel = predictor.predict(
        "TP53", "R248W", "This variant had a dominant negative effect in a functional assay."
    )
    ordinary = predictor.predict("EGFR", "L858R", TEXT.replace("T790M", "L858R"))
    assert novel.novelty is not None and ordinary.novelty is not None
    assert novel.novelty > ordinary.novelty
    assert novel.novelty_threshold == predictor.model.novelty_threshold
    assert ("out_of_distribution" in novel.warning_codes) == (
        novel.novelty >= novel.novelty_threshold
    )


def test_explanation_points_at_the_driving_sentence(predictor):
    p = predictor.predict("EGFR", "T790M", TEXT, "Lung Cancer", ["erlotinib"])
    assert p.evidence, "selected sentences are explained"
    top = max(p.evidence, key=lambda e: e.weight)
    assert "resistant" in top.text
    assert TEXT[top.start : top.end] == top.text


def test_unknown_gene_is_flagged_not_an_error(predictor):
    p = predictor.predict("ZZZ9", "X123Y")
    assert p.unknown_gene and p.unknown_variation
    assert {"unknown_gene", "unknown_variation", "no_text"} <= set(p.warning_codes)
    assert p.evidence == [] and p.mentions is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gene": " ", "variation": "V600E"}, "gene"),
        ({"gene": "BRAF", "variation": ""}, "variation"),
        ({"gene": "BRAF", "variation": "V600E", "text": "x" * 10_001}, "text"),
    ],
)
def test_bad_input_names_the_field(predictor, kwargs, field):
    with pytest.raises(InvalidInputError) as err:
        predictor.predict(**kwargs)
    assert err.value.field == field


def test_an_answer_depends_neither_on_its_batch_nor_on_explaining(predictor):
    samples = [predictor.make_sample("EGFR", "T790M", TEXT), predictor.make_sample("ZZZ", "A1B")]
    alone = [predictor.predict_samples([s])[0] for s in samples]
    together = predictor.predict_samples(samples)
    explained = predictor.predict_samples(samples, explain=True)
    for a, b, c in zip(alone, together, explained, strict=True):
        assert a.probabilities == b.probabilities == c.probabilities
        assert a.prediction_set == b.prediction_set == c.prediction_set
        assert a.novelty == b.novelty == c.novelty
    assert together[0].evidence == [] and explained[0].evidence


def test_sets_cover_the_truth_at_the_stated_rate(predictor):
    test = make_samples(300, seed=5)
    proba = predictor.model.predict_proba(test)
    sets = predictor.model.predict_sets(proba)
    y = predictor.model.encode_labels(test)
    coverage = sets[np.arange(len(y)), y].mean()
    assert coverage >= 0.85  # stated 0.9 on 60 calibration samples: allow for their noise
