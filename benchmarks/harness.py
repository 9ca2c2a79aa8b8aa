"""What every benchmark shares: the models under test, one protocol for all of them, the
machine they ran on, tables and result files.

The protocol is the point of this module: the folds are computed once (``grouped_folds``) and
every model, OncoClass's and the references, is fitted on exactly the same training part (less
the same grouped validation part) and scored on exactly the same held-out samples.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from oncoclass.data.records import Sample
from oncoclass.evaluation import (
    Metrics,
    align_proba,
    compute_metrics,
    grouped_folds,
    split_validation,
)

#: The real data beside the repository (never copied into it).
SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
#: Headline metrics, in table order, and whether lower is better.
METRICS: dict[str, bool] = {
    "log_loss": True,
    "accuracy": False,
    "macro_f1": False,
    "roc_auc": False,
    "ece": True,
}
VALID_FRACTION = 0.1

console = Console(stderr=True)
out = Console()


# ---- the models under test -------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """One model in a benchmark: its registry (or reference) name and its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reference(self) -> bool:
        from benchmarks.references import is_reference

        return is_reference(self.name)

    def create(self, task: str, seed: int) -> Any:
        """A fresh, unfitted model."""
        from benchmarks.references import REFERENCES
        from oncoclass.models import create_model

        if self.is_reference:
            return REFERENCES[self.name](task=task, seed=seed, **self.params)
        return create_model(self.name, task=task, seed=seed, progress=False, **self.params)


def oncoclass_models() -> list[str]:
    """Every model in OncoClass's registry, in registration order (read at run time, so a
    model the lead adds, e.g. an ensemble, is benchmarked without touching this package)."""
    from benchmarks.references import is_reference
    from oncoclass.models import REGISTRY

    return [name for name in REGISTRY if not is_reference(name)]


def model_specs(
    references: Sequence[str], quick: bool = False, only: Sequence[str] | None = None
) -> list[ModelSpec]:
    """References first, then every OncoClass model; ``quick`` trains the neural ones (and an
    ensemble's neural members) for one epoch; ``only`` keeps the named models."""
    return [
        ModelSpec(name, quick_params(name) if quick else {})
        for name in [*references, *oncoclass_models()]
        if not only or name in only
    ]


def quick_params(name: str) -> dict[str, Any]:
    """Parameters for a smoke run: one epoch, for the model or for each member of an ensemble."""
    params = _param_defaults(name)
    if "epochs" in params:
        return {"epochs": 1}
    if "members" in params and "member_params" in params:
        members = params["members"]
        return {
            "member_params": {m: {"epochs": 1} for m in members if "epochs" in _param_defaults(m)}
        }
    return {}


def _param_defaults(name: str) -> dict[str, Any]:
    """A model's constructor parameters and their defaults (along its class hierarchy)."""
    from benchmarks.references import REFERENCES
    from oncoclass.models import get_model_class

    cls = REFERENCES.get(name) or get_model_class(name)
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if "__init__" in vars(klass) and klass is not object:
            for p in inspect.signature(vars(klass)["__init__"]).parameters.values():
                if p.kind is p.KEYWORD_ONLY:
                    defaults[p.name] = p.default
    return defaults


# ---- the protocol ----------------------------------------------------------------------------
@dataclass
class ModelResult:
    """One model's out-of-fold (or test-set) metrics and how long it took."""

    model: str
    reference: bool
    metrics: Metrics
    fold_metrics: list[Metrics]
    fit_seconds: float
    predict_seconds: float
    #: Out-of-fold probabilities (n, len(classes)) in the order of the split's test samples.
    oof_proba: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reference": self.reference,
            "metrics": self.metrics.summary(),
            "per_class": [
                {"label": c.label, "f1": c.f1, "recall": c.recall, "support": c.support}
                for c in self.metrics.per_class
            ],
            "fold_metrics": [m.summary() for m in self.fold_metrics],
            "fit_seconds": round(self.fit_seconds, 2),
            "predict_seconds": round(self.predict_seconds, 2),
        }


@dataclass(frozen=True)
class Split:
    """One train/test split, with the validation part carved out of the training side once."""

    fit: list[Sample]
    valid: list[Sample]
    test: list[Sample]
    test_idx: np.ndarray


def cv_splits(samples: Sequence[Sample], k: int, seed: int) -> list[Split]:
    """The k grouped folds every model shares (no group on both sides of any split)."""
    samples = list(samples)
    splits = []
    for train_idx, test_idx in grouped_folds(samples, k=k, seed=seed):
        fit, valid = split_validation([samples[i] for i in train_idx], VALID_FRACTION, seed)
        splits.append(Split(fit, valid, [samples[i] for i in test_idx], test_idx))
    return splits


def fixed_split(train: Sequence[Sample], test: Sequence[Sample], seed: int) -> list[Split]:
    """A published train/test split (MSKCC stage 1), as a one-element list of splits."""
    fit, valid = split_validation(list(train), VALID_FRACTION, seed)
    return [Split(fit, valid, list(test), np.arange(len(test)))]


def evaluate(
    spec: ModelSpec,
    splits: Sequence[Split],
    task: str,
    seed: int,
    names: dict[str, str] | None = None,
) -> ModelResult:
    """Fit ``spec`` on every split and score its out-of-fold predictions."""
    n = sum(len(s.test) for s in splits)
    y_true: list[str] = [""] * n
    raw: list[tuple[np.ndarray, np.ndarray, list[str]]] = []
    fit_s = predict_s = 0.0
    for i, split in enumerate(splits):
        start = time.perf_counter()
        model = spec.create(task, seed).fit(split.fit, split.valid or None)
        fit_s += (mid := time.perf_counter()) - start
        proba = np.asarray(model.predict_proba(split.test), dtype=float)
        predict_s += time.perf_counter() - mid
        raw.append((split.test_idx, proba, [str(c) for c in model.classes_]))
        for j, s in zip(split.test_idx, split.test, strict=True):
            y_true[j] = str(s.label)
        if len(splits) > 1:
            console.log(
                f"{spec.name}: fold {i + 1}/{len(splits)} done "
                f"({time.perf_counter() - start:.0f} s)"
            )
    classes = sorted(set(y_true).union(*(c for _, _, c in raw)))
    class_names = [(names or {}).get(c, c) for c in classes]
    oof = np.zeros((n, len(classes)))
    fold_metrics = []
    for idx, proba, model_classes in raw:
        oof[idx] = align_proba(proba, model_classes, classes)
        if len(splits) > 1:
            fold_metrics.append(
                compute_metrics([y_true[j] for j in idx], oof[idx], classes, class_names)
            )
    return ModelResult(
        spec.name,
        spec.is_reference,
        compute_metrics(y_true, oof, classes, class_names),
        fold_metrics,
        fit_s,
        predict_s,
        oof,
        classes,
    )


# ---- targets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    metric: str
    bound: float

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.metric]

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value <= self.bound if self.lower_is_better else value >= self.bound

    def describe(self) -> str:
        return f"{self.metric} {'≤' if self.lower_is_better else '≥'} {self.bound:g}"


def best_oncoclass(results: Sequence[ModelResult]) -> ModelResult | None:
    """OncoClass's best model: the lowest log loss (the metric every model is trained on)."""
    ours = [r for r in results if not r.reference]
    return min(ours, key=lambda r: r.metrics.log_loss) if ours else None


def check_targets(results: Sequence[ModelResult], targets: Sequence[Target]) -> list[dict]:
    best = best_oncoclass(results)
    if best is None:
        return []
    summary = best.metrics.summary()
    rows = []
    for t in targets:
        value = summary.get(t.metric)
        rows.append(
            {
                "target": t.describe(),
                "model": best.model,
                "value": value,
                "met": t.met(value),
                "gap": None if value is None else round(value - t.bound, 4),
            }
        )
    return rows


# ---- output ----------------------------------------------------------------------------------
@dataclass
class Grid:
    """A table of strings, shown in the terminal (rich) and in docs/benchmarks.md (Markdown).
    A cell may be ``**bold**``; the first column is left-aligned, the others right-aligned."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def rich(self) -> Table:
        table = Table(title=self.title)
        for i, col in enumerate(self.columns):
            table.add_column(col, justify="left" if i == 0 else "right")
        for row in self.rows:
            table.add_row(*(_rich_markup(c) for c in row))
        return table

    def markdown(self) -> str:
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join([":---"] + ["---:"] * (len(self.columns) - 1)) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def _rich_markup(cell: str) -> str:
    cell = re.sub(r"\*\*(.+?)\*\*", r"[bold]\1[/]", cell)
    return re.sub(r"^_(.+)_$", r"[italic]\1[/]", cell)


def metrics_grid(
    title: str, results: Sequence[dict[str, Any]], targets: Sequence[Target] = ()
) -> Grid:
    """One row per model (``ModelResult.to_dict()``), references in italics; the best value of
    each column in bold."""
    grid = Grid(title, ["model", *METRICS, "fit s"])
    best = {m: _best([r["metrics"].get(m) for r in results], low) for m, low in METRICS.items()}
    for r in results:
        cells = []
        for m in METRICS:
            v = r["metrics"].get(m)
            text = "-" if v is None else f"{v:.3f}"
            cells.append(f"**{text}**" if v is not None and v == best[m] else text)
        label = f"_{r['model']}_" if r["reference"] else r["model"]
        grid.rows.append([label, *cells, f"{r['fit_seconds']:.1f}"])
    if targets:
        goals = {t.metric: t for t in targets}
        grid.rows.append(
            [
                "target",
                *[goals[m].describe().split(" ", 1)[1] if m in goals else "" for m in METRICS],
                "",
            ]
        )
    return grid


def _best(values: Sequence[float | None], lower: bool) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if lower else max(present)


def targets_grid(rows: Sequence[dict[str, Any]], title: str = "targets") -> Grid:
    grid = Grid(title, ["target", "model", "value", "met", "gap"])
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.3f}"
        gap = "-" if r["gap"] is None else f"{r['gap']:+.3f}"
        grid.rows.append([r["target"], r["model"], value, "yes" if r["met"] else "**no**", gap])
    return grid


def machine_info() -> dict[str, Any]:
    """Where the figures were measured: they mean little without it."""
    import sklearn
    import torch

    from oncoclass import __version__

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        # Other work on the machine skews timings; the load average says how busy it was.
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sklearn": sklearn.__version__,
        "oncoclass": __version__,
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
    }


def write_oof(
    out_dir: Path, name: str, results: Sequence[ModelResult], splits: Sequence[Split]
) -> Path:
    """``<out_dir>/<name>-oof.npz``: every model's out-of-fold probabilities, the true labels,
    the sample ids and the fold of each sample, for analyses (ensembles, decision rules)
    without re-training."""
    n = sum(len(s.test) for s in splits)
    ids, labels, folds = [""] * n, [""] * n, np.zeros(n, dtype=int)
    for fold, split in enumerate(splits):
        for j, sample in zip(split.test_idx, split.test, strict=True):
            ids[j], labels[j], folds[j] = sample.id, str(sample.label), fold
    arrays = {f"proba:{r.model}": r.oof_proba for r in results if r.oof_proba is not None}
    classes = {f"classes:{r.model}": np.array(r.classes) for r in results}
    path = out_dir / f"{name}-oof.npz"
    with _atomic(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(
            handle, ids=np.array(ids), y_true=np.array(labels), folds=folds, **arrays, **classes
        )
    return path


def write_json(out_dir: Path, name: str, payload: dict[str, Any]) -> Path:
    """``<out_dir>/<name>.json`` with the machine description added."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    with _atomic(path) as tmp:
        tmp.write_text(
            json.dumps(
                {"benchmark": name, "machine": machine_info(), **payload},
                indent=1,
                default=_jsonable,
            )
        )
    return path


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends without error,
    so that a reader (or a run stopped half-way) never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
