"""The Predictor: validation, flags, explanation, and the same answer from a saved model."""

from __future__ import annotations

import pytest

from oncoclass.errors import InvalidInputError
from oncoclass.models import create_model
from oncoclass.predictor import Predictor
from tests.models.conftest import make_samples


@pytest.fixture(scope="module")
def predictor(tmp_path_factory) -> Predictor:
    model = create_model("baseline").fit(make_samples(240, 1), make_samples(60, 2))
    path = model.save(tmp_path_factory.mktemp("baseline"))
    return Predictor.load(path, max_text_chars=10_000, low_confidence=0.5)


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


def test_explanation_points_at_the_driving_sentence(predictor):
    p = predictor.predict("EGFR", "T790M", TEXT, "Lung Cancer", ["erlotinib"])
    assert p.evidence, "selected sentences are explained"
    top = max(p.evidence, key=lambda e: e.weight)
    assert "resistant" in top.text
    assert TEXT[top.start : top.end] == top.text


def test_unknown_gene_is_flagged_not_an_error(predictor):
    p = predictor.predict("ZZZ9", "X123Y")
    assert p.unknown_gene and p.unknown_variation
    assert p.evidence == []


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


def test_batch_path_matches_single(predictor):
    samples = [predictor.make_sample("EGFR", "T790M", TEXT), predictor.make_sample("ZZZ", "A1B")]
    batch = predictor.predict_samples(samples)
    single = predictor.predict("EGFR", "T790M", TEXT, explain=False)
    assert batch[0].probabilities == single.probabilities
    assert batch[0].evidence == []
