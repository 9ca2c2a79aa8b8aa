from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from oncoclass.data.civic import (
    CURRENT,
    LEGACY,
    CivicEvidence,
    ProfileComponent,
    civic_release,
    civic_samples,
    count_profiles,
    detect_format,
    find_civic_file,
    load_civic,
    monthly_release,
    nightly_release,
    parse_profile,
    profile_variation,
    read_assertions,
    read_evidence,
    read_gene_summaries,
    read_molecular_profiles,
    read_variant_summaries,
    release_date,
    release_key,
    validate_table,
)
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError
from oncoclass.features.variation import VariationType, parse_variation

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
    assert first.therapies == ("Gefitinib", "Erlotinib")
    assert first.evidence_statement == 'T790M confers resistance to "first generation" TKIs.'
    assert first.label == "Predictive: Resistance"
    assert first.pubmed_url == "https://pubmed.ncbi.nlm.nih.gov/1001/"
    assert items[3].significance == "N/A" and items[3].label == "Prognostic: N/A"
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
    assert any(ev.significance == "N/A" for ev in items)
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


def test_real_2021_samples_are_the_gene_and_variant_columns(shared_data: Path) -> None:
    """The 2021 release maps to single-component profiles: gene and variation as written."""
    import csv

    path = shared_data / "civic" / "01-Aug-2021-ClinicalEvidenceSummaries.tsv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = {
            r["evidence_id"]: r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        }
    samples = load_civic(shared_data / "civic")
    assert all(
        (s.gene, s.variation) == (rows[s.id]["gene"], rows[s.id]["variant"]) for s in samples
    )
    items = read_evidence(shared_data / "civic")
    assert count_profiles(items) == Counter(simple=3650, complex=0)
    assert all(len(ev.components) == 1 and not ev.molecular_profile_id for ev in items)
    assert items[0].evidence_url.startswith("https://civicdb.org/links/evidence_items/")


# --- the current format --------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


#: The 01-Aug-2024 headers.
CURRENT_HEADER = _words(
    "molecular_profile molecular_profile_id disease doid phenotypes therapies "
    "therapy_interaction_type evidence_type evidence_direction evidence_level significance "
    "evidence_statement citation_id source_type asco_abstract_id citation nct_ids rating "
    "evidence_status evidence_id variant_origin last_review_date evidence_civic_url "
    "molecular_profile_civic_url is_flagged"
)
PROFILE_HEADER = _words(
    "name molecular_profile_id summary variant_ids variants_civic_url evidence_score "
    "evidence_item_ids evidence_items_civic_url assertion_ids assertions_civic_url aliases "
    "last_review_date is_flagged"
)
VARIANT_HEADER = _words(
    "variant_id variant_civic_url gene entrez_id variant single_variant_molecular_profile_id"
)
ASSERTION_HEADER = _words(
    "molecular_profile molecular_profile_id disease doid phenotypes therapies assertion_type "
    "assertion_direction significance acmg_codes amp_category nccn_guideline "
    "nccn_guideline_version regulatory_approval fda_companion_test assertion_summary "
    "assertion_description assertion_id evidence_item_ids last_review_date assertion_civic_url "
    "evidence_items_civic_url molecular_profile_civic_url is_flagged"
)

#: (profile id, name, variant ids) of the test release.
PROFILES = [
    ("12", "BRAF V600E", "12"),
    ("5", "ALK EML4::ALK", "5"),
    ("4170", "BRAF V600E AND BRAF Amplification", "12, 1269"),
    ("4253", "ALK EML4::ALK AND ALK L1198F AND ALK C1156Y", "5, 4331, 1275"),
    ("4174", "BRAF Amplification AND ( BRAF V600E OR BRAF V600K )", "1269, 12, 563"),
    ("4353", "NOT KIT D816V", "65"),
    ("4366", "MET Amplification AND MET Splice Site (c.3028G>A)", "4386, 270"),
    ("6952", "BRAF V600E AND EZH2 Y646F", "12, 4090"),
    ("2001", "FLI1 EWSR1::FLI1 e7-e6", "2001"),
]
VARIANTS_2024 = [
    ("12", "BRAF", "V600E"),
    ("5", "ALK", "EML4::ALK"),
    ("1269", "BRAF", "Amplification"),
    ("4331", "ALK", "L1198F"),
    ("1275", "ALK", "C1156Y"),
    ("563", "BRAF", "V600K"),
    ("65", "KIT", "D816V"),
    ("4386", "MET", "Amplification"),
    ("270", "MET", "Splice Site (c.3028G>A)"),
    ("4090", "EZH2", "Y646F"),
    ("2001", "FLI1", "EWSR1::FLI1 e7-e6"),
]


def current_row(evidence_id: int, profile_id: str, **values: str) -> dict[str, str]:
    name = next(n for i, n, _ in PROFILES if i == profile_id)
    row = dict.fromkeys(CURRENT_HEADER, "")
    row.update(
        molecular_profile=name,
        molecular_profile_id=profile_id,
        disease="Melanoma",
        doid="1909",
        therapies="Dabrafenib,Trametinib",
        therapy_interaction_type="Combination",
        evidence_type="Predictive",
        evidence_direction="Supports",
        evidence_level="B",
        significance="Sensitivity/Response",
        evidence_statement='"Combined" BRAF and MEK inhibition.',
        citation_id=str(2000 + evidence_id),
        source_type="PubMed",
        rating="4",
        evidence_status="accepted",
        evidence_id=str(evidence_id),
        variant_origin="Somatic",
        evidence_civic_url=f"https://civicdb.org/links/evidence_items/{evidence_id}",
        is_flagged="false",
    )
    row.update(values)
    return row


def write_current_release(
    folder: Path, rows: list[dict[str, str]], *, profiles: bool = True
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    release = "01-Aug-2024"
    write_tsv(folder / f"{release}-ClinicalEvidenceSummaries.tsv", CURRENT_HEADER, rows)
    if profiles:
        mp_rows = [
            {
                **dict.fromkeys(PROFILE_HEADER, ""),
                "name": n,
                "molecular_profile_id": i,
                "variant_ids": v,
            }
            for i, n, v in PROFILES
        ]
        write_tsv(folder / f"{release}-MolecularProfileSummaries.tsv", PROFILE_HEADER, mp_rows)
        v_rows = [
            {**dict.fromkeys(VARIANT_HEADER, ""), "variant_id": i, "gene": g, "variant": v}
            for i, g, v in VARIANTS_2024
        ]
        write_tsv(folder / f"{release}-VariantSummaries.tsv", VARIANT_HEADER, v_rows)
    return folder


@pytest.fixture
def current_release(tmp_path: Path) -> Path:
    rows = [
        current_row(1, "12"),
        current_row(
            2, "12", evidence_level="A", therapies="Vemurafenib", therapy_interaction_type=""
        ),
        current_row(3, "4170", evidence_type="Predictive", significance="Resistance"),
        current_row(4, "4253", disease="Lung Non-small Cell Carcinoma", significance="Resistance"),
        current_row(5, "4174"),
        current_row(
            6,
            "4353",
            disease="Mastocytosis",
            significance="Sensitivity/Response",
            is_flagged="true",
        ),
        current_row(7, "4366"),
        current_row(
            8, "6952", evidence_type="Oncogenic", significance="Oncogenicity", therapies=""
        ),
        current_row(9, "5", disease="Lung Adenocarcinoma"),
        current_row(10, "2001", evidence_type="Diagnostic", significance="Positive", therapies=""),
    ]
    return write_current_release(tmp_path / "release", rows)


def test_format_is_told_by_the_header() -> None:
    assert detect_format(CURRENT_HEADER) == CURRENT
    assert detect_format(HEADER) == LEGACY
    with pytest.raises(DataError, match="missing column.*molecular_profile"):
        detect_format(["<html>Service unavailable</html>"])


def test_current_format_reads_into_the_same_record(current_release: Path) -> None:
    items = {ev.evidence_id: ev for ev in read_evidence(current_release)}
    single = items["1"]
    assert isinstance(single, CivicEvidence) and not single.is_complex
    assert (single.gene, single.variation, single.molecular_profile) == (
        "BRAF",
        "V600E",
        "BRAF V600E",
    )
    assert single.components == (ProfileComponent("BRAF", "V600E", "12"),)
    assert single.therapies == ("Dabrafenib", "Trametinib")
    assert single.therapy_interaction_type == "Combination"
    assert single.evidence_statement == '"Combined" BRAF and MEK inhibition.'
    assert single.label == "Predictive: Sensitivity/Response" and single.release == "01-Aug-2024"
    assert single.molecular_profile_url == "https://civicdb.org/molecular-profiles/12/summary"
    assert items["6"].is_flagged and not single.is_flagged

    both = items["3"]
    assert both.is_complex and both.label == "Predictive: Resistance"
    assert [(c.gene, c.variant, c.variant_id, c.operator) for c in both.components] == [
        ("BRAF", "V600E", "12", ""),
        ("BRAF", "Amplification", "1269", "AND"),
    ]
    assert both.variation == "V600E AND Amplification"
    assert items["4"].variation == "EML4::ALK AND L1198F AND C1156Y"
    assert items["5"].variation == "Amplification AND (V600E OR V600K)"
    assert items["6"].variation == "NOT D816V" and items["6"].components[0].negated
    # A variant name with spaces and parentheses stays whole, with its id.
    assert items["7"].components[1] == ProfileComponent(
        "MET", "Splice Site (c.3028G>A)", "270", "AND"
    )
    assert items["8"].variation == "V600E AND EZH2 Y646F" and items["8"].genes == ("BRAF", "EZH2")
    assert count_profiles(list(items.values())) == Counter(simple=4, complex=6, AND=5, OR=1, NOT=1)


def test_profile_variations_parse_component_by_component(current_release: Path) -> None:
    items = {ev.evidence_id: ev for ev in read_evidence(current_release)}
    fusion = parse_variation(items["9"].variation, items["9"].gene)
    assert (fusion.type, fusion.partners) == (VariationType.FUSION, ("EML4", "ALK"))
    exons = parse_variation(items["10"].variation, items["10"].gene)
    assert (exons.type, exons.partners, exons.exon) == (VariationType.FUSION, ("EWSR1", "FLI1"), 7)
    both = parse_variation(items["4"].variation, items["4"].gene)
    assert both.type is VariationType.FUSION and len(both.components) == 3
    other_gene = parse_variation(items["8"].variation, items["8"].gene)
    assert [c.gene for c in other_gene.components] == [None, "EZH2"]
    absent = parse_variation(items["6"].variation, items["6"].gene)
    assert absent.type is VariationType.OTHER and absent.present() == ()


def test_complex_profiles_become_samples(current_release: Path) -> None:
    items = read_evidence(current_release)
    samples = {s.id: s for s in civic_samples(items, min_support=1)}
    assert len(samples) == len(items)  # none dropped for being complex
    s = samples["4"]
    assert (s.gene, s.variation, s.label) == (
        "ALK",
        "EML4::ALK AND L1198F AND C1156Y",
        "Predictive: Resistance",
    )
    assert s.extra["molecular_profile"] == "ALK EML4::ALK AND ALK L1198F AND ALK C1156Y"
    assert s.extra["complex"] == "true" and s.extra["release"] == "01-Aug-2024"
    components = json.loads(s.extra["components"])
    assert [c["variant_id"] for c in components] == ["5", "4331", "1275"]
    assert all(isinstance(v, str) for sample in samples.values() for v in sample.extra.values())
    assert samples["1"].extra["complex"] == "false" and samples["1"].drugs == (
        "Dabrafenib",
        "Trametinib",
    )


def test_without_profile_summaries_names_are_split(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_current_release(
        tmp_path / "bare", [current_row(1, "4366"), current_row(2, "4174")], profiles=False
    )
    with caplog.at_level(logging.WARNING, logger="oncoclass.data.civic"):
        items = read_evidence(folder)
    assert "MolecularProfileSummaries" in caplog.text
    assert [c.name for c in items[0].components] == [
        "MET Amplification",
        "MET Splice Site (c.3028G>A)",
    ]
    assert items[1].variation == "Amplification AND (V600E OR V600K)"
    assert all(not c.variant_id for ev in items for c in ev.components)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BRAF V600E", "V600E"),
        ("ABL1 BCR::ABL1 AND ABL1 T315I", "BCR::ABL1 AND T315I"),
        ("EGFR L858R OR EGFR Exon 19 Deletion", "L858R OR Exon 19 Deletion"),
        (
            "RB1 Wildtype AND ( CDKN2A Loss OR CDKN2A Mutation )",
            "Wildtype AND (CDKN2A Loss OR CDKN2A Mutation)",
        ),
        ("NOT ( BRAF V600E OR BRAF V600K )", "(NOT V600E OR NOT V600K)"),
        ("Kataegis Positive", "Positive"),
        ("", ""),
        ("BRAF V600E AND", "V600E"),
        ("( ( AND OR )", ""),
    ],
)
def test_parse_profile_without_summaries(name: str, expected: str) -> None:
    assert profile_variation(parse_profile(name)) == expected


def test_parse_profile_prefers_known_variant_names() -> None:
    known = [("LMNA", "NTRK1 G595R AND G667C", "7"), ("KIT", "D816V", "65")]
    components = parse_profile("LMNA NTRK1 G595R AND G667C AND NOT KIT D816V", known)
    assert [(c.gene, c.variant, c.variant_id, c.negated) for c in components] == [
        ("LMNA", "NTRK1 G595R AND G667C", "7", False),
        ("KIT", "D816V", "65", True),
    ]


def test_assertions_in_both_formats(tmp_path: Path, current_release: Path) -> None:
    row = dict.fromkeys(ASSERTION_HEADER, "")
    row.update(
        molecular_profile="BRAF V600E",
        molecular_profile_id="12",
        disease="Melanoma",
        therapies="Trametinib,Dabrafenib",
        assertion_type="Predictive",
        assertion_direction="Supports",
        significance="Sensitivity/Response",
        acmg_codes="PVS1,PM2",
        amp_category="Tier I - Level A",
        nccn_guideline="Melanoma",
        nccn_guideline_version="2.2018",
        regulatory_approval="true",
        fda_companion_test="false",
        assertion_id="7",
        evidence_item_ids="6178,6940",
        assertion_civic_url="https://civicdb.org/links/assertions/7",
    )
    write_tsv(current_release / "01-Aug-2024-AssertionSummaries.tsv", ASSERTION_HEADER, [row])
    (a,) = read_assertions(current_release)
    assert (a.gene, a.variation, a.amp_category, a.acmg_codes) == (
        "BRAF", "V600E", "Tier I - Level A", ("PVS1", "PM2"),
    )  # fmt: skip
    assert (a.regulatory_approval, a.fda_companion_test) == (True, False)
    assert a.components[0].variant_id == "12" and a.evidence_ids == ("6178", "6940")
    assert (
        a.therapies == ("Trametinib", "Dabrafenib")
        and a.label == "Predictive: Sensitivity/Response"
    )
    assert a.molecular_profile_url == "https://civicdb.org/molecular-profiles/12/summary"
    write_tsv(current_release / "01-Aug-2024-AssertionSummaries.tsv", ASSERTION_HEADER, [])
    assert read_assertions(current_release) == []  # a release without assertions


def test_release_names_and_order() -> None:
    assert monthly_release(date(2026, 11, 17)) == "01-Nov-2026"
    assert nightly_release(date(2024, 10, 15)) == "nightly-2024-10-15"
    assert release_date("01-Aug-2024") == date(2024, 8, 1)
    assert release_date("nightly-2024-10-15") == date(2024, 10, 15)
    assert release_date("nightly") is None and release_date("31-Feb-2024") is None
    names = ["nightly", "01-Aug-2024", "nightly-2024-08-01", "local", "01-Jul-2024"]
    assert sorted(names, key=release_key) == [
        "local", "01-Jul-2024", "01-Aug-2024", "nightly-2024-08-01", "nightly",
    ]  # fmt: skip


def test_release_metadata_of_a_folder(current_release: Path, evidence_file: Path) -> None:
    info = civic_release(current_release)
    assert (info.name, info.format, info.date) == ("01-Aug-2024", "current", date(2024, 8, 1))
    assert "MolecularProfileSummaries" in info.files and info.to_dict()["date"] == "2024-08-01"
    legacy = civic_release(evidence_file.parent)
    assert (legacy.name, legacy.format) == ("01-Aug-2021", "2021")


def test_validate_table_reads_every_row(evidence_file: Path, current_release: Path) -> None:
    assert validate_table(evidence_file, "ClinicalEvidenceSummaries") == LEGACY
    mp = current_release / "01-Aug-2024-MolecularProfileSummaries.tsv"
    assert validate_table(mp, "MolecularProfileSummaries") is None
    mp.write_text("<html>\n")
    with pytest.raises(DataError, match="missing column"):
        validate_table(mp, "MolecularProfileSummaries")


# --- the real 2024 release -----------------------------------------------------------------------


@pytest.mark.integration
def test_real_2024_release(shared_data: Path) -> None:
    civic = shared_data / "civic_2024"
    items = read_evidence(civic)
    assert len(items) == 4375 and len({ev.evidence_id for ev in items}) == 4375
    counts = count_profiles(items)
    assert (counts["simple"], counts["complex"]) == (3962, 413)
    assert all(ev.components and ev.gene for ev in items)
    # every component of a profile made of known variants has its variant id
    profiles = read_molecular_profiles(civic)
    assert len(profiles) == 1739
    assert sum(all(c.variant_id for c in p.components) for p in profiles.values()) == 1737

    samples = load_civic(civic, min_support=30)
    labels = Counter(s.label for s in samples)
    assert len(samples) == 4290 and len(labels) == 11
    assert "Functional: Gain of Function" not in labels  # 29 items
    # Complex items are never dropped for being complex: all 413 when every class is kept ...
    everything = load_civic(civic, min_support=1)
    assert sum(s.extra["complex"] == "true" for s in everything) == 413
    # ... and with the 30-item rule, every complex item whose class is kept.
    kept = sum(ev.is_complex and labels[ev.label] > 0 for ev in items)
    assert sum(s.extra["complex"] == "true" for s in samples) == kept

    by_profile = {s.extra["molecular_profile"]: s for s in everything}
    assert by_profile["BRAF V600E AND BRAF Amplification"].variation == "V600E AND Amplification"
    assert by_profile["ALK EML4::ALK AND ALK L1196M"].variation == "EML4::ALK AND L1196M"
    assert by_profile["NOT KIT D816V"].variation == "NOT D816V"
    assert by_profile["ABL1 BCR::ABL1"].variation == "BCR::ABL1"
    parsed = [parse_variation(s.variation, s.gene) for s in everything]
    assert sum(p.is_known_shape for p in parsed) / len(parsed) >= 0.95
    complex_parsed = [
        p for p, s in zip(parsed, everything, strict=True) if s.extra["complex"] == "true"
    ]
    assert sum(p.is_known_shape for p in complex_parsed) == 412  # all but "NOT D816V"


@pytest.mark.integration
def test_real_assertions_and_summaries(shared_data: Path) -> None:
    assertions = read_assertions(shared_data / "civic_2024")
    assert len(assertions) == 66
    melanoma = [
        a for a in assertions if a.molecular_profile == "BRAF V600E" and a.disease == "Melanoma"
    ]
    assert {a.amp_category for a in melanoma} == {"Tier I - Level A"}
    assert all(a.fda_companion_test and a.nccn_guideline == "Melanoma" for a in melanoma)
    assert sum(bool(a.acmg_codes) for a in assertions) == 5
    legacy = read_assertions(shared_data / "civic")
    assert len(legacy) == 18 and legacy[0].molecular_profile == "ERBB2 AMPLIFICATION"
    assert legacy[0].assertion_url == "https://civicdb.org/links/assertions/2"
    assert len(read_variant_summaries(shared_data / "civic_2024")) == 1717
    assert len(read_gene_summaries(shared_data / "civic_2024")) == 614
    info = civic_release(shared_data / "civic_2024")
    assert (info.name, info.format) == ("01-Aug-2024", "current")
    assert civic_release(shared_data / "civic").format == "2021"
