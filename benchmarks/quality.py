"""Quality benchmarks: OncoClass's models beside the references, same data, same splits.

``quality-civic``       CIViC clinical significance, 5-fold CV grouped by PubMed id, OOF.
``quality-mskcc``       MSKCC variants only: train on ``training_variants``, score the 368
                        labelled stage-1 rows.
``quality-mskcc-text``  the same with the Kaggle texts (stage 1, and 5-fold grouped CV on the
                        training set), for users who have ``training_text``/``test_text``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import (
    ModelResult,
    Splits,
    Target,
    check_targets,
    console,
    cv_splits,
    evaluate,
    fixed_split,
    metrics_grid,
    model_specs,
    out,
    summarize,
    targets_grid,
    with_track,
    write_json,
    write_oof,
)
from oncoclass.data import load_civic, load_mskcc_stage1, load_mskcc_train
from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, MSKCC_CLASS_NAMES, MUTATION_EFFECT
from oncoclass.errors import DataNotFoundError
from oncoclass.evaluation import split_validation
from oncoclass.settings import Settings

#: The issue's targets for the default model on the current CIViC release, per track.
CIVIC_TARGETS: dict[str, tuple[Target, ...]] = {
    "context": (Target("log_loss", 0.55), Target("macro_f1", 0.70), Target("ece", 0.05)),
    "text": (Target("log_loss", 0.62), Target("macro_f1", 0.60)),
}
MSKCC_TARGETS = (Target("log_loss", 0.90), Target("macro_f1", 0.52))
#: The NeurIPS 2017 competition winner's published log loss with the texts.
MSKCC_TEXT_PUBLISHED = {"stage-1": 0.55, "5-fold CV": 0.67}
#: The issue's own measurements on the 2024 release (5-fold grouped CV), for the record.
ISSUE_REFERENCE_FIGURES = {
    "quality-civic": {
        "ref-peer": {
            "context": {"log_loss": 0.731, "accuracy": 0.724, "macro_f1": 0.581},
            "text": {"log_loss": 0.768, "accuracy": 0.697, "macro_f1": 0.472},
        },
        "baseline": {
            "context": {"log_loss": 0.667, "accuracy": 0.725, "macro_f1": 0.588},
            "text": {"log_loss": 0.905, "accuracy": 0.656, "macro_f1": 0.506},
        },
    },
    "quality-mskcc": {
        "ref-variants-lr": {"log_loss": 1.004, "accuracy": 0.611, "macro_f1": 0.488},
        "ref-prior": {"log_loss": 1.819},
    },
}
QUICK_SAMPLES = 300
SEEDS = (13, 14, 15)
TRACKS = ("context", "text")
#: Share of the CIViC groups held out to choose the default model: no reported figure of
#: quality-civic is measured on them.
SELECTION_FRACTION = 0.15
SELECTION_SEED = 2024


def subset_by_group(samples: Sequence[Sample], n: int, seed: int) -> list[Sample]:
    """About ``n`` samples made of whole groups, so a quick run keeps the grouping honest."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.group_key, []).append(s)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    chosen: list[Sample] = []
    for key in keys:
        if len(chosen) >= n:
            break
        chosen += groups[key]
    return chosen


def run_models(
    benchmark: str,
    title: str,
    make_splits: Callable[[int, str], Splits],
    task: str,
    references: Sequence[str],
    *,
    seeds: Sequence[int],
    tracks: Sequence[str],
    quick: bool,
    only: Sequence[str] | None,
    out_dir: Path,
    extra: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Evaluate every model on every (track, seed) — the same splits for all models of one
    (track, seed) — and write the JSON after each model, so a stopped run keeps its results."""
    names = dict(MSKCC_CLASS_NAMES) if task == MUTATION_EFFECT else None
    results: list[ModelResult] = []
    payload: dict[str, Any] = {}
    for track in tracks:
        for seed in seeds:
            splits = make_splits(seed, track)
            done: set[str] = set()
            for spec in model_specs(references, quick=quick, only=only):
                if spec.name in done:  # an ensemble already gave this member's results
                    continue
                console.log(f"{benchmark}: {spec.name} ({track}, seed {seed}) {spec.params or ''}")
                new = evaluate(spec, splits, task, seed, names, track=track)
                new = [r for r in new if r.model not in done and (not only or r.model in only)]
                done.update(r.model for r in new)
                results += new
                rows = [r.to_dict() for r in results]
                summary = summarize(rows)
                payload = {
                    "title": title,
                    "quick": quick,
                    "task": task,
                    "n_test": sum(len(s.test) for s in splits),
                    "n_splits": len(splits),
                    "fold_strategy": splits.strategy,
                    "seeds": list(seeds),
                    "tracks": list(tracks),
                    "results": rows,
                    "summary": summary,
                    **(extra(summary) if extra else {}),
                }
                write_json(out_dir, benchmark, payload)
                write_oof(out_dir, benchmark, results)
    out.print(metrics_grid(title, payload["summary"]).rich())
    if payload.get("targets"):
        out.print(targets_grid(payload["targets"], TARGETS_TITLE).rich())
    return payload


TARGETS_TITLE = "targets, checked for the default model (mean over seeds)"


def selection_split(samples: Sequence[Sample], seed: int = SELECTION_SEED) -> tuple[list, list]:
    """(rest, selection): a grouped share of the samples held out to choose the default model
    on data that no reported figure is measured on."""
    rest, selection = split_validation(samples, SELECTION_FRACTION, seed)
    return rest, selection


def choose_default(
    rest: Sequence[Sample],
    selection: Sequence[Sample],
    *,
    quick: bool,
    only: Sequence[str] | None,
    seed: int,
) -> dict[str, Any]:
    """Fit every OncoClass model on ``rest`` and score it on ``selection`` (with context): the
    default is the lowest log loss there. Returns the table and the choice."""
    splits = fixed_split(rest, selection, seed)
    rows: list[dict[str, Any]] = []
    done: set[str] = set()
    for spec in model_specs([], quick=quick, only=only):
        if spec.name in done:
            continue
        console.log(f"selection: {spec.name}")
        for r in evaluate(spec, splits, CLINICAL_SIGNIFICANCE, seed):
            if r.model in done:
                continue
            done.add(r.model)
            rows.append({"model": r.model, **r.metrics.summary()})
    chosen = min(rows, key=lambda r: r["log_loss"])["model"] if rows else None
    return {
        "n_selection": sum(s.label != "Other" for s in selection),
        "n_rest": len(rest),
        "results": rows,
        "chosen": chosen,
        "shipped_default": Settings().default_model,
    }


def quality_civic(
    data: Path | None = None,
    *,
    out_dir: Path,
    quick: bool = False,
    folds: int = 5,
    seed: int = 13,
    seeds: Sequence[int] = SEEDS,
    tracks: Sequence[str] = TRACKS,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The CIViC clinical-significance task on the current release: 5-fold grouped CV over
    3 seeds, with context and text-only, after holding out the selection split."""
    data = data or _shared("civic_2024")
    samples = load_civic(data, min_support=30, rare="merge")
    if quick:
        samples, folds, seeds = subset_by_group(samples, QUICK_SAMPLES, seed), 2, seeds[:1]
    rest, selection = selection_split(samples)
    n_known = sum(s.label != "Other" for s in rest)
    title = (
        f"CIViC clinical significance ({data.name}): {n_known:,} items of the known classes "
        f"(+ {len(rest) - n_known} rare-class items for novelty), {folds}-fold CV grouped by "
        f"PubMed id, out-of-fold, mean ± sd over {len(seeds)} seed(s)"
    )
    default = Settings().default_model

    def extra(summary: list[dict[str, Any]]) -> dict[str, Any]:
        targets = [
            row
            for track, goals in CIVIC_TARGETS.items()
            if track in tracks
            for row in check_targets(summary, goals, default, track)
        ]
        return {
            "release": data.name,
            "targets": targets,
            "issue_figures": ISSUE_REFERENCE_FIGURES["quality-civic"],
        }

    payload = run_models(
        "quality-civic",
        title,
        lambda s, track: cv_splits(with_track(rest, track), folds, s),
        CLINICAL_SIGNIFICANCE,
        ["ref-prior", "ref-peer", "ref-seed"],
        seeds=seeds,
        tracks=tracks,
        quick=quick,
        only=only,
        out_dir=out_dir,
        extra=extra,
    )
    payload["selection"] = choose_default(rest, selection, quick=quick, only=only, seed=seed)
    write_json(out_dir, "quality-civic", payload)
    out.print(selection_grid(payload["selection"]).rich())
    return payload


def selection_grid(selection: dict[str, Any]) -> Any:
    from benchmarks.harness import Grid

    grid = Grid(
        f"choosing the default on the held-out selection split ({selection['n_selection']} "
        f"items, never in the figures above): chosen {selection['chosen']}, shipped "
        f"{selection['shipped_default']}",
        ["model", "log_loss", "accuracy", "macro_f1", "ece"],
    )
    for r in sorted(selection["results"], key=lambda r: r["log_loss"]):
        grid.rows.append(
            [r["model"], *(f"{r[k]:.3f}" for k in ("log_loss", "accuracy", "macro_f1", "ece"))]
        )
    return grid


#: The log loss recomputed from the out-of-fold file must match the JSON's to this much.
_OOF_TOLERANCE = 1e-6
#: What the per-class loss table takes from the JSON's per-class figures.
PER_CLASS_FIGURES = ("support", "recall", "f1")


def class_loss_grids(result: dict[str, Any], oof_path: Path) -> list[Any]:
    """Where the shipped default's out-of-fold log loss comes from (the selected model's, if
    the run left the default out), per true class and track, mean over the seeds: its items,
    recall and F1 (the JSON's own per-class figures), mean log loss, share of the total loss,
    and the class it is most often taken for. The last three come from
    ``quality-civic-oof.npz``, which must be the run that wrote ``result`` (the log loss
    recomputed there must be the JSON's; ``ValueError`` if not)."""
    from benchmarks.harness import Grid

    summary = {(r["model"], r["track"]): r for r in result["summary"]}
    selection = result["selection"]
    measured = {m for m, _ in summary}
    model = next((m for m in (selection["shipped_default"], selection["chosen"]) if m in measured),
                 None)  # fmt: skip
    grids = []
    with np.load(oof_path, allow_pickle=False) as oof:
        for track in result["tracks"]:
            keys = [f"{model}:{track}:{seed}" for seed in result["seeds"]]
            if (model, track) not in summary or any(f"proba:{k}" not in oof for k in keys):
                continue
            classes = [str(c) for c in oof[f"classes:{keys[0]}"]]
            # Per seed and class: mean log loss, share of the loss, share taken for each class.
            loss_of, share_of, taken_for, losses = [], [], [], []
            for key in keys:
                proba, y = oof[f"proba:{key}"], oof[f"y_true:{key}"]
                truth = np.array([classes.index(t) for t in y])
                loss = -np.log(np.clip(proba[np.arange(len(y)), truth], 1e-15, 1.0))
                losses.append(float(loss.mean()))
                confusion = np.zeros((len(classes), len(classes)))
                np.add.at(confusion, (truth, proba.argmax(axis=1)), 1)
                np.fill_diagonal(confusion, 0)
                n = np.bincount(truth, minlength=len(classes))
                loss_of.append(np.bincount(truth, loss, len(classes)) / np.maximum(n, 1))
                share_of.append(np.bincount(truth, loss, len(classes)) / loss.sum())
                taken_for.append(confusion / np.maximum(n, 1)[:, None])
            expected = summary[(model, track)]["mean"]["log_loss"]
            if abs(float(np.mean(losses)) - expected) > _OOF_TOLERANCE:
                raise ValueError(
                    f"{oof_path.name} is not the run of the JSON beside it ({model}, {track}: "
                    f"log loss {np.mean(losses):.6f} there, {expected:.6f} in the JSON)"
                )
            per_class = [
                {c["label"]: c for c in r["per_class"]}
                for r in result["results"]
                if r["model"] == model and r["track"] == track
            ]
            loss, share, taken = (np.mean(a, axis=0) for a in (loss_of, share_of, taken_for))
            grid = Grid(
                f"where the log loss of {model} comes from, {track} track (mean over seeds "
                f"{', '.join(map(str, result['seeds']))})",
                ["true class", "items", "recall", "F1", "log loss", "share of the loss",
                 "most often taken for"],
            )  # fmt: skip
            for i in np.argsort(-share):
                label = classes[i]
                mean = {k: np.mean([c[label][k] for c in per_class]) for k in PER_CLASS_FIGURES}
                often = taken[i].max()
                grid.rows.append(
                    [
                        label,
                        f"{mean['support']:.0f}",
                        f"{mean['recall']:.3f}",
                        f"{mean['f1']:.3f}",
                        f"{loss[i]:.3f}",
                        f"{share[i]:.1%}",
                        f"{classes[int(taken[i].argmax())]} ({often:.0%})" if often else "-",
                    ]
                )
            grids.append(grid)
    return grids


def quality_mskcc(
    data: Path | None = None,
    *,
    out_dir: Path,
    quick: bool = False,
    seed: int = 13,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    data = data or _shared("mskcc")
    train = load_mskcc_train(data, text_file=None)
    test = load_mskcc_stage1(data, text_file=None)
    if quick:
        train = subset_by_group(train, QUICK_SAMPLES * 2, seed)
    title = (
        f"MSKCC variants only: train on {len(train):,} training variants, "
        f"score the {len(test)} labelled stage-1 rows"
    )

    def extra(summary: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "targets": check_targets(summary, MSKCC_TARGETS, "baseline", "context"),
            "issue_figures": ISSUE_REFERENCE_FIGURES["quality-mskcc"],
        }

    return run_models(
        "quality-mskcc",
        title,
        lambda s, track: fixed_split(train, test, s),
        MUTATION_EFFECT,
        ["ref-prior", "ref-variants-lr"],
        seeds=[seed],
        tracks=["context"],
        quick=quick,
        only=only,
        out_dir=out_dir,
        extra=extra,
    )


def quality_mskcc_text(
    text_dir: Path,
    data: Path | None = None,
    *,
    out_dir: Path,
    quick: bool = False,
    folds: int = 5,
    seed: int = 13,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Stage 1 and grouped k-fold CV with the texts. ``text_dir`` holds ``training_text`` and
    ``test_text`` (or the ``*_sample`` files); ``data`` the variants (default: ``text_dir`` if
    it has them, else the shared copy)."""
    text_dir = Path(text_dir).expanduser()
    data = data or (text_dir if (text_dir / "training_variants").is_file() else _shared("mskcc"))
    train_text = _first_file(text_dir, ("training_text", "training_text_sample"))
    if train_text is None:
        raise DataNotFoundError(f"no training_text in {text_dir}")
    test_text = _first_file(text_dir, ("test_text", "test_text_sample"))
    if test_text is None:
        console.log(f"[yellow]no test_text in {text_dir}: stage 1 is scored without texts")
    train = load_mskcc_train(data, text_file=train_text)
    test = load_mskcc_stage1(data, text_file=test_text)
    n_text = sum(1 for s in train if s.text)
    if quick:
        with_text = [s for s in train if s.text]
        rest = subset_by_group([s for s in train if not s.text], QUICK_SAMPLES, seed)
        train, folds = with_text + rest, 2
    refs = ["ref-prior", "ref-peer", "ref-seed", "ref-variants-lr"]
    common = {
        "seeds": [seed],
        "tracks": ["context"],
        "quick": quick,
        "only": only,
        "out_dir": out_dir,
    }
    info = {
        "published_log_loss": MSKCC_TEXT_PUBLISHED,
        "n_train_texts": n_text,
        "train_text": str(train_text),
        "test_text": str(test_text or ""),
    }

    def extra(summary: list[dict[str, Any]]) -> dict[str, Any]:
        return info

    stage1 = run_models(
        "quality-mskcc-text-stage1",
        f"MSKCC with texts ({n_text:,} of {len(train):,} training rows have one): stage 1 "
        f"({len(test)} rows); published winner: {MSKCC_TEXT_PUBLISHED['stage-1']}",
        lambda s, track: fixed_split(train, test, s),
        MUTATION_EFFECT,
        refs,
        extra=extra,
        **common,
    )
    cv = run_models(
        "quality-mskcc-text-cv",
        f"MSKCC with texts: {folds}-fold CV grouped by text on the training set; "
        f"published winner: {MSKCC_TEXT_PUBLISHED['5-fold CV']}",
        lambda s, track: cv_splits(train, folds, s),
        MUTATION_EFFECT,
        refs,
        extra=extra,
        **common,
    )
    combined = {"stage1": stage1, "cv": cv}
    write_json(out_dir, "quality-mskcc-text", combined)
    return combined


def _first_file(directory: Path, names: Sequence[str]) -> Path | None:
    return next((directory / n for n in names if (directory / n).is_file()), None)


def _shared(name: str) -> Path:
    from benchmarks.harness import SHARED_DATA

    path = (SHARED_DATA / name).resolve()
    if not path.is_dir():
        raise DataNotFoundError(f"no data given and no shared copy at {path}; pass --data")
    return path
