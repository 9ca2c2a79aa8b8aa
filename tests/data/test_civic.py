from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from oncoclass.data.civic import (
    CivicEvidence,
    civic_samples,
    find_civic_file,
    load_civic,
    read_evidence,
    read_gene_summaries,
    read_variant_summaries,
)
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError

#: The 01-Aug-2021 ClinicalEvidenceSummaries header.
HEADER = [
    "gene",
    "entrez_id",
    "variant",
    "disease",
    "doid",
    "phenotypes",
    "drugs",
    "drug_interaction_type",
    "evidence_type",
    "evidence_direction",
    "evidence_level",
    "clinical_significance",
    "evidence_statement",
    "citation_id",
    "source_type",
    "asco_abstract_id",
    "citation",
    "nct_ids",
    "rating",
    "evidence_status",
    "evidence_id",
    "variant_id",
    "gene_id",
    "chromosome",
    "start",
    "stop",
    "reference_bases",
    "variant_bases",
    "representative_transcript",
    "chromosome2",
    "start2",
    "stop2",
    "representative_transcript2",
    "ensembl_version",
    "reference_build",
    "variant_summary",
    "variant_origin",
    "last_review_date",
    "evidence_civic_url",
    "variant_civic_url",
    "gene_civic_url",
]


def evidence_row(evidence_id: int, **values: str) -> dict[str, str]:
    row = dict.fromkeys(HEADER, "")
    row.update(
        gene="EGFR",
        variant="T790M",
        disease="Lung Non-small Cell Carcinoma",
        drugs="Gefitinib,Erlotinib",
        evidence_type="Predictive",
        evidence_direction="Supports",
        evidence_level="B",
        clinical_significance="Resistance",
        evidence_statement='T790M confers resistance to "first generation" TKIs.',
        citation_id=str(1000 + evidence_id),
        source_type="PubMed",
        evidence_id=str(evidence_id),
        variant_origin="Somatic",
    )
    row.update(values)
    return row


def write_tsv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    lines = ["\t".join(header)] + ["\t".join(row[c] for c in header) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def evidence_file(tmp_path: Path) -> Path:
    rows = [evidence_row(i) for i in range(1, 4)]
    rows += [
        evidence_row(i, evidence_type="Prognostic", clinical_significance="N/A") for i in (4, 5)
    ]
    rows.append(evidence_row(6, clinical_significance=""))
    rows.append(
        evidence_row(
            7,
            evidence_type="Diagnostic",
            clinical_significance="Positive",
            source_type="ASCO",
            asco_abstract_id="102",
            citation_id="161573",
        )
    )
    return write_tsv(tmp_path / "01-Aug-2021-ClinicalEvidenceSummaries.tsv", HEADER, rows)


def test_read_evidence_keeps_quotes_and_na_as_values(evidence_file: Path) -> None:
    items = read_evidence(evidence_file)
    assert len(items) == 7
    first = items[0]
    assert isinstance(first, CivicEvidence)
    assert first.drugs == ("Gefitinib", "Erlotinib")
    assert first.evidence_statement == 'T790M confers resistance to "first generation" TKIs.'
    assert first.label == "Predictive: Resistance"
    assert first.pubmed_url == "https://pubmed.ncbi.nlm.nih.gov/1001/"
    assert items[3].clinical_significance == "N/A" and items[3].label == "Prognostic: N/A"
    assert items[6].pubmed_url is None and items[6].group == "asco:102"


def test_civic_samples_drop_and_merge(evidence_file: Path) -> None:
    items = read_evidence(evidence_file.parent)  # a directory works too
    dropped = civic_samples(items, min_support=2)
    assert [s.id for s in dropped] == ["1", "2", "3", "4", "5"]  # no significance, rare class out
    first = dropped[0]
    assert (first.gene, first.variation, first.label, first.source) == (
        "EGFR",
        "T790M",
        "Predictive: Resistance",
        "civic",
    )
    assert (first.pubmed_id, first.evidence_id, first.group) == ("1001", "1", "pmid:1001")
    assert first.text.startswith("T790M") and first.drugs == ("Gefitinib", "Erlotinib")

    merged = civic_samples(items, min_support=3, rare="merge")
    assert Counter(s.label for s in merged) == {"Predictive: Resistance": 3, "Other": 3}
    assert merged[-1].pubmed_id == ""  # an ASCO abstract has no PubMed id


def test_civic_samples_rejects_empty_result_and_bad_mode(evidence_file: Path) -> None:
    items = read_evidence(evidence_file)
    with pytest.raises(DataError, match="at least 100"):
        civic_samples(items, min_support=100)
    with pytest.raises(InvalidInputError, match="rare"):
        civic_samples(items, rare="keep")  # type: ignore[arg-type]


def test_wrong_column_count_names_file_and_line(evidence_file: Path) -> None:
    with evidence_file.open("a", encoding="utf-8") as f:
        f.write("EGFR\tL858R\tonly three cells\n")
    with pytest.raises(DataError, match="expected 41 tab-separated columns, found 3") as info:
        read_evidence(evidence_file)
    assert str(evidence_file) in str(info.value) and info.value.line == 9


def test_missing_columns_and_empty_file(tmp_path: Path) -> None:
    path = write_tsv(tmp_path / "x-ClinicalEvidenceSummaries.tsv", ["gene", "variant"], [])
    with pytest.raises(DataError, match="missing column.*evidence_type") as info:
        read_evidence(path)
    assert str(path) in str(info.value)
    path = write_tsv(path, HEADER, [])
    with pytest.raises(DataError, match="no evidence items"):
        read_evidence(path)


def test_duplicate_evidence_id(tmp_path: Path) -> None:
    path = write_tsv(tmp_path / "E.tsv", HEADER, [evidence_row(1), evidence_row(1)])
    with pytest.raises(DataError, match="duplicate evidence_id") as info:
        read_evidence(path)
    assert info.value.line == 3


def test_find_civic_file_picks_the_newest_release(tmp_path: Path) -> None:
    for release in ("01-Jul-2021", "01-Aug-2021", "01-Feb-2020"):
        (tmp_path / f"{release}-ClinicalEvidenceSummaries.tsv").touch()
    (tmp_path / "01-Dec-2021-VariantGroupSummaries.tsv").touch()
    assert find_civic_file(tmp_path).name == "01-Aug-2021-ClinicalEvidenceSummaries.tsv"
    (tmp_path / "nightly-ClinicalEvidenceSummaries.tsv").touch()
    assert find_civic_file(tmp_path).name == "nightly-ClinicalEvidenceSummaries.tsv"
    with pytest.raises(DataNotFoundError, match="VariantSummaries"):
        find_civic_file(tmp_path, "VariantSummaries")  # VariantGroupSummaries is another file
    with pytest.raises(DataNotFoundError, match="nowhere"):
        find_civic_file(tmp_path / "nowhere")


def test_variant_summaries_overflowing_last_column(tmp_path: Path) -> None:
    header = ["variant_id", "gene", "variant", "variant_aliases", "assertion_civic_urls"]
    path = tmp_path / "r-VariantSummaries.tsv"
    path.write_text(
        "\t".join(header) + "\n12\tBRAF\tV600E\tVAL600GLU,RS113488022\thttps://a/20\thttps://a/10\n"
    )
    rows = read_variant_summaries(tmp_path)
    assert rows["12"]["variant_aliases"] == "VAL600GLU,RS113488022"
    assert rows["12"]["assertion_civic_urls"] == "https://a/20,https://a/10"


# --- the real release ----------------------------------------------------------------------------


@pytest.mark.integration
def test_real_civic_release(shared_data: Path) -> None:
    civic = shared_data / "civic"
    items = read_evidence(civic)
    assert len(items) == 3650
    assert len({ev.evidence_id for ev in items}) == 3650
    assert any(ev.clinical_significance == "N/A" for ev in items)
    assert all(isinstance(ev.rating, str) for ev in items)  # never NaN

    samples = load_civic(civic, min_support=30)
    assert len(samples) == 3540
    labels = Counter(s.label for s in samples)
    assert len(labels) == 7 and "Prognostic: N/A" in labels
    assert all(s.text and s.group for s in samples)

    merged = load_civic(civic, min_support=30, rare="merge")
    assert len(merged) == 3649 and "Other" in {s.label for s in merged}


@pytest.mark.integration
def test_real_summaries(shared_data: Path) -> None:
    variants = read_variant_summaries(shared_data / "civic")
    assert len(variants) == 1469
    assert "VAL600GLU" in variants["12"]["variant_aliases"]
    genes = read_gene_summaries(shared_data / "civic")
    assert len(genes) == 439 and "ALK" in genes
