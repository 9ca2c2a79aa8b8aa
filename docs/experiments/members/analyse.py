"""From cache.py's fits: (1) each member's calibrator, a temperature and a bias per class (the
rule until now) against a temperature alone; (2) ensembles of the members, the mean of their
log-softmaxed scores calibrated once by a temperature. ``encoder*3`` is one member made of
three fits of ``encoder`` on the same folds (model seeds FOLD_SEED, 1000 + FOLD_SEED, 2000 +
FOLD_SEED), averaged before the mean over members.

    python docs/experiments/members/analyse.py CACHE_DIR context,text 13,14,15 > results.json
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import log_softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ensemble-calibration"))
from common import ece, nll  # noqa: E402

from oncoclass.training.calibration import Calibrator  # noqa: E402

MEMBERS = ["baseline", "multimodal", "encoder", "cnn"]
ENSEMBLES = [
    ("baseline", "multimodal"),
    ("baseline", "encoder"),
    ("baseline", "cnn"),
    ("baseline", "multimodal", "encoder"),
    ("baseline", "encoder", "cnn"),
    ("baseline", "multimodal", "encoder", "cnn"),
    ("baseline", "encoder*2", "cnn*2"),
    ("baseline", "encoder*3", "cnn"),
    ("baseline", "encoder", "cnn*3"),
    ("baseline", "encoder*3", "cnn*3"),
    ("baseline", "encoder*5", "cnn"),
    ("baseline", "encoder*5", "cnn*3"),
    ("baseline", "encoder*3", "cnn*2"),
    ("baseline", "encoder*5", "cnn*2"),
]


def load(cache: Path, member: str, track: str, seed: int) -> list[dict] | None:
    """The five folds of one member (``name`` or ``name*N``: N seeds, their log-softmaxed
    scores averaged), None if a fit is missing from the cache."""
    name, _, n = member.partition("*")
    fits = []
    for i in range(int(n or 1)):
        path = cache / f"{name}@{seed + 1000 * i}-{track}-{seed}.npz"
        if not path.exists():
            return None
        fits.append(np.load(path))
    folds = []
    for k in range(5):
        fold = {key: fits[0][f"{key}{k}"] for key in ("yt", "yv", "ids")}
        assert all((f[f"ids{k}"] == fold["ids"]).all() for f in fits)
        for z in ("zt", "zv"):
            fold[z] = np.mean([log_softmax(f[f"{z}{k}"], axis=1) for f in fits], axis=0)
        folds.append(fold)
    return folds


def score(parts: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    p = np.concatenate([q for q, _ in parts])
    y = np.concatenate([t for _, t in parts])
    return {"log_loss": nll(p, y), "ece": ece(p, y), "accuracy": float((p.argmax(1) == y).mean())}


def main() -> None:
    cache, tracks = Path(sys.argv[1]), sys.argv[2].split(",")
    seeds = [int(s) for s in sys.argv[3].split(",")]
    rows = []
    for track, seed in itertools.product(tracks, seeds):
        fits = {m: load(cache, m, track, seed) for m in {n for e in ENSEMBLES for n in e}}
        for m in MEMBERS:
            if fits[m] is None:
                continue
            for rule, bias in (("temperature + class bias", True), ("temperature", False)):
                parts = [
                    (Calibrator(class_bias=bias).fit(f["zv"], f["yv"]).transform(f["zt"]), f["yt"])
                    for f in fits[m]
                ]
                rows.append({"track": track, "seed": seed, "model": m, "calibration": rule} | score(parts))
        for combo in ENSEMBLES:
            if any(fits[m] is None for m in combo):
                continue
            parts = []
            for k in range(5):
                folds = [fits[m][k] for m in combo]
                assert all((f["ids"] == folds[0]["ids"]).all() for f in folds)
                zt = np.mean([log_softmax(f["zt"], axis=1) for f in folds], axis=0)
                zv = np.mean([log_softmax(f["zv"], axis=1) for f in folds], axis=0)
                parts.append((Calibrator().fit(zv, folds[0]["yv"]).transform(zt), folds[0]["yt"]))
            rows.append({"track": track, "seed": seed, "model": "+".join(combo), "calibration": "temperature"} | score(parts))
        for r in rows:
            if r["track"] == track and r["seed"] == seed:
                print(f"{track:8s} {seed} {r['model']:60s} {r['calibration']:25s} {r['log_loss']:.4f} {r['ece']:.3f}", file=sys.stderr)
    json.dump(rows, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
