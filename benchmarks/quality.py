"""Quality benchmarks: OncoClass's models beside the references, same data, same splits.

``quality-civic``       CIViC clinical significance, 5-fold CV grouped by PubMed id, OOF.
``quality-mskcc``       MSKCC variants only: train on ``training_variants``, score the 368
                        labelled stage-1 rows.
``quality-mskcc-text``  the same with the Kaggle texts (stage 1, and 5-fold grouped CV on the
                        training set), for users who have ``training_text``/``test_text``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ModelResult,
    Split,
    Target,
    check_targets,
    console,
    cv_splits,
    evaluate,
    fixed_split,
    metrics_grid,
    model_specs,
    out,
    targets_grid,
    write_json,
    write_oof,
)
from oncoclass.data import load_civic, load_mskcc_stage1, load_mskcc_train
from oncoclass.data.records import Sample
from oncoclass.data.tasks import CLINICAL_SIGNIFICANCE, MSKCC_CLASS_NAMES, MUTATION_EFFECT
from oncoclass.errors import DataNotFoundError

CIVIC_TARGETS = (Target("log_loss", 0.42), Target("macro_f1", 0.80), Target("ece", 0.05))
MSKCC_TARGETS = (Target("log_loss", 0.90), Target("macro_f1", 0.52))
#: The NeurIPS 2017 competition winner's published log loss with the texts.
MSKCC_TEXT_PUBLISHED = {"stage-1": 0.55, "5-fold CV": 0.67}
#: The issue's own measurements of the references, for the record.
ISSUE_REFERENCE_FIGURES = {
    "quality-civic": {"ref-peer": {"log_loss": 0.534, "accuracy": 0.805, "macro_f1": 0.707}},
    "quality-mskcc": {
        "ref-variants-lr": {"log_loss": 1.004, "accuracy": 0.611, "macro_f1": 0.488},
        "ref-prior": {"log_loss": 1.819},
    },
}
QUICK_SAMPLES = 300
TARGETS_TITLE = "targets, checked for OncoClass's best model by log loss"


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
    splits: Sequence[Split],
    task: str,
    references: Sequence[str],
    *,
    seed: int,
    quick: bool,
    only: Sequence[str] | None,
    out_dir: Path,
    targets: Sequence[Target] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every model on ``splits``; the JSON is rewritten after each model, so a long
    run that is stopped keeps what it measured."""
    names = dict(MSKCC_CLASS_NAMES) if task == MUTATION_EFFECT else None
    results: list[ModelResult] = []
    payload: dict[str, Any] = {}
    for spec in model_specs(references, quick=quick, only=only):
        console.log(f"{benchmark}: {spec.name} {spec.params or ''}")
        results.append(evaluate(spec, splits, task, seed, names))
        payload = {
            "title": title,
            "quick": quick,
            "task": task,
            "n_test": sum(len(s.test) for s in splits),
            "n_splits": len(splits),
            "results": [r.to_dict() for r in results],
            "targets": check_targets(results, targets),
            **(extra or {}),
        }
        write_json(out_dir, benchmark, payload)
        write_oof(out_dir, benchmark, results, splits)
    out.print(metrics_grid(title, payload["results"], targets).rich())
    if payload.get("targets"):
        out.print(targets_grid(payload["targets"], TARGETS_TITLE).rich())
    return payload


def quality_civic(
    data: Path | None = None,
    *,
    out_dir: Path,
    quick: bool = False,
    folds: int = 5,
    seed: int = 13,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    samples = load_civic(data or _shared("civic"), min_support=30)
    if quick:
        samples, folds = subset_by_group(samples, QUICK_SAMPLES, seed), 2
    splits = cv_splits(samples, folds, seed)
    title = (
        f"CIViC clinical significance: {len(samples):,} items, {folds}-fold CV grouped by "
        "PubMed id, out-of-fold"
    )
    return run_models(
        "quality-civic",
        title,
        splits,
        CLINICAL_SIGNIFICANCE,
        ["ref-prior", "ref-peer", "ref-seed"],
        seed=seed,
        quick=quick,
        only=only,
        out_dir=out_dir,
        targets=CIVIC_TARGETS,
        extra={"issue_figures": ISSUE_REFERENCE_FIGURES["quality-civic"]},
    )


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
    return run_models(
        "quality-mskcc",
        title,
        fixed_split(train, test, seed),
        MUTATION_EFFECT,
        ["ref-prior", "ref-variants-lr"],
        seed=seed,
        quick=quick,
        only=only,
        out_dir=out_dir,
        targets=MSKCC_TARGETS,
        extra={"issue_figures": ISSUE_REFERENCE_FIGURES["quality-mskcc"]},
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
    common = {"seed": seed, "quick": quick, "only": only, "out_dir": out_dir}
    extra = {
        "published_log_loss": MSKCC_TEXT_PUBLISHED,
        "n_train_texts": n_text,
        "train_text": str(train_text),
        "test_text": str(test_text or ""),
    }
    stage1 = run_models(
        "quality-mskcc-text-stage1",
        f"MSKCC with texts ({n_text:,} of {len(train):,} training rows have one): stage 1 "
        f"({len(test)} rows); published winner: {MSKCC_TEXT_PUBLISHED['stage-1']}",
        fixed_split(train, test, seed),
        MUTATION_EFFECT,
        refs,
        extra=extra,
        **common,
    )
    cv = run_models(
        "quality-mskcc-text-cv",
        f"MSKCC with texts: {folds}-fold CV grouped by text on the training set; "
        f"published winner: {MSKCC_TEXT_PUBLISHED['5-fold CV']}",
        cv_splits(train, folds, seed),
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
