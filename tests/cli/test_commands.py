"""The command line as a user runs it: fetch releases, train versions, predict (the API's JSON),
evaluate, follow a newer release."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from oncoclass.cli import app
from oncoclass.models.store import current_version, versions
from oncoclass.settings import get_settings

runner = CliRunner()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


@pytest.fixture()
def civic_site(tmp_path, shared_data) -> Iterator[str]:
    """A loopback look-alike of civicdb.org/downloads: both real releases under their dates."""
    site = tmp_path / "site" / "downloads"
    for folder, release in (("civic", "01-Aug-2021"), ("civic_2024", "01-Aug-2024")):
        (site / release).mkdir(parents=True)
        for tsv in (shared_data / folder).glob("*.tsv"):
            (site / release / tsv.name).symlink_to(tsv)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = partial(Quiet, directory=str(tmp_path / "site"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/downloads/{{release}}/{{release}}-{{name}}.tsv"
    httpd.shutdown()
    httpd.server_close()


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.integration
def test_fetch_train_versions_predict_evaluate(home, civic_site, tmp_path):
    fetched = run("data", "fetch", "civic", "--url", civic_site, "--release", "01-Aug-2024")
    assert "01-Aug-2024" in fetched.stdout and "current format" in fetched.stdout
    model_home = home / "models" / "clinical-significance-baseline"
    run("train", "--model", "baseline", "--cv", "2")
    first = current_version(model_home)
    card = json.loads((first / "model.json").read_text())
    assert card["training"]["data_release"] == "01-Aug-2024"
    assert card["metrics"]["metrics"]["macro_f1"] > 0.4 and card["conformal"]["source"]
    # --if-missing keeps the current version; a new training makes a new one current.
    assert "model exists" in run("train", "--model", "baseline", "--if-missing").stdout
    run("train", "--model", "baseline", "--seed", "7")
    assert len(versions(model_home)) == 2 and current_version(model_home) != first

    # predict --json is the API's answer: same schema, CIViC evidence included.
    out = run("predict", "--gene", "BRAF", "--variation", "V600E", "--disease", "Melanoma",
              "--model-dir", str(model_home), "--json")  # fmt: skip
    result = json.loads(out.stdout)
    assert result["name"] in card["class_names"] and result["id"] is None
    assert {"prediction_set", "warnings", "flags", "parsed_variation"} <= set(result)
    assert result["knowledge"]["tier"]["label"] == "Tier I - Level A"
    assert result["model"]["knowledge_release"] == "01-Aug-2024"
    text = tmp_path / "paper.txt"
    text.write_text("BRAF V600E melanoma responded to vemurafenib. Unrelated sentence here.")
    shown = run("predict", "--gene", "BRAF", "--variation", "V600E", "--text-file", str(text),
                "--model-dir", str(model_home)).stdout  # fmt: skip
    assert "p =" in shown and "prediction set" in shown and "CIViC" in shown
    report = tmp_path / "report"
    run("evaluate", "--model", "baseline", "--folds", "2", "--out", str(report))
    assert (report / "confusion_matrix.png").exists() and (report / "metrics.json").exists()
    assert "Folds:" in (report / "report.md").read_text()
    info = run("data", "info").stdout
    assert "CIViC 01-Aug-2024" in info and "<- current" in info


@pytest.mark.integration
def test_data_update_reports_what_changed_and_recommends(home, civic_site):
    run("data", "fetch", "civic", "--url", civic_site, "--release", "01-Aug-2021")
    run("train", "--model", "baseline")
    model = str(home / "models" / "clinical-significance-baseline")
    update = (
        "data",
        "update",
        "--url",
        civic_site,
        "--release",
        "01-Aug-2024",
        "--model-dir",
        model,
    )
    out = run(*update, "--json")
    report = json.loads(out.stdout)
    assert (report["model_release"], report["new_release"]) == ("01-Aug-2021", "01-Aug-2024")
    assert report["n_added"] == 755 and 0 < report["n_known"] < 755
    assert "Oncogenic: Oncogenicity" in report["unknown_classes"]
    assert report["known_metrics"]["accuracy"] > 0.3
    assert report["retrain"] is True and any("new classes" in r for r in report["reasons"])
    text = run(*update).stdout
    assert "RECOMMENDATION: retrain" in text and "755" in text
    # Both releases stay side by side in the data home.
    assert {"01-Aug-2021", "01-Aug-2024"} <= {p.name for p in (home / "civic").iterdir()}


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


@pytest.mark.parametrize("markup", ["[/]", "[bold]x[/bold]", "[link=http://x]y", "[red"])
def test_user_text_is_never_read_as_markup(home, tmp_path, markup):
    result = runner.invoke(
        app, ["predict", "--gene", markup, "--variation", markup, "--model-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no trained model" in result.output
