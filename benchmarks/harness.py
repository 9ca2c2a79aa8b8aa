"""What every benchmark shares: the models under test, one protocol for all of them, the
machine they ran on, tables and result files.

The protocol is the point of this module: the folds are computed once (``grouped_folds``) and
every model, OncoClass's and the references, is fitted on exactly the same training part (less
the same grouped validation part) and scored on exactly the same held-out samples.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from oncoclass.data.records import Sample
from oncoclass.data.tasks import get_task
from oncoclass.evaluation import Metrics, ValidationResult, make_folds, split_validation
from oncoclass.evaluation.validation import FoldOutput, combine_folds, fold_output

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
    # The ensemble first: its fit also yields its members' results (see ``evaluate``).
    ours = sorted(oncoclass_models(), key=lambda name: name != "ensemble")
    return [
        ModelSpec(name, quick_params(name) if quick else {})
        for name in [*references, *ours]
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
    """One model's out-of-fold (or test-set) result on one seed and one input track."""

    model: str
    reference: bool
    validation: ValidationResult
    fit_seconds: float
    predict_seconds: float
    seed: int = 13
    track: str = "context"

    @property
    def metrics(self) -> Metrics:
        return self.validation.metrics

    @property
    def fold_metrics(self) -> list[Metrics]:
        return self.validation.fold_metrics

    @property
    def oof_proba(self) -> np.ndarray:
        return self.validation.oof_proba

    @property
    def classes(self) -> list[str]:
        return self.validation.classes

    def to_dict(self) -> dict[str, Any]:
        u = self.validation.uncertainty
        return {
            "model": self.model,
            "reference": self.reference,
            "seed": self.seed,
            "track": self.track,
            "metrics": self.metrics.summary(),
            "group_metrics": (
                self.validation.group_metrics.summary() if self.validation.group_metrics else None
            ),
            "uncertainty": u.to_dict() if u is not None else None,
            "per_class": [
                {"label": c.label, "f1": c.f1, "recall": c.recall, "support": c.support}
                for c in self.metrics.per_class
            ],
            "fold_metrics": [m.summary() for m in self.fold_metrics],
            "fold_strategy": self.validation.fold_strategy,
            "fit_seconds": round(self.fit_seconds, 2),
            "predict_seconds": round(self.predict_seconds, 2),
        }


@dataclass(frozen=True)
class Split:
    """One train/test split, with the validation part carved out of the training side once."""

    fit: list[Sample]
    valid: list[Sample]
    test: list[Sample]
    train_idx: np.ndarray
    test_idx: np.ndarray


@dataclass(frozen=True)
class Splits:
    """The splits every model of a benchmark shares, over ``samples``."""

    samples: list[Sample]
    folds: list[Split]
    strategy: str

    def __len__(self) -> int:
        return len(self.folds)

    def __iter__(self) -> Iterator[Split]:
        return iter(self.folds)


def cv_splits(samples: Sequence[Sample], k: int, seed: int) -> Splits:
    """The k grouped folds every model shares (no group on both sides of any split)."""
    samples = list(samples)
    folds, strategy = make_folds(samples, k=k, seed=seed)
    splits = []
    for train_idx, test_idx in folds:
        fit, valid = split_validation([samples[i] for i in train_idx], VALID_FRACTION, seed)
        splits.append(Split(fit, valid, [samples[i] for i in test_idx], train_idx, test_idx))
    return Splits(samples, splits, strategy)


def fixed_split(train: Sequence[Sample], test: Sequence[Sample], seed: int) -> Splits:
    """A published or temporal train/test split, as a one-split ``Splits``."""
    train, test = list(train), list(test)
    fit, valid = split_validation(train, VALID_FRACTION, seed)
    both = [*train, *test]
    split = Split(fit, valid, test, np.arange(len(train)), np.arange(len(train), len(both)))
    return Splits(both, [split], "fixed train/test split")


def with_track(samples: Sequence[Sample], track: str) -> list[Sample]:
    """The samples as a track sees them: "context" as they are; "text" without disease and
    drugs (in CIViC the drugs field is filled for Predictive items only, so it gives the
    evidence type away: the text-only track says what the text alone supports)."""
    if track == "context":
        return list(samples)
    if track == "text":
        return [replace(s, disease="", drugs=()) for s in samples]
    raise ValueError(f"unknown track {track!r}")


def evaluate(
    spec: ModelSpec,
    splits: Splits,
    task: str,
    seed: int,
    names: dict[str, str] | None = None,
    *,
    track: str = "context",
) -> list[ModelResult]:
    """Fit ``spec`` on every split and score its out-of-fold predictions.

    An ensemble's members are fitted inside it exactly as the standalone models are (same
    data, seed and defaults), so their rows come from the same fits: one ensemble fit yields
    the ensemble's and its members' results.
    """
    outputs: dict[str, list[FoldOutput]] = {}
    fit_s = predict_s = 0.0
    for i, split in enumerate(splits):
        start = time.perf_counter()
        model = spec.create(task, seed).fit(split.fit, split.valid or None)
        fit_s += (mid := time.perf_counter()) - start
        outputs.setdefault(spec.name, []).append(fold_output(model, split.test))
        predict_s += time.perf_counter() - mid
        for member in _default_members(spec, model):
            outputs.setdefault(member.name, []).append(fold_output(member, split.test))
        if len(splits) > 1:
            console.log(
                f"{spec.name} ({track}, seed {seed}): fold {i + 1}/{len(splits)} done "
                f"({time.perf_counter() - start:.0f} s)"
            )
    folds = [(s.train_idx, s.test_idx) for s in splits]
    group_of = get_task(task).group_of
    return [
        ModelResult(
            name,
            spec.is_reference and name == spec.name,
            combine_folds(
                splits.samples,
                folds,
                outs,
                names=names,
                strategy=splits.strategy,
                group_of=group_of,
            ),  # fmt: skip
            fit_s if name == spec.name else 0.0,
            predict_s if name == spec.name else 0.0,
            seed=seed,
            track=track,
        )
        for name, outs in outputs.items()
    ]


def _default_members(spec: ModelSpec, model: Any) -> list[Any]:
    """An ensemble's members that are standalone models with their default parameters: the
    first fit of each (its other seeds' fits are not the model as trained alone)."""
    members = getattr(model, "members_", None)
    if not members or spec.params.get("member_params"):
        return []
    return [m for m in members if m.seed == model.seed]


# ---- aggregation over seeds -------------------------------------------------------------------
#: Uncertainty columns of the tables: what a model says about when not to trust it.
UNCERTAINTY: dict[str, str] = {
    "coverage": "set cover",
    "mean_set_size": "set size",
    "novelty_auroc": "novelty AUROC",
    "group_accuracy": "type acc",
}


def summarize(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, track): the mean and standard deviation over seeds of every metric
    (``ModelResult.to_dict()`` rows in, in first-seen order)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["model"], r.get("track", "context")), []).append(r)
    rows = []
    for (model, track), runs in groups.items():
        row: dict[str, Any] = {
            "model": model,
            "track": track,
            "reference": runs[0]["reference"],
            "seeds": [r.get("seed") for r in runs],
            "fit_seconds": float(np.mean([r["fit_seconds"] for r in runs])),
            "mean": {},
            "sd": {},
        }
        keys = [*METRICS, *UNCERTAINTY]
        for key in keys:
            values = [
                v
                for r in runs
                if (v := (r["metrics"].get(key) if key in METRICS else _u(r, key))) is not None
            ]
            if values:
                row["mean"][key] = float(np.mean(values))
                row["sd"][key] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def _u(result: dict[str, Any], key: str) -> float | None:
    if key == "group_accuracy":
        return (result.get("group_metrics") or {}).get("accuracy")
    u = result.get("uncertainty") or {}
    if key == "coverage" and u.get("stated_coverage") is None:
        return None  # a model without calibrated sets: its "set" is the top class
    return u.get(key)


# ---- targets -------------------------------------------------------------------------------------
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


def check_targets(
    rows: Sequence[dict[str, Any]], targets: Sequence[Target], model: str, track: str
) -> list[dict[str, Any]]:
    """``targets`` checked on the mean over seeds of ``model`` on ``track`` (summary rows)."""
    row = next((r for r in rows if r["model"] == model and r["track"] == track), None)
    out = []
    for t in targets:
        value = None if row is None else row["mean"].get(t.metric)
        sd = None if row is None else row["sd"].get(t.metric)
        out.append(
            {
                "target": t.describe(),
                "model": model,
                "track": track,
                "value": value,
                "sd": sd,
                "met": t.met(value),
                "gap": None if value is None else round(value - t.bound, 4),
            }
        )
    return out


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


def metrics_grid(title: str, rows: Sequence[dict[str, Any]]) -> Grid:
    """One row per model and track (``summarize`` rows): mean ± sd over seeds, references in
    italics, the best mean of each column (per track) in bold."""
    tracks = list(dict.fromkeys(r["track"] for r in rows))
    grid = Grid(title, ["model", "track", *METRICS, *UNCERTAINTY.values(), "fit s"])
    for track in tracks:
        mine = [r for r in rows if r["track"] == track]
        best = {m: _best([r["mean"].get(m) for r in mine], low) for m, low in METRICS.items()}
        for r in mine:
            cells = []
            for m in [*METRICS, *UNCERTAINTY]:
                v, sd = r["mean"].get(m), r["sd"].get(m)
                text = "-" if v is None else f"{v:.3f}"
                if v is not None and len(r["seeds"]) > 1:
                    text += f" ± {sd:.3f}"
                cells.append(f"**{text}**" if v is not None and v == best.get(m) else text)
            label = f"_{r['model']}_" if r["reference"] else r["model"]
            grid.rows.append([label, track, *cells, f"{r['fit_seconds']:.1f}"])
    return grid


def _best(values: Sequence[float | None], lower: bool) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if lower else max(present)


def targets_grid(rows: Sequence[dict[str, Any]], title: str = "targets") -> Grid:
    grid = Grid(title, ["target", "model", "track", "value", "met", "gap"])
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.3f}"
        if r.get("sd"):
            value += f" ± {r['sd']:.3f}"
        gap = "-" if r["gap"] is None else f"{r['gap']:+.3f}"
        grid.rows.append(
            [
                r["target"],
                r["model"],
                r.get("track", ""),
                value,
                "yes" if r["met"] else "**no**",
                gap,
            ]
        )
    return grid


#: The code whose behaviour the figures describe: results measured on other versions of it
#: are refused by ``python -m benchmarks markdown``.
MODEL_CODE = (
    "oncoclass/models",
    "oncoclass/features",
    "oncoclass/training",
    "oncoclass/data/civic.py",
    "oncoclass/data/mskcc.py",
    "oncoclass/data/records.py",
    "oncoclass/data/tasks.py",
    "oncoclass/data/releases.py",
    "oncoclass/evaluation",
    "oncoclass/predictor.py",
    "oncoclass/workflows.py",
    "benchmarks/references.py",
    "benchmarks/harness.py",
)
ROOT = Path(__file__).resolve().parents[1]


def code_hash(root: Path = ROOT) -> str:
    """A hash of the content of :data:`MODEL_CODE` (Python files), whatever git says."""
    digest = hashlib.sha256()
    for part in MODEL_CODE:
        path = root / part
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def provenance(root: Path = ROOT) -> dict[str, Any]:
    """The commit the figures were measured on, whether the working tree differed from it
    (anywhere, and in the model code), and the hash of the model code itself.

    Taken once per process, when the benchmark starts (see the end of this module): a run
    takes hours, and its figures belong to the code it started with, whatever is committed
    or edited meanwhile."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "model_code_dirty": bool(
            git("status", "--porcelain", "--untracked-files=all", "--", *MODEL_CODE)
        ),
        "code_hash": code_hash(root),
    }


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
        **provenance(),
    }


def write_oof(out_dir: Path, name: str, results: Sequence[ModelResult]) -> Path:
    """``<out_dir>/<name>-oof.npz``: every model's out-of-fold probabilities (per track and
    seed) with the true labels and sample ids, for analyses without re-training."""
    arrays: dict[str, np.ndarray] = {}
    for r in results:
        key = f"{r.model}:{r.track}:{r.seed}"
        arrays[f"proba:{key}"] = r.oof_proba
        arrays[f"classes:{key}"] = np.array(r.classes)
        arrays[f"ids:{key}"] = np.array(r.validation.sample_ids)
        arrays[f"y_true:{key}"] = np.array(r.validation.y_true)
    path = out_dir / f"{name}-oof.npz"
    out_dir.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
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


provenance()  # now, at the start of the run (see provenance)
