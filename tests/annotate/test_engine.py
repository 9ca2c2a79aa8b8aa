"""The annotation engine on the real files: each distinct variant scored once however many
samples carry it, every row kept, tiers and therapies from CIViC, errors per row, limits."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from oncoclass.annotate import annotate, annotate_file, json_records
from oncoclass.annotate.scoring import LocalScorer
from oncoclass.data.variant_files import RowProblem, read_variants
from oncoclass.errors import DataError, InvalidInputError, PayloadTooLargeError
from oncoclass.features.genomic import variation_key
from oncoclass.history import Database
from oncoclass.predictor import Predictor
from oncoclass.schemas import AnnotationPublic
from oncoclass.service import OncoClassService
from oncoclass.settings import Settings
from tests.annotate.data import BILIARY, VCF_HCC, VCF_SNPEFF, VCF_VEP, repeat_maf


class CountingScorer(LocalScorer):
    """The local scorer, counting the inputs it scores."""

    def __init__(self) -> None:
        super().__init__(chunk=50)
        self.scored: list[tuple[str, str]] = []

    def score(self, predictor, seeds, *, total, explain=False):  # noqa: ANN001, ANN201
        for seed, prediction in super().score(predictor, seeds, total=total, explain=explain):
            self.scored.append((seed.gene, seed.variation))
            yield seed, prediction


def test_real_maf_scores_each_variant_once_and_keeps_every_row(
    service: OncoClassService, maf: Path, maf_rows: list[dict[str, str]]
) -> None:
    scorer = CountingScorer()
    with annotate_file(service, maf, disease=BILIARY, scorer=scorer) as result:
        public = result.to_public()
    # Counted without OncoClass's reader: rows per (gene, protein change), and their samples.
    # The MAF writes a change both ways ("p.S310F" in 8 rows, "S310F" in 5): one variant.
    expected = Counter((r["Hugo_Symbol"], r["HGVSp_Short"].removeprefix("p.")) for r in maf_rows)
    samples = {r["Tumor_Sample_Barcode"] for r in maf_rows}
    assert public.summary.rows == len(maf_rows) == 190
    assert public.summary.samples == len(samples) == 32
    assert public.summary.variants == len(public.variants) == len(expected) == 137
    assert public.summary.scored == 137 and public.summary.failed == 0
    assert len(scorer.scored) == len(set(scorer.scored)) == 137  # each scored exactly once
    assert public.format == "maf" and public.source == maf.name and public.disease == BILIARY

    # Every row is there, in input order, pointing at its variant.
    assert [r.line for r in public.rows] == list(range(2, 192))
    for row, raw in zip(public.rows, maf_rows, strict=True):
        variant = public.variants[row.variant]
        assert row.status == "scored" and row.sample == raw["Tumor_Sample_Barcode"]
        assert variant.gene == raw["Hugo_Symbol"]
        assert variation_key(variant.gene, variant.variation) == variation_key(
            raw["Hugo_Symbol"], raw["HGVSp_Short"]
        )
        assert row.sample in variant.samples and row.line in variant.lines
    erbb2 = next(v for v in public.variants if (v.gene, v.variation) == ("ERBB2", "S310F"))
    carriers = {
        r["Tumor_Sample_Barcode"]
        for r in maf_rows
        if r["Hugo_Symbol"] == "ERBB2" and r["HGVSp_Short"] in ("p.S310F", "S310F")
    }
    assert erbb2.n_samples == len(erbb2.samples) == len(carriers) == 13
    assert set(erbb2.samples) == carriers
    assert erbb2.prediction is not None and erbb2.prediction.disease == BILIARY
    assert erbb2.prediction.text == "" and "no_text" in {w.code for w in erbb2.prediction.warnings}
    assert erbb2.prediction.knowledge is None  # the CIViC knowledge is the variant's own field

    # The summary adds up.
    s = public.summary
    assert sum(s.by_tier.values()) == s.variants and sum(s.by_class.values()) == s.scored
    assert s.actionable == sum(v.actionable for v in public.variants)
    assert s.with_warnings == sum(
        any(w.severity == "warning" for w in v.prediction.warnings)
        for v in public.variants
        if v.prediction
    )


def test_tiers_therapies_and_functional_evidence_come_from_civic(
    service: OncoClassService,
) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "disease": "Melanoma", "sample": "S1"},
        {"gene": "BRAF", "variation": "p.Val600Glu", "disease": "Melanoma", "sample": "S2"},
        {"gene": "KRAS", "variation": "G12C", "sample": "S1"},
        {"gene": "NOTAGENE", "variation": "A1B"},
    ]
    result = annotate(service, json_records(items), source="json", file_format="json")
    with result:
        braf, kras, unknown = list(result.variants())
    assert braf.samples == ["S1", "S2"] and braf.disease == "Melanoma"
    match = service.knowledge.lookup("BRAF", "V600E", disease="Melanoma")
    assert braf.tier is not None and match.tier is not None
    assert (braf.tier.tier, braf.tier.label, braf.tier.basis) == (
        match.tier.tier,
        match.tier.label,
        match.tier.basis,
    )
    assert braf.tier.tier == "Tier I" and braf.actionable
    assert braf.civic_url and braf.civic_url.startswith("https://civicdb.org/")
    vemurafenib = [t for t in braf.therapies if t.therapy == "Vemurafenib"]
    assert vemurafenib and vemurafenib[0].disease_relevance == "same"
    assert {t.direction for t in braf.therapies} <= {"Supports", "Does Not Support"}
    assert braf.knowledge is not None and braf.knowledge.match == "exact"
    assert len(braf.knowledge.items) <= 5 and braf.knowledge.therapies == []
    assert all(
        i.evidence_type in ("Oncogenic", "Functional", "Predisposing") for i in braf.functional
    )
    assert kras.tier is not None and kras.tier.tier in ("Tier I", "Tier II")
    assert unknown.tier is not None and unknown.tier.tier == "none" and not unknown.actionable
    assert unknown.civic_url is None and unknown.therapies == []


def test_grouping_key_treats_disease_drugs_and_text_as_part_of_the_input(
    service: OncoClassService,
) -> None:
    base = {"gene": "EGFR", "variation": "L858R"}
    items = [
        base | {"sample": "A"},
        base | {"variation": "p.Leu858Arg", "sample": "B"},
        base | {"sample": "C", "disease": "Lung Non-small Cell Carcinoma"},
        base | {"sample": "D", "disease": "lung  non-small cell carcinoma"},
        base | {"sample": "E", "drugs": "Erlotinib"},
        base | {"sample": "F", "text": "EGFR L858R responded to erlotinib."},
        base | {"sample": "G", "text": "EGFR L858R responded to erlotinib."},
    ]
    scorer = CountingScorer()
    with annotate(
        service, json_records(items), source="json", file_format="json", scorer=scorer
    ) as result:
        variants = list(result.variants())
    assert [v.samples for v in variants] == [["A", "B"], ["C", "D"], ["E"], ["F", "G"]]
    assert variants[1].disease == "Lung Non-small Cell Carcinoma"
    assert variants[2].key.endswith("drugs: erlotinib") and "text" in variants[3].key
    assert len(scorer.scored) == 4


def test_non_coding_rows_are_kept_not_scored(service: OncoClassService, shared_data: Path) -> None:
    path = shared_data / VCF_SNPEFF
    read = list(read_variants(path))
    problems = [r for r in read if isinstance(r, RowProblem)]
    non_coding = [r for r in read if not isinstance(r, RowProblem) and not r.coding]
    with annotate_file(service, path) as result:
        public = result.to_public()
    assert public.format == "vcf" and public.summary.rows == len(read)  # nothing lost
    assert Counter(r.status for r in public.rows) == {
        "non_coding": len(non_coding),
        "error": len(problems),
        "scored": len(read) - len(non_coding) - len(problems),
    }
    assert public.summary.failed == len(public.errors) == len(problems) > 0
    assert {e.row for e in public.errors} == {p.line for p in problems}
    assert {e.field for e in public.errors} == {p.field for p in problems}
    skipped = [v for v in public.variants if not v.coding]
    assert len(skipped) == public.summary.non_coding > 0
    for v in skipped:
        assert v.prediction is None and v.tier is None and not v.actionable
        assert v.note and "no protein change" in v.note and v.location
    assert public.summary.by_tier["non-coding"] == len(skipped)


def test_vep_vcf_with_tumour_samples_only(service: OncoClassService, shared_data: Path) -> None:
    with annotate_file(service, shared_data / VCF_VEP) as result:
        public = result.to_public()
    assert {r.sample for r in public.rows} == {"TUMOR"}  # never the matched normal
    assert public.summary.scored > 100 and public.summary.non_coding > 0
    hcc = annotate_file(service, shared_data / VCF_HCC)
    with hcc:
        assert hcc.summary.failed > 0 and hcc.summary.rows == hcc.summary.failed + sum(
            1 for r in hcc.rows() if r.status != "error"
        )


def test_bad_rows_get_their_own_error(service: OncoClassService) -> None:
    items = [
        {"gene": "BRAF", "variation": "V600E", "text": "Responds to vemurafenib."},
        {"gene": "", "variation": "V600E", "sample": "S2"},
        {"gene": "KRAS"},
        {"gene": "EGFR", "variation": "L858R", "text": "x" * 5_001},
        {"gene": "G" * 101, "variation": "V600E"},
        "not an object",
        {"gene": "EGFR", "variation": "T790M", "drugs": "Erlotinib; Gefitinib"},
    ]
    with annotate(service, json_records(items), source="json", file_format="json") as result:
        public = result.to_public()
    assert [r.status for r in public.rows] == ["scored"] + ["error"] * 5 + ["scored"]
    errors = {e.row: e for e in public.errors}
    assert errors[2].field == "gene" and "empty" in errors[2].message
    assert errors[3].field == "variation"
    assert errors[4].field == "text" and "5,000" in errors[4].message
    assert errors[5].field == "gene" and "100" in errors[5].message
    assert errors[6].field is None and "object" in errors[6].message
    assert public.rows[1].sample == "S2"  # a failed row still says which it was
    assert public.rows[3].gene == "EGFR" and public.rows[3].variation == "L858R"
    assert public.variants[1].prediction.drugs == ["Erlotinib", "Gefitinib"]
    assert result.error_fields == {"gene": 2, "variation": 1, "text": 1, "row": 1}


def test_the_assembled_json_is_the_public_document(service: OncoClassService) -> None:
    """The API's answer is assembled from the spooled documents (never parsed again): it must
    be exactly the validated document, variants, rows and errors included."""
    items = [
        {"gene": "BRAF", "variation": "V600E", "text": "Responds to vemurafenib.", "sample": "é"},
        {"gene": "", "variation": "V600E"},
        {"gene": "EGFR", "variation": "L858R", "disease": "Lung Adenocarcinoma"},
        {"gene": "BRAF", "variation": "V600E", "text": "Responds to vemurafenib.", "sample": "2"},
    ]
    with annotate(service, json_records(items), source="json", file_format="json") as result:
        public = result.to_public()
        assembled = result.to_json()
    assert len(public.variants) == 2 and len(public.rows) == 4 and len(public.errors) == 1
    assert AnnotationPublic.model_validate_json(assembled) == public
    assert assembled == public.model_dump_json().encode()


def test_a_bad_file_is_an_error_naming_the_line(service: OncoClassService, tmp_path: Path) -> None:
    table = tmp_path / "mine.csv"
    table.write_text('gene,variation,text\nBRAF,V600E,ok\nKRAS,G12D,"never closed\n' + "x\n" * 200)
    with pytest.raises(DataError, match=r"mine\.csv, line 3") as error:
        annotate_file(service, table)
    assert error.value.line == 3
    with pytest.raises(DataError, match="no gene column"):
        annotate_file(service, _write(tmp_path / "x.csv", "name,colour\nBRAF,red\n"))
    with pytest.raises(InvalidInputError, match="unknown file format"):
        annotate_file(service, table, file_format="xlsx")


def test_limits_refuse_the_whole_batch_before_anything_is_stored(
    tmp_path: Path, predictor: Predictor, service: OncoClassService
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'history.sqlite3'}")
    database.migrate()
    settings = Settings(data_home=tmp_path, max_text_chars=5_000)
    keeping = OncoClassService(
        settings, knowledge=service.knowledge, database=database, predictor=predictor
    )
    items = [{"gene": "BRAF", "variation": "V600E", "text": "y" * 100}] * 5
    with pytest.raises(PayloadTooLargeError, match="more than 4 rows") as error:
        annotate(keeping, json_records(items), source="j", file_format="json", max_rows=4)
    assert error.value.field == "file"
    with pytest.raises(PayloadTooLargeError, match="over 450 characters") as error:
        annotate(
            keeping,
            json_records(items),
            source="j",
            file_format="json",
            max_text_chars=450,
            limit_field="items",
        )
    assert error.value.field == "items"
    with pytest.raises(InvalidInputError, match="explain") as error:
        texts = [{"gene": "BRAF", "variation": "V600E", "text": f"text {i}"} for i in range(3)]
        annotate(
            keeping,
            json_records(texts),
            source="j",
            file_format="json",
            explain=True,
            max_explained=2,
        )
    assert keeping.list_predictions().total == 0

    # Within the limits: one history row per distinct scored variant, under one batch id.
    items = [
        {"gene": "BRAF", "variation": "V600E", "sample": "S1"},
        {"gene": "BRAF", "variation": "V600E", "sample": "S2"},
        {"gene": "TP53", "variation": "R273C", "sample": "S3"},
        {"gene": "", "variation": "X"},
    ]
    with annotate(keeping, json_records(items), source="j", file_format="json") as result:
        public = result.to_public()
    history = keeping.list_predictions()
    assert history.total == 2 and {p.batch_id for p in history.items} == {public.batch_id}
    assert {(p.gene, p.row, p.sample) for p in history.items} == {
        ("BRAF", 1, None),  # two samples: the annotation lists them
        ("TP53", 3, "S3"),
    }
    assert {v.prediction.id for v in public.variants} == {p.id for p in history.items}


def test_empty_input(service: OncoClassService) -> None:
    with annotate(service, json_records([]), source="json", file_format="json") as result:
        public = result.to_public()
    assert (public.batch_id, public.summary.rows, public.variants, public.rows) == (None, 0, [], [])


def test_memory_does_not_grow_with_the_rows(
    service: OncoClassService, maf: Path, tmp_path: Path
) -> None:
    """Rows go to the spool, not to memory: 10x the rows (new samples, same variants) costs
    about the same memory; holding each row's result would cost kilobytes per row."""
    with annotate_file(service, maf):  # warm: parse caches, the model's first call
        pass
    peaks = []
    for copies in (5, 50):
        path = repeat_maf(maf, tmp_path / f"x{copies}.maf", copies)
        tracemalloc.start()
        with annotate_file(service, path) as result:
            assert result.summary.rows == 190 * copies
            assert result.summary.variants == 137
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    extra_rows = 190 * 45
    assert peaks[1] - peaks[0] < 300 * extra_rows, peaks  # < 300 bytes per extra row


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
