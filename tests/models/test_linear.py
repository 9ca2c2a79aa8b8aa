"""The sparse features of ``baseline`` (and of the novelty detector)."""

from __future__ import annotations

import scipy.sparse as sp

from oncoclass.data import load_civic
from oncoclass.models.linear import FeatureSpace, _columns


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
