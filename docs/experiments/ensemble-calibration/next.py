"""The next step, on top of the adopted rule (the members' uncalibrated mean, calibrated once):
which calibrator for the mean, and does a third member (`encoder`) help now? Same folds as
`python -m benchmarks quality-civic`, one thread, as the benchmarks run.

    python docs/experiments/ensemble-calibration/next.py context 13,14,15 OUT_DIR
    python docs/experiments/ensemble-calibration/next.py text 13,14,15 OUT_DIR
"""
import json
import time

import numpy as np
from scipy.special import log_softmax
from benchmarks.harness import cv_splits, with_track
from oncoclass.models import create_model
from oncoclass.training.calibration import Calibrator, softmax
import torch
torch.set_num_threads(1)

from common import arguments, civic_rest, ece, nll, temp_only

rest = civic_rest()
tracks, seeds, out = arguments()
rows = []
for track in tracks:
    for seed in seeds:
        t0 = time.time(); acc = {}
        for split in cv_splits(with_track(rest, track), 5, seed):
            m = create_model("ensemble", task="clinical-significance", seed=seed).fit(split.fit, split.valid)
            enc = create_model("encoder", task="clinical-significance", seed=seed, novelty=False).fit(split.fit, split.valid)
            idx = m._class_index
            test = [s for s in split.test if s.label in idx]; valid = [s for s in split.valid if s.label in idx]
            yt = np.array([idx[s.label] for s in test]); yv = np.array([idx[s.label] for s in valid])
            zt, zv = m._logits(test), m._logits(valid)
            v = {"adopted": m.predict_proba(test)}
            T = temp_only(zv, yv); v["T-only"] = softmax(zt / T)
            for l2 in (0.1, 1.0):
                v[f"bias_l2={l2}"] = Calibrator(bias_l2=l2).fit(zv, yv).transform(zt)
            et, ev = log_softmax(enc._logits(test), axis=1), log_softmax(enc._logits(valid), axis=1)
            z3t, z3v = (2 * zt + et) / 3, (2 * zv + ev) / 3
            v["+encoder"] = Calibrator().fit(z3v, yv).transform(z3t)
            for k, p in v.items(): acc.setdefault(k, []).append((p, yt))
        for k, parts in acc.items():
            p = np.concatenate([a for a, _ in parts]); y = np.concatenate([b for _, b in parts])
            rows.append({"variant": k, "track": track, "seed": seed, "log_loss": nll(p, y), "ece": ece(p, y)})
            print(rows[-1], flush=True)
        print(f"{track} {seed}: {time.time()-t0:.0f}s", flush=True)
        (out / f"next-{'-'.join(tracks)}.json").write_text(json.dumps(rows, indent=1))
