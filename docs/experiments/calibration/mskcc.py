"""The calibrator's class bias on the MSKCC task (variants only, the `quality-mskcc` split):
`baseline` fitted once per seed, its validation and stage-1 scores calibrated both ways.

    python docs/experiments/calibration/mskcc.py 13,14,15,16,17
"""

from __future__ import annotations

import sys

from sklearn.metrics import log_loss

from benchmarks.harness import fixed_split
from benchmarks.quality import _shared
from oncoclass.data.mskcc import load_mskcc_stage1, load_mskcc_train
from oncoclass.data.tasks import MUTATION_EFFECT
from oncoclass.models import create_model
from oncoclass.training.calibration import Calibrator


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
        labels = range(len(model.classes_))
        calibrators = [Calibrator(class_bias=b).fit(valid, y_valid) for b in (True, False)]
        both = [log_loss(y, c.transform(scores), labels=labels) for c in calibrators]
        print(f"{seed} | {len(y_valid)} | {both[0]:.3f} | {both[1]:.3f}", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")])
