"""What probe.py and next.py share: the benchmark's CIViC items (the selection split held out,
as `python -m benchmarks quality-civic` does), the command line, and the scores."""

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from benchmarks.quality import _shared, selection_split
from oncoclass.data.civic import load_civic
from oncoclass.evaluation.metrics import expected_calibration_error
from oncoclass.training.calibration import softmax


def civic_rest():
    """The items the quality benchmark cross-validates (without the selection split)."""
    samples = load_civic(_shared("civic_2024"), min_support=30, rare="merge")
    return selection_split(samples)[0]


def arguments():
    """TRACKS SEEDS OUT_DIR, e.g. `context,text 13,14,15 /tmp/out`."""
    tracks = sys.argv[1].split(",")
    seeds = [int(s) for s in sys.argv[2].split(",")]
    out = Path(sys.argv[3])
    out.mkdir(exist_ok=True, parents=True)
    return tracks, seeds, out


def nll(p, y):
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1))))


def ece(p, y):
    return expected_calibration_error(y, p)


def temp_only(z, y):
    """The one temperature that minimises the log loss of ``softmax(z / T)``."""
    r = minimize_scalar(lambda lt: nll(softmax(z / np.exp(lt)), y), bounds=(-3, 3), method="bounded")
    return float(np.exp(r.x))
