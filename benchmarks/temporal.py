"""Does OncoClass follow the evidence? Train on an older CIViC release, score what a newer one
added; then retrain on the newer release and compare (``python -m benchmarks temporal``).

Part 1, the model as it would have been deployed: each model is trained on the old release (its
rare classes as the novelty detector's outliers) and scores every evidence item the new release
added. Items of classes the old model knows are scored as usual (log loss, accuracy, macro-F1,
ECE, prediction-set coverage); items of classes it never saw cannot be classified right, so the
question is whether the model *says so*: the AUROC of its novelty score at telling them from
new items of known classes (and, beside it, of the top probability, the signal that fails),
the share flagged, and whether the coarse level (the evidence type) is still right when only the
significance is new.

Part 2, after retraining: the same new items, scored out-of-fold by 5-fold grouped CV on the new
release (so no item is scored by a model that saw it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from benchmarks.harness import Grid, ModelSpec, console, out, write_json
from benchmarks.quality import subset_by_group
from oncoclass.data import load_civic
from oncoclass.data.records import Sample
from oncoclass.data.releases import compare_releases
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, OTHER, get_task
from oncoclass.evaluation import compute_metrics, cross_validate, split_validation
from oncoclass.settings import Settings

REFERENCES = ("ref-peer",)


def temporal(
    old_dir: Path,
    new_dir: Path,
    *,
    out_dir: Path,
    quick: bool = False,
    seed: int = 13,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    diff = compare_releases(old_dir, new_dir)
    old = load_civic(old_dir, min_support=30, rare="merge")
    new_ids = set(diff.new)
    current = load_civic(new_dir, min_support=1)
    added = [s for s in current if s.id in new_ids]
    if quick:
        old = subset_by_group(old, 400, seed)
        added = added[:150]
    default = Settings().default_model
    names = [*REFERENCES, default]
    specs = [ModelSpec(n, _quick(n) if quick else {}) for n in names if not only or n in only]
    payload: dict[str, Any] = {
        "title": f"Temporal: train on {diff.old_release}, score the {len(added)} items "
        f"{diff.new_release} added",
        "old_release": diff.old_release,
        "new_release": diff.new_release,
        "n_added": len(added),
        "diff": diff.summary(),
        "deployed": [],
        "retrained": [],
    }
    for spec in specs:
        console.log(f"temporal: {spec.name} trained on {diff.old_release}")
        payload["deployed"].append(score_deployed(spec, old, added, seed))
        write_json(out_dir, "temporal", payload)
    retrain = load_civic(new_dir, min_support=30, rare="merge")
    if quick:
        retrain = subset_by_group(retrain, 400, seed) + [s for s in retrain if s.id in new_ids][:60]
    for spec in specs:
        console.log(f"temporal: {spec.name} cross-validated on {diff.new_release}")
        payload["retrained"].append(score_retrained(spec, retrain, new_ids, payload, seed, quick))
        write_json(out_dir, "temporal", payload)
    for grid in temporal_grids(payload):
        out.print(grid.rich())
    return payload


def _quick(name: str) -> dict[str, Any]:
    from benchmarks.harness import quick_params

    return quick_params(name)


def score_deployed(
    spec: ModelSpec, old: Sequence[Sample], added: Sequence[Sample], seed: int
) -> dict[str, Any]:
    fit, valid = split_validation(old, 0.1, seed)
    model = spec.create(CLINICAL_SIGNIFICANCE, seed).fit(fit, valid or None)
    proba = model.predict_proba(added)
    known = np.array([s.label in model.classes_ for s in added])
    labels = [s.label for s in added]
    row: dict[str, Any] = {
        "model": spec.name,
        "reference": spec.is_reference,
        "n_known": int(known.sum()),
        "n_unknown": int((~known).sum()),
        "unknown_classes": sorted({s.label for s in added if s.label not in model.classes_}),
    }
    if known.any():
        m = compute_metrics([labels[i] for i in np.flatnonzero(known)], proba[known],
                            model.classes_, model.class_names_)  # fmt: skip
        row["known"] = m.summary()
        sets = model.predict_sets(proba[known])
        y = model.encode_labels([added[i] for i in np.flatnonzero(known)])
        conformal = getattr(model, "conformal_", None)
        row["coverage"] = (
            float(sets[np.arange(len(y)), y].mean()) if conformal and conformal.fitted else None
        )
    top = proba.max(axis=1)
    row["mean_top_probability"] = {
        "known": float(top[known].mean()) if known.any() else None,
        "unknown": float(top[~known].mean()) if (~known).any() else None,
    }
    if known.any() and (~known).any():
        row["auroc_top_probability"] = float(roc_auc_score(~known, 1 - top))
        novelty = model.novelty_score(added)
        if novelty is not None:
            row["novelty_auroc"] = float(roc_auc_score(~known, novelty))
            threshold = model.novelty_threshold
            row["flagged_known"] = float((novelty[known] >= threshold).mean())
            row["flagged_unknown"] = float((novelty[~known] >= threshold).mean())
        unknown_labels = [labels[i] for i in np.flatnonzero(~known)]
        row["type_accuracy_unknown"] = _type_accuracy(model, proba[~known], unknown_labels)
    return row


def _type_accuracy(model: Any, proba: np.ndarray, labels: list[str]) -> dict[str, Any] | None:
    """Among items of a class the model never saw but of an evidence type it knows, how often
    the predicted evidence type (probability summed within each type) is right."""
    task = get_task(model.task)
    types = sorted({task.group_of(c) for c in model.classes_})
    keep = [i for i, label in enumerate(labels) if task.group_of(label) in types]
    if not keep:
        return None
    by_type = np.zeros((len(proba), len(types)))
    for j, c in enumerate(model.classes_):
        by_type[:, types.index(task.group_of(c))] += proba[:, j]
    right = [types[int(by_type[i].argmax())] == task.group_of(labels[i]) for i in keep]
    return {"n": len(keep), "accuracy": float(np.mean(right))}


def score_retrained(
    spec: ModelSpec,
    samples: Sequence[Sample],
    new_ids: set[str],
    payload: dict[str, Any],
    seed: int,
    quick: bool,
) -> dict[str, Any]:
    result = cross_validate(
        lambda: spec.create(CLINICAL_SIGNIFICANCE, seed),
        samples,
        k=2 if quick else 5,
        seed=seed,
        progress=False,
    )
    rows = [i for i, sid in enumerate(result.sample_ids) if sid in new_ids]
    y = [result.y_true[i] for i in rows]
    m = compute_metrics(y, result.oof_proba[rows], result.classes)
    deployed = next(d for d in payload["deployed"] if d["model"] == spec.name)
    # The items the deployed model could classify at all, for a like-for-like comparison.
    old_classes = [c for c in result.classes if c not in deployed["unknown_classes"]]
    same = [i for i in rows if result.y_true[i] in old_classes]
    like = compute_metrics([result.y_true[i] for i in same], result.oof_proba[same],
                           result.classes)  # fmt: skip
    return {
        "model": spec.name,
        "reference": spec.is_reference,
        "n_new_scored": len(rows),
        "all_new": m.summary(),
        "known_before": like.summary(),
        "cv_overall": result.metrics.summary(),
    }


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def temporal_grids(payload: dict[str, Any]) -> list[Grid]:
    old, new = payload["old_release"], payload["new_release"]
    deployed = Grid(
        f"Deployed: trained on {old}, scoring the {payload['n_added']} items {new} added",
        ["model", "known-class items", "log_loss", "accuracy", "macro_f1", "set cover",
         "unknown-class items", "novelty AUROC", "top-prob AUROC", "flagged (unknown / known)",
         "type right (unknown)"],
    )  # fmt: skip
    for d in payload["deployed"]:
        k = d.get("known", {})
        flagged = (
            f"{d['flagged_unknown']:.2f} / {d['flagged_known']:.2f}"
            if "flagged_unknown" in d
            else "-"
        )
        t = d.get("type_accuracy_unknown")
        grid_model = f"_{d['model']}_" if d["reference"] else d["model"]
        deployed.rows.append(
            [grid_model, str(d["n_known"]), _f(k.get("log_loss")), _f(k.get("accuracy")),
             _f(k.get("macro_f1")), _f(d.get("coverage")), str(d["n_unknown"]),
             _f(d.get("novelty_auroc")), _f(d.get("auroc_top_probability")), flagged,
             f"{t['accuracy']:.2f} of {t['n']}" if t else "-"]
        )  # fmt: skip
    retrained = Grid(
        f"Retrained on {new} (5-fold grouped CV, out-of-fold) : the same added items",
        ["model", "added items scored", "log_loss (all)", "accuracy (all)", "macro_f1 (all)",
         "log_loss (classes known before)", "accuracy (classes known before)"],
    )  # fmt: skip
    for r in payload["retrained"]:
        a, b = r["all_new"], r["known_before"]
        grid_model = f"_{r['model']}_" if r["reference"] else r["model"]
        retrained.rows.append(
            [grid_model, str(r["n_new_scored"]), _f(a["log_loss"]), _f(a["accuracy"]),
             _f(a["macro_f1"]), _f(b["log_loss"]), _f(b["accuracy"])]
        )  # fmt: skip
    return [deployed, retrained]


__all__ = ["OTHER", "temporal", "temporal_grids"]
