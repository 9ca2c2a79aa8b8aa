"""The files an annotation is written as: CSV for people, the JSON document of the API, and
the self-contained, escaped HTML report."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from oncoclass.annotate import (
    CSV_COLUMNS,
    Annotation,
    annotate,
    annotate_file,
    annotation_csv,
    json_records,
    write_reports,
)
from oncoclass.annotate.report import render_html
from oncoclass.schemas import AnnotationPublic
from oncoclass.service import OncoClassService
from tests.annotate.data import BILIARY, VCF_SNPEFF

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def maf_annotation(service: OncoClassService, maf: Path) -> Annotation:
    result = annotate_file(service, maf, disease=BILIARY)
    yield result
    result.close()


def test_csv_is_one_line_per_row_for_people(service: OncoClassService) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "disease": "Melanoma", "sample": "=cmd()"},
        {"gene": "BRAF", "variation": "V600E", "disease": "Melanoma", "sample": "+S2"},
        {"gene": "BRAF"},
    ]
    with annotate(service, json_records(items), source="json", file_format="json") as result:
        text = annotation_csv(result)
        braf = next(result.variants())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["status"] for r in rows] == ["scored", "scored", "error"]
    assert [r["sample"] for r in rows[:2]] == ["'=cmd()", "'+S2"]  # no formula injection
    first = rows[0]
    assert first["tier"].startswith("Tier I") and first["tier_basis"]
    assert first["class"] == braf.prediction.name
    assert first["probability"] == str(round(braf.prediction.probability, 3))
    assert len(first["probability"]) <= 5  # rounded for people
    assert first["prediction_set"].split(" | ")[0] == first["class"]
    assert "no evidence text" in first["warnings"]
    assert "Vemurafenib" in first["therapies"] and "level " in first["therapies"]
    assert re.search(r"\((sensitivity|resistance|does not support)", first["therapies"])
    assert first["civic_url"].startswith("https://civicdb.org/")
    assert first["civic_evidence"].startswith("exact match")
    assert rows[1]["class"] == first["class"]  # the same variant: the same answer
    assert rows[2]["error"].startswith("variation:") and rows[2]["gene"] == "BRAF"
    assert all(not v for k, v in rows[2].items() if k in ("class", "tier", "therapies"))


def test_json_file_is_the_api_document(maf_annotation: Annotation, tmp_path: Path) -> None:
    paths = write_reports(maf_annotation, tmp_path / "out", "cohort", ["json", "csv"])
    assert set(paths) == {"json", "csv"}
    assert paths["json"].name == "cohort.oncoclass.json"
    streamed = AnnotationPublic.model_validate(json.loads(paths["json"].read_text()))
    assert streamed == maf_annotation.to_public()
    lines = list(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert len(lines) == maf_annotation.summary.rows == 190


def test_html_report_summary_sections_and_tables(maf_annotation: Annotation) -> None:
    html = render_html(maf_annotation)
    summary = maf_annotation.summary
    actionable = list(maf_annotation.actionable())
    assert summary.actionable == len(actionable) > 0
    assert html.count('<article class="variant"') == len(actionable)
    assert html.count("<tr>", html.index('id="others-table"')) >= summary.variants - len(actionable)
    top = actionable[0]
    assert f"{top.gene} {top.variation}" in html
    assert maf_annotation.model.version in html and "CIViC 01-Aug-" in html
    for section in ("summary", "actionable", "other-variants", "errors", "methods"):
        assert f'id="{section}"' in html
    assert "For research use only" in html


def test_html_report_is_self_contained_and_escaped(
    service: OncoClassService, shared_data: Path, tmp_path: Path
) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "disease": EVIL, "sample": EVIL},
        {"gene": EVIL, "variation": "V600E", "sample": "S2"},
        {"gene": "", "variation": EVIL, "sample": EVIL},
    ]
    with annotate(service, json_records(items), source=EVIL, file_format="json") as result:
        html = render_html(result)
    # Every tag in the report is the template's: the input shows as text only.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x" in html
    tags = re.findall(r"<[^>]*>", html)
    assert not [t for t in tags if re.search(r"script|onerror|<img", t, re.I)]
    # Nothing is fetched: no scripts, stylesheets, images, frames, fonts or imports.
    assert not [t for t in tags if re.match(r"<(script|link|iframe|object|embed|img)\b", t, re.I)]
    assert not [t for t in tags if re.search(r"\bsrc\s*=", t, re.I)]
    assert not re.search(r"url\(|@import", html, re.I)
    # Links only to CIViC and PubMed, over https.
    hosts = set(re.findall(r'href="(https?://[^/"]+)', html))
    assert hosts <= {
        "https://civicdb.org",
        "https://www.ncbi.nlm.nih.gov",
        "https://pubmed.ncbi.nlm.nih.gov",
    }
    assert not re.search(r'href="(?!https://|#)', html)

    with annotate_file(service, shared_data / VCF_SNPEFF) as vcf:
        report = render_html(vcf)
    assert 'id="errors-table"' in report and "carried by no tumour sample" in report
    assert "no protein change" in report  # non-coding variants are listed, not dropped


def test_html_report_of_a_cohort_is_capped_and_says_so(
    maf_annotation: Annotation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oncoclass.annotate import report

    monkeypatch.setattr(report, "MAX_SECTIONS", 2)
    monkeypatch.setattr(report, "MAX_OTHER_ROWS", 5)
    html = render_html(maf_annotation)
    summary = maf_annotation.summary
    assert html.count('<article class="variant"') == 2
    assert f"{summary.actionable - 2} more actionable variants are in the CSV" in html
    others = summary.variants - summary.actionable
    assert f"{others - 5} more variants are in the CSV and JSON files" in html
