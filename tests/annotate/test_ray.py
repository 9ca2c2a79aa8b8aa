"""The Ray engine on an embedded Ray with 2 CPUs: the same annotation as the local engine,
exactly, on the real MAF (several windows, both actors busy), on texts, and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from oncoclass.annotate import Annotation, annotate, annotate_file, json_records
from oncoclass.annotate.ray_engine import RayScorer
from oncoclass.annotate.scoring import LocalScorer
from oncoclass.data import fetch_civic
from oncoclass.schemas import AnnotationPublic
from oncoclass.service import OncoClassService
from oncoclass.settings import get_settings
from tests.annotate.data import BILIARY, VCF_VEP

pytestmark = pytest.mark.slow
#: What differs between two runs of the same input: when, and under which batch id.
RUN_FIELDS = {"batch_id", "created_at"}
VARIANT_RUN_FIELDS = {"prediction": {"batch_id", "created_at", "id"}}


def comparable(result: Annotation) -> dict[str, Any]:
    with result:
        public = result.to_public()
    return {
        "head": public.model_dump(exclude=RUN_FIELDS | {"variants", "rows", "errors"}),
        "variants": [v.model_dump(exclude=VARIANT_RUN_FIELDS) for v in public.variants],
        "rows": public.rows,
        "errors": public.errors,
    }


def test_ray_gives_exactly_the_local_answer_on_the_real_maf(
    embedded_ray: Any, service: OncoClassService, maf: Path
) -> None:
    local = comparable(annotate_file(service, maf, disease=BILIARY, scorer=LocalScorer(16)))
    # Windows of 48 variants: three Datasets, each of three chunks of 16 over 2 actors.
    scorer = RayScorer(workers=2, chunk=16, window=50)
    on_ray = comparable(annotate_file(service, maf, disease=BILIARY, scorer=scorer))
    assert len(local["variants"]) == 137
    assert on_ray["head"]["summary"]["scored"] == 137
    assert on_ray == local  # probabilities, sets, warnings, tiers: identical, not close
    assert embedded_ray.is_initialized()  # a Ray it did not start is left running


def test_ray_with_texts_drugs_and_one_worker(embedded_ray: Any, service: OncoClassService) -> None:
    items = [
        {
            "gene": "EGFR",
            "variation": "L858R",
            "disease": "Lung Non-small Cell Carcinoma",
            "drugs": "Erlotinib",
            "text": "EGFR L858R tumours responded to erlotinib. Median PFS was 10 months.",
        },
        {"gene": "KRAS", "variation": "G12C", "text": "KRAS G12C confers resistance."},
        {"gene": "BRAF", "variation": "V600E"},
        {"gene": "", "variation": "V600E"},
    ]

    def run(scorer: RayScorer | LocalScorer) -> dict[str, Any]:
        records = json_records(items)
        return comparable(
            annotate(service, records, source="json", file_format="json", scorer=scorer)
        )

    # Texts are padded to the longest of a model call: the same calls give the same digits.
    assert run(RayScorer(workers=1, chunk=2)) == run(LocalScorer(2))


def test_cli_engine_ray(
    embedded_ray: Any,
    shipped_model_dir: Path,
    civic_dir: Path,
    shared_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import oncoclass.cli.annotate  # noqa: F401  (registers the command)
    from oncoclass.cli import app

    fetch_civic(tmp_path / "home", from_path=civic_dir, progress=False)
    monkeypatch.setenv("ONCOCLASS_DATA_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    documents = []
    for engine in ("local", "ray"):
        out = tmp_path / engine
        result = CliRunner().invoke(
            app,
            [
                "annotate",
                str(shared_data / VCF_VEP),
                "--out",
                str(out),
                "--format",
                "json",
                "--engine",
                engine,
                "--workers",
                "2",
                "--model-dir",
                str(shipped_model_dir),
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        [path] = out.iterdir()
        documents.append(AnnotationPublic.model_validate(json.loads(path.read_text())))
    get_settings.cache_clear()
    local, on_ray = documents
    assert on_ray.summary == local.summary and on_ray.rows == local.rows
    assert [v.model_dump(exclude=VARIANT_RUN_FIELDS) for v in on_ray.variants] == [
        v.model_dump(exclude=VARIANT_RUN_FIELDS) for v in local.variants
    ]
