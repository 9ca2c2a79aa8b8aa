"""How the ensemble should combine and recalibrate its members: every variant from the same
member fits, on the folds of `python -m benchmarks quality-civic`.

    python docs/experiments/ensemble-calibration/probe.py context,text 13,14,15 OUT_DIR

`ship` is the rule before this experiment (`combine="calibrated"`), `uncal-mean+cal` the rule
adopted (`combine="uncalibrated"`, the default now).
"""
import json
import time

import numpy as np
from scipy.special import log_softmax
from benchmarks.harness import cv_splits, with_track
from oncoclass.models import create_model
from oncoclass.training.calibration import Calibrator, softmax

from common import arguments, civic_rest, ece, nll, temp_only

rest = civic_rest()
tracks, seeds, out = arguments()
rows = []
for track in tracks:
    for seed in seeds:
        t0 = time.time()
        splits = cv_splits(with_track(rest, track), 5, seed)
        acc = {}
        for split in splits:
            m = create_model("ensemble", task="clinical-significance", seed=seed, combine="calibrated").fit(split.fit, split.valid)
            idx = m._class_index
            test = [s for s in split.test if s.label in idx]
            valid = [s for s in split.valid if s.label in idx]
            yt = np.array([idx[s.label] for s in test]); yv = np.array([idx[s.label] for s in valid])
            zt, zv = m._logits(test), m._logits(valid)
            def member_raw(ss):
                logs = []
                for mem in m.members_:
                    z = np.full((len(ss), len(m.classes_)), -30.0)
                    z[:, [m.classes_.index(c) for c in mem.classes_]] = log_softmax(mem._logits(ss), axis=1)
                    logs.append(log_softmax(z, axis=1))
                return logs
            rt, rv = member_raw(test), member_raw(valid)
            mt, mv = np.mean(rt, 0), np.mean(rv, 0)
            v = {"ship": m.predict_proba(test), "raw": softmax(zt)}
            T = temp_only(zv, yv); v["T-only"] = softmax(zt / T)
            v["bias_l2=0.1"] = Calibrator(bias_l2=0.1).fit(zv, yv).transform(zt)
            v["bias_l2=1"] = Calibrator(bias_l2=1.0).fit(zv, yv).transform(zt)
            v["uncal-mean+cal"] = Calibrator().fit(mv, yv).transform(mt)
            # members' calibrated log-probs, weighted: baseline weight a fitted on valid
            cal = [log_softmax(np.log(np.clip(mem.predict_proba(test), 1e-9, 1)), axis=1) for mem in m.members_]
            calv = [log_softmax(np.log(np.clip(mem.predict_proba(valid), 1e-9, 1)), axis=1) for mem in m.members_]
            best = min(np.linspace(0.2, 0.8, 13), key=lambda a: nll(Calibrator().fit(a*calv[0]+(1-a)*calv[1], yv).transform(a*calv[0]+(1-a)*calv[1]), yv))
            v["weighted+cal"] = Calibrator().fit(best*calv[0]+(1-best)*calv[1], yv).transform(best*cal[0]+(1-best)*cal[1])
            for k, p in v.items():
                acc.setdefault(k, []).append((p, yt))
        for k, parts in acc.items():
            p = np.concatenate([a for a, _ in parts]); y = np.concatenate([b for _, b in parts])
            rows.append({"variant": k, "track": track, "seed": seed, "log_loss": nll(p, y), "ece": ece(p, y), "acc": float((p.argmax(1) == y).mean())})
            print(rows[-1], flush=True)
        print(f"{track} {seed}: {time.time()-t0:.0f}s", flush=True)
        (out / f"calib-{'-'.join(tracks)}-{'-'.join(map(str,seeds))}.json").write_text(json.dumps(rows, indent=1))
