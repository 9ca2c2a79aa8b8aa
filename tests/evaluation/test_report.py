"""Report files: they exist, parse, and the figures are real PNGs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from oncoclass.data.records import Sample
from oncoclass.data.tasks import MSKCC_CLASS_NAMES
from oncoclass.evaluation import (
    ValidationResult,
    compute_metrics,
    cross_validate,
    format_summary_table,
    plot_confusion_matrix,
    plot_reliability,
    train_test,
    write_report,
)
from tests.evaluation.test_validation import Minimal

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class NoisyCheat(Minimal):
    """Mostly right: trusts the label in the text, with a seeded amount of confusion."""

    classes_ = ["a", "b", "c"]

    def fit(self, train: Sequence[Sample], valid: Sequence[Sample] | None = None) -> Self:
        return self

    def predict_proba(self, samples: Sequence[Sample]) -> np.ndarray:
        rng = np.random.default_rng(len(samples))
        proba = rng.dirichlet(np.ones(3), size=len(samples))
        for row, s in enumerate(samples):
            proba[row, self.classes_.index(s.text)] += 1.0
        return proba / proba.sum(axis=1, keepdims=True)


def _samples(n_groups: int = 24) -> list[Sample]:
    return [
        Sample(
            id=f"s{g}-{i}", gene="EGFR", variation="L858R", text=label, label=label, group=f"g{g}"
        )
        for g, label in enumerate(["a", "b", "c"] * (n_groups // 3))
        for i in range(2)
    ]


@pytest.fixture(scope="module")
def result() -> ValidationResult:
    return cross_validate(
        NoisyCheat, _samples(), k=3, names={"a": "Alpha", "b": "Beta"}, progress=False
    )


def test_write_report(result: ValidationResult, tmp_path: Path) -> None:
    info = {"name": "noisy-cheat", "trained_on": tmp_path}  # a Path must not break the JSON
    paths = write_report(result, tmp_path / "out", title="Noisy cheat", model_info=info)
    assert set(paths) == {"metrics", "report", "confusion_matrix", "reliability", "predictions"}
    assert all(p.exists() and p.parent == tmp_path / "out" for p in paths.values())

    for png in (paths["confusion_matrix"], paths["reliability"]):
        assert png.read_bytes()[:8] == PNG_MAGIC

    doc = json.loads(paths["metrics"].read_text())
    assert doc["summary"]["accuracy"] == pytest.approx(result.metrics.accuracy)
    assert doc["prior_summary"]["log_loss"] == pytest.approx(result.prior.log_loss)
    assert len(doc["fold_metrics"]) == 3
    assert doc["model_info"]["name"] == "noisy-cheat"
    assert doc["metrics"]["confusion"] == result.metrics.confusion

    markdown = paths["report"].read_text()
    assert markdown.startswith("# Noisy cheat")
    for needle in (
        "Class prior",
        "| Alpha |",
        "## Per fold",
        "(confusion_matrix.png)",
        "(reliability.png)",
    ):
        assert needle in markdown

    oof = pd.read_csv(paths["predictions"], dtype={"true_label": str})
    assert list(oof.columns) == [
        "sample_id", "true_label", "predicted_label", "fold", "p_a", "p_b", "p_c",
    ]  # fmt: skip
    assert len(oof) == result.metrics.n
    np.testing.assert_allclose(oof[["p_a", "p_b", "p_c"]].sum(axis=1), 1.0)
    assert set(oof["fold"]) == {0, 1, 2}


def test_train_test_report_has_no_fold_table(tmp_path: Path) -> None:
    samples = _samples()
    fixed = train_test(NoisyCheat, samples[:30], samples[30:])
    paths = write_report(fixed, tmp_path, title="Fixed split")
    assert "## Per fold" not in paths["report"].read_text()
    assert set(pd.read_csv(paths["predictions"])["fold"]) == {-1}


def test_confusion_matrix_with_nine_long_names(tmp_path: Path) -> None:
    classes = list(MSKCC_CLASS_NAMES)
    rng = np.random.default_rng(0)
    y = rng.choice(classes, size=200).tolist()
    proba = rng.dirichlet(np.ones(9), size=200)
    metrics = compute_metrics(y, proba, classes, names=list(MSKCC_CLASS_NAMES.values()))
    for normalize in (True, False):
        path = plot_confusion_matrix(metrics, tmp_path / f"cm-{normalize}.png", normalize=normalize)
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_reliability_when_every_prediction_is_right(tmp_path: Path) -> None:
    path = plot_reliability(np.array([0, 1]), np.eye(2), tmp_path / "sub" / "rel.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_summary_table_renders(result: ValidationResult) -> None:
    console = Console(record=True, width=120)
    console.print(format_summary_table(result))
    text = console.export_text()
    assert "Log loss" in text and "Class prior" in text and "±" in text
