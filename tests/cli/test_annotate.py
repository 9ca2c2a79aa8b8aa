"""``oncoclass annotate`` as a user runs it: the real VCF and MAF in, CSV + JSON + HTML out, the
same answer as the API's; a bad file is a clear error naming the line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import oncoclass.cli.annotate  # noqa: F401  (registers the command)
from oncoclass.api.app import create_app
from oncoclass.cli import app
from oncoclass.data import fetch_civic
from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from oncoclass.schemas import AnnotationPublic
from oncoclass.settings import Settings, get_settings

runner = CliRunner()
VCF = "vcf/pvactools_protein_altering_TN_GRCh38_vep95.vcf"
MAF = "msk_summit_neratinib/data_mutations_extended.txt"


@pytest.fixture(scope="module")
def civic_home(tmp_path_factory: pytest.TempPathFactory, civic_dir: Path) -> Path:
    """A data home holding the CIViC release (``oncoclass data fetch civic --from``)."""
    home = tmp_path_factory.mktemp("home")
    fetch_civic(home, from_path=civic_dir, progress=False)
    return home


@pytest.fixture
def home(civic_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(civic_home))
    get_settings.cache_clear()
    yield civic_home
    get_settings.cache_clear()


def run(*args: str) -> object:
    return runner.invoke(app, ["annotate", *args], catch_exceptions=False)


def test_vcf_gives_csv_json_and_html(
    home: Path, shipped_model_dir: Path, shared_data: Path, tmp_path: Path
) -> None:
    """The issue's acceptance command: `oncoclass annotate <the VEP VCF> --out report/`."""
    out = tmp_path / "report"
    result = run(str(shared_data / VCF), "--out", str(out), "--model-dir", str(shipped_model_dir))
    assert result.exit_code == 0, result.output
    stem = "pvactools_protein_altering_TN_GRCh38_vep95.oncoclass"
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.{x}" for x in ("csv", "html", "json")]
    document = AnnotationPublic.model_validate(json.loads((out / f"{stem}.json").read_text()))
    assert document.format == "vcf" and document.summary.rows == 140
    assert document.knowledge_release is not None
    lines = list(csv.DictReader((out / f"{stem}.csv").open(encoding="utf-8")))
    assert len(lines) == 140 and {line["sample"] for line in lines} == {"TUMOR"}
    html = (out / f"{stem}.html").read_text()
    assert "OncoClass variant report" in html and 'id="actionable"' in html
    assert "140 rows" in result.output and "distinct variants" in result.output
    assert "html: " in result.output


def test_maf_through_the_cli_is_the_api_answer(
    home: Path, shipped_model_dir: Path, shared_data: Path, tmp_path: Path
) -> None:
    result = run(
        str(shared_data / MAF),
        "--out",
        str(tmp_path),
        "--format",
        "json",
        "--disease",
        "Biliary Tract Cancer",
        "--model-dir",
        str(shipped_model_dir),
    )
    assert result.exit_code == 0, result.output
    assert "actionable variants" in result.output
    cli = AnnotationPublic.model_validate_json(
        (tmp_path / "data_mutations_extended.oncoclass.json").read_text()
    )
    assert [p.name for p in tmp_path.iterdir()] == ["data_mutations_extended.oncoclass.json"]

    settings = Settings(
        data_home=home,
        model_dir=shipped_model_dir,
        database_url=f"sqlite:///{tmp_path / 'history.sqlite3'}",
    )
    api_app = create_app(
        settings, Predictor.load(shipped_model_dir), knowledge=KnowledgeBase.from_data_home(home)
    )
    with TestClient(api_app) as client:
        response = client.post(
            "/v1/predict/batch",
            files={"file": ("data_mutations_extended.txt", (shared_data / MAF).read_bytes())},
            data={"disease": "Biliary Tract Cancer"},
        )
    assert response.status_code == 200, response.text
    api = AnnotationPublic.model_validate(response.json())
    assert api.summary == cli.summary and api.rows == cli.rows
    assert len(api.variants) == len(cli.variants) == 137
    for a, c in zip(api.variants, cli.variants, strict=True):
        # The same variant, tier, therapies and answer; only the history's bookkeeping differs.
        skip = {"prediction": {"id", "created_at", "batch_id"}}
        assert a.model_dump(exclude=skip) == c.model_dump(exclude=skip)


def test_a_bad_file_is_a_clear_error_naming_the_line(
    home: Path, shipped_model_dir: Path, tmp_path: Path
) -> None:
    table = tmp_path / "mine.csv"
    table.write_text('gene,variation,text\nBRAF,V600E,ok\nKRAS,G12D,"open\n' + "x\n" * 150)
    result = run(str(table), "--out", str(tmp_path / "out"), "--model-dir", str(shipped_model_dir))
    assert result.exit_code == 2
    assert "error: " in result.output and "mine.csv, line 3" in result.output
    assert not (tmp_path / "out").exists()  # nothing half-written

    missing = run(str(tmp_path / "nope.vcf"), "--model-dir", str(shipped_model_dir))
    assert missing.exit_code == 2 and "not found" in missing.output


def test_options_are_checked(home: Path, shipped_model_dir: Path, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("gene,variation\nBRAF,V600E\n")
    bad = run(str(table), "--format", "pdf", "--model-dir", str(shipped_model_dir))
    assert bad.exit_code == 2 and "--format" in bad.output
    lone = run(str(table), "--address", "ray://x:1", "--model-dir", str(shipped_model_dir))
    assert lone.exit_code == 2 and "--engine ray" in lone.output
    no_model = run(str(table), "--model-dir", str(tmp_path / "no-model"))
    assert no_model.exit_code == 2 and "error: " in no_model.output


def test_user_strings_are_printed_as_text(
    home: Path, shipped_model_dir: Path, tmp_path: Path
) -> None:
    table = tmp_path / "[red]x.csv"
    table.write_text("gene,variation,disease\nBRAF,V600E,Melanoma\n")
    result = run(str(table), "--out", str(tmp_path / "o"), "--model-dir", str(shipped_model_dir))
    assert result.exit_code == 0, result.output
    assert "[red]x.csv" in result.output  # shown as written, not read as markup
    assert "BRAF V600E" in result.output and "Tier I" in result.output
