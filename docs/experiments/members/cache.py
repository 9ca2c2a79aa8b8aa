"""Fit one model per fold of the `quality-civic` protocol (the same selection split, grouped
folds and seeds; one thread, as the benchmarks run) and keep its *uncalibrated* scores on the
fold's validation slice and test part, so that calibrators and combinations of members can be
compared on the very same fits (analyse.py).

    python docs/experiments/members/cache.py TRACK FOLD_SEED MODEL[,MODEL...] OUT_DIR [MODEL_SEED]

MODEL_SEED (default: FOLD_SEED) changes only the model's initialisation, not the folds: a
second seed of the same member on the same folds. Writes OUT_DIR/NAME@MODEL_SEED-TRACK-FOLD_SEED.npz.
"""

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ensemble-calibration"))
from common import civic_rest  # noqa: E402

from benchmarks.harness import cv_splits, with_track  # noqa: E402
from oncoclass.models import create_model  # noqa: E402

torch.set_num_threads(1)
track, fold_seed, names, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), Path(sys.argv[4])
model_seed = int(sys.argv[5]) if len(sys.argv) > 5 else fold_seed
out.mkdir(parents=True, exist_ok=True)
rest = with_track(civic_rest(), track)
for name in names:
    t0, arrays = time.time(), {}
    for k, split in enumerate(cv_splits(rest, 5, fold_seed)):
        m = create_model(name, task="clinical-significance", seed=model_seed, novelty=False)
        m.fit(split.fit, split.valid)
        test = [s for s in split.test if s.label in m._class_index]
        valid = [s for s in split.valid if s.label in m._class_index]
        arrays |= {
            f"zt{k}": m._logits(test), f"zv{k}": m._logits(valid),
            f"yt{k}": m.encode_labels(test), f"yv{k}": m.encode_labels(valid),
            f"ids{k}": np.array([s.id for s in test]),
        }
        print(name, track, fold_seed, model_seed, k, f"{time.time() - t0:.0f}s", flush=True)
    np.savez(out / f"{name}@{model_seed}-{track}-{fold_seed}.npz", **arrays)
