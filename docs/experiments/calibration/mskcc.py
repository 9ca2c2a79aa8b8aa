"""The calibrator's class bias on the MSKCC task (variants only, the `quality-mskcc` split):
`baseline` fitted once per seed, its validation and stage-1 scores calibrated both ways.

    python docs/experiments/calibration/mskcc.py 13,14,15,16,17
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.harness import fixed_split
from benchmarks.quality import _shared
from oncoclass.data.mskcc import load_mskcc_stage1, load_mskcc_train
from oncoclass.data.tasks import MUTATION_EFFECT
from oncoclass.models import create_model
from oncoclass.training.calibration import Calibrator


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1.0))))


def main(seeds: list[int]) -> None:
    data = _shared("mskcc")
    train = load_mskcc_train(data, text_file=None)
    test = load_mskcc_stage1(data, text_file=None)
    print("seed | validation items | T + class bias | T only")
    for seed in seeds:
        split = next(iter(fixed_split(train, test, seed)))
        model = create_model("baseline", task=MUTATION_EFFECT, seed=seed)
        model.fit(split.fit, split.valid)
        valid, y_valid = model._logits(split.valid), model.encode_labels(split.valid)
        scores, y = model._logits(split.test), model.encode_labels(split.test)
        both = [
            log_loss(Calibrator(class_bias=bias).fit(valid, y_valid).transform(scores), y)
            for bias in (True, False)
        ]
        print(f"{seed} | {len(y_valid)} | {both[0]:.3f} | {both[1]:.3f}", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")])
