"""Drawing and writing validation results: PNG figures, a Markdown report, JSON and CSV.

Figures are drawn on a bare ``matplotlib.figure.Figure``, which renders with the Agg canvas
and never touches pyplot's global state or a display, so this works on a headless server and
does not change the backend of a caller's notebook.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rich.table import Table
from sklearn.calibration import calibration_curve
from sklearn.metrics import ConfusionMatrixDisplay

from oncoclass.evaluation.metrics import Metrics, expected_calibration_error
from oncoclass.evaluation.validation import ValidationResult

DPI = 150

#: Headline metrics in report order, with whether lower is better.
_HEADLINE: dict[str, tuple[str, bool]] = {
    "log_loss": ("Log loss", True),
    "accuracy": ("Accuracy", False),
    "macro_f1": ("Macro F1", False),
    "roc_auc": ("ROC AUC (macro OvR)", False),
    "ece": ("ECE (top-label)", True),
    "brier": ("Brier", True),
}


def plot_confusion_matrix(
    metrics: Metrics, path: Path, normalize: bool = True, title: str = ""
) -> Path:
    """Draw the confusion matrix (rows: true class) as a PNG.

    ``normalize`` divides each row by its support, so a row reads as the recall of that class
    spread over the predictions; a class with no samples stays a row of zeros.
    """
    counts = np.asarray(metrics.confusion, dtype=float)
    k = len(metrics.labels)
    if normalize:
        support = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, support, out=np.zeros_like(counts), where=support > 0)
    else:
        values = counts.astype(int)
    display = ConfusionMatrixDisplay(values, display_labels=_wrap(metrics.names, 16))
    size = max(6.0, 0.8 * k + 3.0)
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    display.plot(
        ax=ax,
        cmap="Blues",
        colorbar=True,
        values_format=".2f" if normalize else "d",
        xticks_rotation=45,
        text_kw={"fontsize": 8 if k <= 12 else 6},
    )
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
        tick.set_rotation_mode("anchor")
    ax.tick_params(labelsize=8)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(
        title or ("Confusion matrix (row-normalised)" if normalize else "Confusion matrix")
    )
    return _save(fig, path)


def plot_reliability(
    y_true_idx: np.ndarray, proba: np.ndarray, path: Path, n_bins: int = 10
) -> Path:
    """Draw a top-label reliability diagram: hit rate against stated confidence, as a PNG.

    Points on the diagonal are calibrated; below it the model is over-confident. The lower
    panel shows how many predictions fall at each confidence.
    """
    y_true_idx = np.asarray(y_true_idx)
    proba = np.asarray(proba, dtype=float)
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true_idx).astype(int)
    ece = expected_calibration_error(y_true_idx, proba)

    fig = Figure(figsize=(6, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    if correct.min() != correct.max():  # calibration_curve needs both outcomes
        hit_rate, mean_conf = calibration_curve(correct, confidence, n_bins=n_bins)
        top.plot(mean_conf, hit_rate, marker="o", label=f"model (ECE {ece:.3f})")
    else:
        top.scatter([confidence.mean()], [correct.mean()], label=f"model (ECE {ece:.3f})")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="Accuracy", title="Reliability (top label)")
    top.legend(loc="upper left")
    bottom.hist(confidence, bins=n_bins, range=(0, 1), color="tab:blue", edgecolor="white")
    bottom.set(xlabel="Confidence (top probability)", ylabel="Predictions")
    return _save(fig, path)


def write_report(
    result: ValidationResult,
    out_dir: Path,
    *,
    title: str,
    model_info: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the full report of a validation run into ``out_dir`` and return the paths.

    Keys of the returned dict: ``metrics`` (JSON), ``report`` (Markdown), ``confusion_matrix``
    and ``reliability`` (PNG), ``predictions`` (CSV of out-of-fold probabilities).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "metrics": out_dir / "metrics.json",
        "report": out_dir / "report.md",
        "confusion_matrix": out_dir / "confusion_matrix.png",
        "reliability": out_dir / "reliability.png",
        "predictions": out_dir / "oof_predictions.csv",
    }
    info = dict(model_info or {})
    y_idx = np.array([result.classes.index(y) for y in result.y_true])

    plot_confusion_matrix(result.metrics, paths["confusion_matrix"], title=title)
    plot_reliability(y_idx, result.oof_proba, paths["reliability"])
    _predictions_frame(result).to_csv(paths["predictions"], index=False)
    document = {
        "title": title,
        "model_info": info,
        "summary": result.metrics.summary(),
        "prior_summary": result.prior.summary(),
        **result.to_dict(),
    }
    # default=str: model_info may hold paths or dates; they are for reading, not round trips.
    paths["metrics"].write_text(json.dumps(document, indent=2, default=str) + "\n")
    paths["report"].write_text(_markdown(result, title, info, paths))
    return paths


def format_summary_table(result: ValidationResult) -> Table:
    """The headline numbers, model against the class prior, as a rich table for the CLI."""
    table = Table(title=f"{result.mode}, {result.metrics.n} samples, {len(result.classes)} classes")
    table.add_column("Metric")
    table.add_column("Model", justify="right")
    table.add_column("Class prior", justify="right")
    if result.fold_metrics:
        table.add_column("Folds (mean ± sd)", justify="right")
    model, prior = result.metrics.summary(), result.prior.summary()
    for key, (label, _) in _HEADLINE.items():
        row = [label, _fmt(model.get(key)), _fmt(prior.get(key))]
        if result.fold_metrics:
            row.append(_fold_spread(result.fold_metrics, key))
        table.add_row(*row)
    return table


def _markdown(
    result: ValidationResult, title: str, info: Mapping[str, Any], paths: Mapping[str, Path]
) -> str:
    m, p = result.metrics, result.prior
    lines = [
        f"# {title}",
        "",
        f"{result.mode} on {m.n} samples, {len(result.classes)} classes. The class prior "
        "predicts the training class frequencies for every sample: the bar a model must clear.",
        "",
        f"Folds: {result.fold_strategy or 'n/a'}.",
        "",
    ]
    if (u := result.uncertainty) is not None:
        lines += ["## Saying when not to trust it", ""]
        lines += _md_table(
            ["Measure", "Value"],
            [
                ["prediction-set coverage (stated)", _fmt(u.stated_coverage)],
                ["prediction-set coverage (measured)", _fmt(u.coverage)],
                ["mean prediction-set size", _fmt(u.mean_set_size)],
                ["rare-class items scored", str(u.n_novel)],
                ["novelty AUROC (rare vs known classes)", _fmt(u.novelty_auroc)],
                ["novelty flag rate, known classes", _fmt(u.flagged_known)],
                ["novelty flag rate, rare classes", _fmt(u.flagged_novel)],
            ],
        )
        lines += [""]
    if info:
        lines += ["## Model", "", *(f"- **{k}**: {v}" for k, v in info.items()), ""]

    lines += ["## Headline", ""]
    headline = []
    for key, (label, lower_is_better) in _HEADLINE.items():
        mv, pv = m.summary().get(key), p.summary().get(key)
        arrow = "↓" if lower_is_better else "↑"
        headline.append([f"{label} {arrow}", _fmt(mv), _fmt(pv), _delta(mv, pv)])
    lines += _md_table(["Metric", "Model", "Class prior", "Model − prior"], headline)
    lines += ["", "↓ lower is better, ↑ higher is better."]

    if (g := result.group_metrics) is not None:
        lines += ["", "## The coarse level (evidence type)", ""]
        lines += _md_table(
            ["Metric", "Model"],
            [[label, _fmt(g.summary().get(key))] for key, (label, _) in _HEADLINE.items()],
        )
        lines += ["", "The classes' probabilities summed within each evidence type."]

    lines += ["", "## Per class", ""]
    lines += _md_table(
        ["Class", "Name", "Precision", "Recall", "F1", "Support"],
        [
            [c.label, c.name, _fmt(c.precision), _fmt(c.recall), _fmt(c.f1), str(c.support)]
            for c in m.per_class
        ],
    )

    if result.fold_metrics:
        lines += ["", "## Per fold", ""]
        lines += _md_table(
            ["Fold", "n", "Log loss", "Accuracy", "Macro F1", "ROC AUC", "ECE"],
            [
                [
                    str(i),
                    str(f.n),
                    _fmt(f.log_loss),
                    _fmt(f.accuracy),
                    _fmt(f.macro_f1),
                    _fmt(f.roc_auc),
                    _fmt(f.ece),
                ]
                for i, f in enumerate(result.fold_metrics)
            ],
        )

    lines += [
        "",
        "## Figures",
        "",
        f"![Confusion matrix]({paths['confusion_matrix'].name})",
        "",
        f"![Reliability diagram]({paths['reliability'].name})",
        "",
        f"Per-sample probabilities: [{paths['predictions'].name}]({paths['predictions'].name}); "
        f"all numbers: [{paths['metrics'].name}]({paths['metrics'].name}).",
        "",
    ]
    return "\n".join(lines)


def _predictions_frame(result: ValidationResult) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "sample_id": result.sample_ids,
            "true_label": result.y_true,
            "predicted_label": [result.classes[i] for i in result.oof_proba.argmax(axis=1)],
            "fold": result.folds,
        }
    )
    probabilities = pd.DataFrame(
        result.oof_proba, columns=[f"p_{c}" for c in result.classes], index=frame.index
    )
    return pd.concat([frame, probabilities], axis=1)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [row(header), row(["---"] * len(header)), *(row(r) for r in rows)]


def _fold_spread(folds: Sequence[Metrics], key: str) -> str:
    values = [f.summary()[key] for f in folds if key in f.summary()]
    if not values:
        return "–"
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _delta(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a - b:+.4f}"


def _wrap(names: Sequence[str], width: int) -> list[str]:
    return [textwrap.fill(n, width) for n in names]


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path
