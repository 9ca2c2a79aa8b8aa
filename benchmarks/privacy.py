"""``python -m benchmarks.privacy [--model-dir DIR] [--out DIR]``: how well the de-identifier
(``oncoclass.privacy``) scrubs, how fast, and what scrubbing does to predictions.

* **planted identifiers**: recall and precision per identifier type on the generated
  clinical-report sentences of ``tests/test_privacy.py`` (how they are counted is told
  there), on the templates the recogniser was tuned on and on held-out ones;
* **CIViC statements**: how many real statements the scrubber changes, and how many of their
  gene symbols, variants and therapies it touched (the target is none);
* **speed**: a 2,000-character report, a 300,000-character paper (CIViC statements end to
  end) and a 300,000-character text as dense in identifiers as the reports;
* **predictions**: a trained model (``--model-dir``, default the data home's default model)
  scores a sample of CIViC statements with and without scrubbing: the share of statements the
  scrubber changed, the share whose predicted class changed, and the mean and largest change
  of the probability of the class predicted on the original text.

Prints the tables and writes ``DIR/privacy.json``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import (
    DEFAULT_OUT,
    SHARED_DATA,
    Grid,
    console,
    machine_info,
    out,
    write_json,
)
from oncoclass.privacy import Deidentifier
from tests.test_privacy import (
    CIVIC_2024,
    build_eval_set,
    civic_genes,
    protected_terms,
    read_civic_statements,
    score_scrubber,
    scrubbed_protected,
)

#: Targets from the issue.
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.9
TARGET_LONG_TEXT_S = 1.0
#: What scrubbing may do to predictions on CIViC statements, at most (ours).
TARGET_CLASS_CHANGED = 0.01
TARGET_MEAN_SHIFT = 0.005


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.privacy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="Trained model (default: the data home's default model).",
    )
    parser.add_argument(
        "--civic",
        type=Path,
        default=SHARED_DATA / CIVIC_2024,
        help="A CIViC 2024 ClinicalEvidenceSummaries.tsv.",
    )
    parser.add_argument("--statements", type=int, default=500, help="CIViC statements to score.")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Results folder.")
    return parser.parse_args(argv)


# ---- planted identifiers ---------------------------------------------------------------------
def planted(deid: Deidentifier, seed: int) -> dict[str, Any]:
    sets = {
        "tuned": build_eval_set(seed=seed),
        "held_out": build_eval_set(120, 30, seed=seed, held_out=True),
    }
    result: dict[str, Any] = {}
    for name, examples in sets.items():
        score = score_scrubber(deid.find, examples)
        result[name] = {
            "sentences": len(examples),
            "with_identifiers": sum(bool(ex.gold) for ex in examples),
            **score.summary(),
            "misses": score.misses,
            "false_positives": score.false_positives,
        }
    return result


def planted_grid(name: str, summary: dict[str, Any]) -> Grid:
    grid = Grid(
        f"planted identifiers, {name} templates ({summary['sentences']} sentences)",
        ["type", "planted", "recall", "label agreement", "found", "precision"],
    )
    rows = [*summary["per_type"].items(), ("**overall**", summary["overall"])]
    for kind, tally in rows:
        grid.rows.append(
            [
                kind,
                str(tally["gold"]),
                _fmt(tally["recall"]),
                _fmt(tally["label_agreement"]),
                str(tally["found"]),
                _fmt(tally["precision"]),
            ]
        )
    grid.rows.append(
        ["characters", "", _fmt(summary["char_recall"]), "", "", _fmt(summary["char_precision"])]
    )
    grid.rows.append(["target", "", f"≥ {TARGET_RECALL}", "", "", f"≥ {TARGET_PRECISION}"])
    return grid


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# ---- CIViC statements ------------------------------------------------------------------------
def civic_scrub_rate(deid: Deidentifier, rows: Sequence[dict[str, str]]) -> dict[str, Any]:
    """Every statement scrubbed once: how many changed, under which placeholders, and which
    protected terms (genes, variants, therapies) a scrub touched."""
    genes = civic_genes(rows)
    changed, types, touched = 0, Counter[str](), Counter[str]()
    for row in rows:
        text = row["evidence_statement"]
        result = deid.scrub(text)
        changed += result.changed
        types.update(e.type for e in result.entities)
        touched.update(scrubbed_protected(result, text, protected_terms(row, genes)))
    return {
        "statements": len(rows),
        "changed": changed,
        "changed_fraction": round(changed / len(rows), 4),
        "placeholders": dict(types.most_common()),
        "protected_terms_scrubbed": dict(touched.most_common()),
    }


def civic_grid(summary: dict[str, Any]) -> Grid:
    grid = Grid("CIViC statements scrubbed", ["", "value"])
    grid.rows += [
        ["statements", f"{summary['statements']:,}"],
        ["changed by the scrubber", f"{summary['changed']:,} ({summary['changed_fraction']:.1%})"],
        *[[f"placeholders [{k}]", str(v)] for k, v in summary["placeholders"].items()],
        [
            "genes, variants, therapies scrubbed",
            str(sum(summary["protected_terms_scrubbed"].values())),
        ],
    ]
    return grid


# ---- speed -----------------------------------------------------------------------------------
def _median_seconds(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``call`` (CPU time says less about other work on
    a busy machine)."""
    call()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def speed(deid: Deidentifier, rows: Sequence[dict[str, str]], seed: int) -> dict[str, Any]:
    start = time.perf_counter()
    Deidentifier()
    timings: dict[str, Any] = {"build_s": round(time.perf_counter() - start, 3)}
    reports = " ".join(ex.text for ex in build_eval_set(60, 10, seed=seed + 1))
    dense = (reports * (300_000 // len(reports) + 1))[:300_000]
    texts = {"report_2k": dense[:2_000], "dense_300k": dense}
    if rows:
        texts["paper_300k"] = " ".join(r["evidence_statement"] for r in rows)[:300_000]
    for name, text in texts.items():
        repeats = 50 if len(text) < 10_000 else 5
        wall, cpu = _median_seconds(lambda t=text: deid.scrub(t), repeats)
        timings[name] = {
            "characters": len(text),
            "identifiers": len(deid.find(text)),
            "wall_s": round(wall, 4),
            "cpu_s": round(cpu, 4),
        }
    return timings


def speed_grid(timings: dict[str, Any]) -> Grid:
    grid = Grid("speed (median)", ["text", "identifiers", "wall s", "CPU s", "target"])
    grid.rows.append(
        ["build the first Deidentifier", "", f"{timings['first_build_s']:.3f}", "", ""]
    )
    grid.rows.append(["build another", "", f"{timings['build_s']:.3f}", "", ""])
    labels = {
        "report_2k": ("report, 2,000 characters", "a few ms"),
        "paper_300k": ("paper, 300,000 characters (CIViC)", f"≤ {TARGET_LONG_TEXT_S} s"),
        "dense_300k": ("300,000 characters as dense as the reports", ""),
    }
    for key, (label, target) in labels.items():
        if key in timings:
            t = timings[key]
            grid.rows.append(
                [label, str(t["identifiers"]), f"{t['wall_s']:.4f}", f"{t['cpu_s']:.4f}", target]
            )
    return grid


# ---- predictions -----------------------------------------------------------------------------
def prediction_shift(
    model_dir: Path, deid: Deidentifier, rows: Sequence[dict[str, str]], n: int, seed: int
) -> dict[str, Any]:
    """Score ``n`` CIViC statements with and without scrubbing their text."""
    from oncoclass.predictor import Predictor

    predictor = Predictor.load(model_dir)
    usable = [r for r in rows if " " in r["molecular_profile"].strip()]
    sample = random.Random(seed).sample(usable, min(n, len(usable)))
    original, scrubbed = [], []
    for i, row in enumerate(sample):
        gene, variant = row["molecular_profile"].strip().split(" ", 1)
        drugs = [d for d in row.get("therapies", "").split(",") if d.strip()]
        text = row["evidence_statement"]
        for texts, body in ((original, text), (scrubbed, deid.scrub(text).text)):
            texts.append(
                predictor.make_sample(gene, variant, body, row["disease"], drugs, id=f"civic-{i}")
            )
    before = _probabilities(predictor, original)
    after = _probabilities(predictor, scrubbed)
    top = before.argmax(axis=1)
    shift = np.abs(after[np.arange(len(top)), top] - before[np.arange(len(top)), top])
    flipped = after.argmax(axis=1) != top
    touched = np.array([a.text != b.text for a, b in zip(original, scrubbed, strict=True)])
    return {
        "model_dir": str(predictor.path),
        "model": predictor.model_name,
        "model_version": predictor.model_version,
        "statements": len(sample),
        "text_changed": int(touched.sum()),
        "text_changed_fraction": round(float(touched.mean()), 4),
        "class_changed_fraction": round(float(flipped.mean()), 4),
        "top_probability_change_mean": round(float(shift.mean()), 5),
        "top_probability_change_max": round(float(shift.max()), 5),
        # The same among the statements the scrubber changed (the others can't move).
        "changed_class_changed_fraction": _mean_or_none(flipped[touched]),
        "changed_top_probability_change_mean": _mean_or_none(shift[touched]),
        "targets_met": bool(
            flipped.mean() <= TARGET_CLASS_CHANGED and shift.mean() <= TARGET_MEAN_SHIFT
        ),
    }


def _mean_or_none(values: np.ndarray) -> float | None:
    return round(float(values.mean()), 5) if len(values) else None


def _probabilities(predictor: Any, samples: Sequence[Any], batch: int = 64) -> np.ndarray:
    rows = []
    for i in range(0, len(samples), batch):
        for p in predictor.predict_samples(samples[i : i + batch]):
            rows.append([c.probability for c in p.probabilities])
    return np.asarray(rows)


def prediction_grid(summary: dict[str, Any]) -> Grid:
    grid = Grid(
        f"predictions on scrubbed CIViC statements ({summary['model']})",
        ["", "all", "text changed", "target"],
    )
    changed_class = summary["changed_class_changed_fraction"]
    changed_shift = summary["changed_top_probability_change_mean"]
    grid.rows += [
        ["statements scored twice", str(summary["statements"]), str(summary["text_changed"]), ""],
        [
            "predicted class changed",
            f"{summary['class_changed_fraction']:.1%}",
            "-" if changed_class is None else f"{changed_class:.1%}",
            f"≤ {TARGET_CLASS_CHANGED:.0%}",
        ],
        [
            "|Δ p(predicted class)|, mean",
            f"{summary['top_probability_change_mean']:.5f}",
            "-" if changed_shift is None else f"{changed_shift:.5f}",
            f"≤ {TARGET_MEAN_SHIFT}",
        ],
        ["|Δ p(predicted class)|, largest", f"{summary['top_probability_change_max']:.5f}", "", ""],
    ]
    return grid


# ---- main ------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    deid = Deidentifier()  # the first: reads the name lists, compiles every pattern
    first_build_s = time.perf_counter() - start
    payload: dict[str, Any] = {
        "machine": {
            **machine_info(),
            "command": "python -m benchmarks.privacy " + " ".join(sys.argv[1:]),
        },
        "recognizers": deid.recognizers,
    }
    console.log("privacy: planted identifiers")
    payload["planted"] = planted(deid, args.seed)
    rows: list[dict[str, str]] = []
    if args.civic.is_file():
        rows = read_civic_statements(args.civic)
        console.log(f"privacy: {len(rows):,} CIViC statements")
        payload["civic"] = civic_scrub_rate(deid, rows)
    else:
        console.log(f"[yellow]no CIViC statements at {args.civic}: skipping that part")
    console.log("privacy: speed")
    payload["speed"] = {"first_build_s": round(first_build_s, 3), **speed(deid, rows, args.seed)}

    model_dir = args.model_dir
    if model_dir is None:
        from oncoclass.settings import get_settings

        model_dir = get_settings().default_model_dir
    if not rows:
        payload["predictions"] = {"skipped": "no CIViC statements"}
    elif not model_dir.exists():
        payload["predictions"] = {"skipped": f"no model at {model_dir}"}
        console.log(
            f"[yellow]no trained model at {model_dir}: train one with `oncoclass train` (or "
            "give --model-dir) to measure what scrubbing does to predictions"
        )
    else:
        console.log(f"privacy: predictions of {model_dir}, with and without scrubbing")
        payload["predictions"] = prediction_shift(model_dir, deid, rows, args.statements, args.seed)

    path = write_json(args.out, "privacy", payload)
    for grid in privacy_grids(payload):
        out.print(grid.rich())
    console.log(f"wrote {path}")
    return 0


def privacy_grids(payload: dict[str, Any]) -> list[Grid]:
    """The tables of a privacy result (printed by ``main``, and by ``benchmarks markdown``)."""
    grids = [
        planted_grid(name.replace("_", "-"), payload["planted"][name])
        for name in ("tuned", "held_out")
    ]
    if "civic" in payload:
        grids.append(civic_grid(payload["civic"]))
    grids.append(speed_grid(payload["speed"]))
    if "statements" in payload["predictions"]:
        grids.append(prediction_grid(payload["predictions"]))
    return grids


if __name__ == "__main__":
    raise SystemExit(main())
