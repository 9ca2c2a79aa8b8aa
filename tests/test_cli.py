"""The command line as a user runs it: fetch, train, evaluate, predict."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from oncoclass.cli import app
from oncoclass.settings import get_settings

runner = CliRunner()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.integration
def test_fetch_train_evaluate_predict(home, shared_data, tmp_path):
    run("data", "fetch", "civic", "--from", str(shared_data / "civic"))
    model_dir = home / "models" / "clinical-significance-baseline"
    run("train", "--task", "clinical-significance", "--model", "baseline", "--cv", "2")
    card = json.loads((model_dir / "model.json").read_text())
    assert card["metrics"]["metrics"]["macro_f1"] > 0.5
    out = run(
        "predict", "--gene", "TP53", "--variation", "R273C", "--model-dir", str(model_dir), "--json"
    )
    result = json.loads(out.stdout)
    assert result["name"] in card["class_names"]
    assert abs(sum(c["probability"] for c in result["probabilities"]) - 1) < 1e-6
    text = tmp_path / "paper.txt"
    text.write_text("BRAF V600E melanoma responded to vemurafenib. Unrelated sentence here.")
    out = run(
        "predict",
        "--gene",
        "BRAF",
        "--variation",
        "V600E",
        "--text-file",
        str(text),
        "--model-dir",
        str(model_dir),
    )
    assert "p =" in out.stdout
    report = tmp_path / "report"
    run("evaluate", "--model", "baseline", "--folds", "2", "--out", str(report))
    assert (report / "confusion_matrix.png").exists() and (report / "metrics.json").exists()


def test_errors_are_clear_not_tracebacks(home, tmp_path):
    result = runner.invoke(
        app, ["predict", "--gene", "TP53", "--variation", "R273C", "--model-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no trained model" in result.output
    result = runner.invoke(app, ["train", "--task", "nope"])
    assert result.exit_code == 2 and "unknown task" in result.output
    result = runner.invoke(app, ["train", "--task", "clinical-significance"])
    assert result.exit_code == 2 and "oncoclass data fetch civic" in result.output
