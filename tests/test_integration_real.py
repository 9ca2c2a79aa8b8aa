"""Short real trainings on ../shared/data: the numbers must clearly beat the class prior."""

from __future__ import annotations

import numpy as np
import pytest

from oncoclass import workflows
from oncoclass.data import load_civic, load_mskcc_stage1, load_mskcc_train

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def civic(shared_data):
    return load_civic(shared_data / "civic", min_support=30)


def test_civic_cnn_grouped_cv_beats_the_prior(civic):
    # A short run (small network, few epochs): the full model is measured in benchmarks/.
    result = workflows.evaluate(
        "clinical-significance",
        "cnn",
        civic,
        folds=3,
        seed=1,
        progress=False,
        epochs=3,
        emb_dim=64,
        n_filters=32,
        max_tokens=200,
    )
    m, prior = result.metrics, result.prior
    assert m.n == len(civic) == 3540
    assert m.macro_f1 > prior.macro_f1 + 0.3, (m.macro_f1, prior.macro_f1)
    assert m.log_loss < prior.log_loss - 0.4, (m.log_loss, prior.log_loss)
    # groups (PubMed ids) never on both sides of a fold
    for fold in set(result.folds.tolist()):
        held = {s.group_key for s, f in zip(civic, result.folds, strict=False) if f == fold}
        kept = {s.group_key for s, f in zip(civic, result.folds, strict=False) if f != fold}
        assert not held & kept


def test_mskcc_variants_only_scores_the_stage1_rows(shared_data):
    train = load_mskcc_train(shared_data / "mskcc", text_file=None)
    test = load_mskcc_stage1(shared_data / "mskcc", text_file=None)
    result = workflows.evaluate("mutation-effect", "baseline", train, test=test, seed=1)
    assert result.metrics.n == 368
    assert result.classes == [str(i) for i in range(1, 10)]
    assert result.metrics.log_loss < result.prior.log_loss - 0.5
    assert np.isfinite(result.oof_proba).all()
