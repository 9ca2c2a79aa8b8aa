"""The CIViC knowledge base: look-ups by parsed variation (exact / component / position / type /
none), ranking by disease and therapies, pagination, therapies, assertions and tiers, and the
difference between a missing knowledge base and an empty answer; on small hand-made items and on
the real 2021 and 2024 releases."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from oncoclass.data import fetch_civic
from oncoclass.data.civic import (
    CivicAssertion,
    CivicEvidence,
    ProfileComponent,
    parse_profile,
)
from oncoclass.knowledge import (
    EVIDENCE_LEVELS,
    KnowledgeBase,
    KnowledgeItem,
    KnowledgeMatch,
    parse_amp_category,
)

_BLANK = CivicEvidence(
    evidence_id="1",
    molecular_profile="BRAF V600E",
    molecular_profile_id="12",
    components=(ProfileComponent("BRAF", "V600E", "12"),),
    disease="Melanoma",
    doid="1909",
    therapies=(),
    therapy_interaction_type="",
    evidence_type="Predictive",
    evidence_direction="Supports",
    evidence_level="B",
    significance="Sensitivity/Response",
    evidence_statement="...",
    citation_id="123",
    source_type="PubMed",
    citation="Doe et al., 2020",
    rating="3",
    variant_origin="Somatic",
    evidence_url="https://civic.genome.wustl.edu/links/evidence_items/1",
    molecular_profile_url="https://civicdb.org/molecular-profiles/12/summary",
)


def _ev(evidence_id: str, variant: str, gene: str = "BRAF", **fields: object) -> CivicEvidence:
    """An item on the single-variant profile ``gene variant`` (or on the profile named by a
    ``profile`` keyword, e.g. "BRAF V600E AND BRAF Amplification")."""
    profile = str(fields.pop("profile", f"{gene} {variant}"))
    return replace(
        _BLANK,
        evidence_id=evidence_id,
        molecular_profile=profile,
        components=parse_profile(profile),
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def small() -> KnowledgeBase:
    return KnowledgeBase(
        [
            _ev("1", "V600E", evidence_level="C", rating="5"),
            _ev(
                "2",
                "V600E",
                evidence_level="A",
                rating="2",
                therapies=("Dabrafenib", "Trametinib"),
                therapy_interaction_type="Combination",
            ),
            _ev("3", "V600E", evidence_level="A", rating="4"),
            _ev("4", "V600", evidence_level="B"),
            _ev("5", "V600K", evidence_level="D"),
            _ev("6", "Amplification", evidence_level="B"),
            _ev("7", "KIAA1549-BRAF", evidence_level="B", source_type="ASCO", citation_id="999"),
            _ev("8", "G469A", evidence_level="E", rating=""),
            _ev("9", "E746_A750del", gene="EGFR"),
        ]
    )


def test_exact_matches_any_spelling_sorted_by_level_then_rating(small: KnowledgeBase) -> None:
    for spelling in ("V600E", "Val600Glu", "p.V600E", "p.Val600Glu", " v600e "):
        match = small.lookup("braf", spelling)
        assert match.match == "exact", spelling
        assert [i.evidence_id for i in match.items] == ["3", "2", "1"]
    assert match.normalized == "V600E" and match.total == 3 and match.best_level == "A"
    assert match.status == "ok" and match.available and match.reason is None


def test_item_fields(small: KnowledgeBase) -> None:
    item = small.lookup("BRAF", "V600E").items[1]
    assert item.therapies == ("Dabrafenib", "Trametinib")
    assert item.therapy_interaction == "Combination"
    assert (item.evidence_type, item.evidence_direction, item.clinical_significance) == (
        "Predictive",
        "Supports",
        "Sensitivity/Response",
    )
    assert (item.evidence_level, item.rating, item.disease) == ("A", 2, "Melanoma")
    assert item.pubmed_id == "123"
    assert item.pubmed_url == "https://pubmed.ncbi.nlm.nih.gov/123/"
    assert item.civic_url == "https://civicdb.org/links/evidence_items/1"
    assert item.molecular_profile_url == "https://civicdb.org/molecular-profiles/12/summary"
    assert (item.match, item.molecular_profile) == ("exact", "BRAF V600E")
    data = item.to_dict()
    assert data["therapies"] == ("Dabrafenib", "Trametinib")
    assert data["components"][0]["gene"] == "BRAF"


def test_fallbacks_position_then_type_then_none(small: KnowledgeBase) -> None:
    position = small.lookup("BRAF", "V600R")
    assert position.match == "position"
    assert {i.variant for i in position.items} == {"V600E", "V600", "V600K"}
    assert {i.match for i in position.items} == {"position"}
    assert small.lookup("EGFR", "A750P").match == "position"  # inside E746_A750del
    fusion = small.lookup("BRAF", "AGK-BRAF Fusion")
    assert fusion.match == "type" and [i.evidence_id for i in fusion.items] == ["7"]
    assert fusion.items[0].pubmed_url is None  # an ASCO abstract, not a PubMed paper
    assert small.lookup("BRAF", "Amplification").match == "exact"
    assert small.lookup("BRAF", "Q9999*").match == "none"
    assert small.lookup("BRAF", "some prose").match == "none"  # OTHER never matches by type
    assert small.lookup("NOPE", "V600E").match == "none"
    assert small.lookup("", "").match == "none"


def test_fusions_are_found_from_either_partner(small: KnowledgeBase) -> None:
    assert small.lookup("KIAA1549", "KIAA1549-BRAF").match == "exact"
    assert small.lookup("KIAA1549", "KIAA1549::BRAF").match == "exact"  # the current notation


def test_limit_and_offset_reach_every_item(small: KnowledgeBase) -> None:
    match = small.lookup("BRAF", "V600E", limit=1)
    assert match.total == 3 and [i.evidence_id for i in match.items] == ["3"]
    assert small.lookup("BRAF", "V600E", limit=0).items == []
    pages = [small.lookup("BRAF", "V600R", limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert {i.evidence_id for p in pages for i in p.items} == {"1", "2", "3", "4", "5"}
    assert (pages[1].limit, pages[1].offset, pages[1].total) == (2, 2, 5)


# --- complex profiles ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profiles() -> KnowledgeBase:
    return KnowledgeBase(
        [
            _ev("1", "V600E", evidence_level="B"),
            _ev("2", "", profile="BRAF V600E AND BRAF Amplification", evidence_level="A"),
            _ev("3", "", profile="BRAF V600E OR BRAF K601E", disease="Colorectal Cancer"),
            _ev("4", "", profile="NOT KIT D816V", disease="Mastocytosis"),
            _ev(
                "5", "", profile="ALK EML4::ALK", disease="Lung Adenocarcinoma", evidence_level="A"
            ),
            _ev(
                "6",
                "",
                profile="ALK EML4::ALK AND ALK L1196M",
                disease="Lung Adenocarcinoma",
                therapies=("Crizotinib",),
                significance="Resistance",
            ),
            _ev("7", "", profile="BRAF V600E AND EZH2 Y646F", evidence_type="Oncogenic"),
        ]
    )


def test_components_match_at_their_own_level(profiles: KnowledgeBase) -> None:
    match = profiles.lookup("BRAF", "V600E")
    assert match.match == "exact"
    levels = {i.evidence_id: i.match for i in match.items}
    assert levels == {"1": "exact", "2": "component", "3": "component", "7": "component"}
    # exact before component, even against a better level
    assert [i.evidence_id for i in match.items][0] == "1"
    assert profiles.lookup("EZH2", "Y646F").items[0].molecular_profile == (
        "BRAF V600E AND EZH2 Y646F"
    )
    only_part = profiles.lookup("BRAF", "K601E")
    assert only_part.match == "component" and [i.evidence_id for i in only_part.items] == ["3"]
    whole = profiles.lookup("BRAF", "V600E AND Amplification")
    assert {i.evidence_id: i.match for i in whole.items}["2"] == "exact"


def test_not_components_are_never_matched(profiles: KnowledgeBase) -> None:
    for variation in ("D816V", "D816H", "Amplification", "Mutation"):
        match = profiles.lookup("KIT", variation)
        assert match.match == "none" and match.items == [], variation


def test_fusions_match_by_partner_genes(profiles: KnowledgeBase) -> None:
    for gene, variation in (("ALK", "EML4::ALK"), ("EML4", "EML4::ALK"), ("ALK", "EML4-ALK")):
        match = profiles.lookup(gene, variation)
        assert {i.evidence_id: i.match for i in match.items} == {"5": "exact", "6": "component"}
    assert profiles.lookup("ALK", "L1196M").items[0].evidence_id == "6"


def test_therapies_keep_combined_profiles_apart(profiles: KnowledgeBase) -> None:
    (therapy,) = profiles.lookup("EML4", "EML4::ALK").therapies
    assert (therapy.therapy, therapy.response, therapy.variant_alone) == (
        "Crizotinib",
        "resistance",
        False,
    )
    assert therapy.molecular_profiles == ("ALK EML4::ALK AND ALK L1196M",)


# --- relevance, therapies, assertions, tiers -----------------------------------------------------


@pytest.fixture(scope="module")
def clinic() -> KnowledgeBase:
    evidence = [
        _ev("1", "V600E", disease="Colorectal Cancer", evidence_level="A", rating="5"),
        _ev("2", "V600E", disease="Melanoma", evidence_level="C", therapies=("Vemurafenib",)),
        _ev(
            "3",
            "V600E",
            disease="Cutaneous Melanoma",
            evidence_level="B",
            therapies=("Dabrafenib",),
        ),
        _ev("4", "V600E", disease="Uveal Melanoma of the Eye", evidence_level="D"),
        _ev("5", "V600E", disease="Lung Cancer", evidence_level="B", therapies=("Dabrafenib",)),
        _ev(
            "6",
            "V600E",
            disease="Melanoma",
            evidence_level="D",
            therapies=("Vemurafenib",),
            significance="Resistance",
        ),
        _ev("7", "V600E", disease="Thyroid Cancer", doid="1781", evidence_level="E"),
        _ev("8", "T790M", gene="EGFR", disease="Lung Cancer", evidence_level="C"),
        _ev("9", "G12C", gene="KRAS", evidence_type="Oncogenic", significance="Oncogenicity"),
    ]
    assertion = CivicAssertion(
        assertion_id="7",
        molecular_profile="BRAF V600E",
        molecular_profile_id="12",
        components=(ProfileComponent("BRAF", "V600E", "12"),),
        disease="Melanoma",
        doid="1909",
        therapies=("Trametinib", "Dabrafenib"),
        assertion_type="Predictive",
        assertion_direction="Supports",
        significance="Sensitivity/Response",
        acmg_codes=(),
        amp_category="Tier I - Level A",
        nccn_guideline="Melanoma",
        nccn_guideline_version="2.2018",
        regulatory_approval=True,
        fda_companion_test=True,
        summary="BRAF V600E predicts response to dabrafenib and trametinib.",
        description="",
        evidence_ids=("2", "3"),
        assertion_url="https://civicdb.org/links/assertions/7",
        molecular_profile_url="https://civicdb.org/molecular-profiles/12/summary",
    )
    return KnowledgeBase(evidence, assertions=[assertion])


def test_same_disease_first_then_related_then_other(clinic: KnowledgeBase) -> None:
    match = clinic.lookup("BRAF", "V600E", disease="melanoma")
    assert [i.evidence_id for i in match.items] == ["3", "2", "4", "6", "1", "5", "7"]
    assert [i.disease_relevance for i in match.items][:4] == ["same"] * 4
    assert {i.disease_relevance for i in match.items[4:]} == {"other"}
    related = clinic.lookup("BRAF", "V600E", disease="Lung Adenocarcinoma")
    assert related.items[0].evidence_id == "5" and related.items[0].disease_relevance == "related"
    by_doid = clinic.lookup("BRAF", "V600E", disease="DOID:1781")
    assert by_doid.items[0].evidence_id == "7" and by_doid.items[0].disease_relevance == "same"
    assert clinic.lookup("BRAF", "V600E").items[0].disease_relevance is None


def test_therapies_entered_rank_first(clinic: KnowledgeBase) -> None:
    match = clinic.lookup("BRAF", "V600E", disease="Melanoma", therapies=["vemurafenib"])
    assert [i.evidence_id for i in match.items][:3] == ["2", "6", "3"]
    assert match.query_therapies == ("vemurafenib",) and match.disease == "Melanoma"


def test_therapies_by_disease(clinic: KnowledgeBase) -> None:
    therapies = clinic.lookup("BRAF", "V600E", disease="Melanoma").therapies
    rows = [(t.disease, t.therapy, t.response, t.best_level) for t in therapies]
    assert rows == [
        ("Cutaneous Melanoma", "Dabrafenib", "sensitivity", "B"),
        ("Melanoma", "Vemurafenib", "sensitivity", "C"),
        ("Melanoma", "Vemurafenib", "resistance", "D"),
        ("Lung Cancer", "Dabrafenib", "sensitivity", "B"),
    ]
    assert therapies[0].evidence_ids == ("3",) and therapies[0].disease_relevance == "same"


def test_assertions_and_a_tier_from_them(clinic: KnowledgeBase) -> None:
    match = clinic.lookup("BRAF", "V600E", disease="Melanoma")
    (assertion,) = match.assertions
    assert (assertion.amp_category, assertion.amp_tier, assertion.amp_level) == (
        "Tier I - Level A",
        "Tier I",
        "A",
    )
    assert (assertion.nccn_guideline, assertion.fda_companion_test) == ("Melanoma", True)
    assert assertion.civic_url == "https://civicdb.org/links/assertions/7"
    tier = match.tier
    assert tier is not None and (tier.label, tier.basis, tier.assertion_ids) == (
        "Tier I - Level A",
        "assertion",
        ("7",),
    )
    assert match.to_dict()["tier"]["label"] == "Tier I - Level A"


def test_tiers_derived_from_evidence_levels(clinic: KnowledgeBase) -> None:
    def tier(gene: str, variation: str, disease: str = "") -> tuple[str, str]:
        t = clinic.lookup(gene, variation, disease=disease).tier
        assert t is not None
        return t.label, t.basis

    derived = "derived from evidence levels"
    assert tier("BRAF", "V600E", "Colorectal Cancer") == ("Tier I - Level A", derived)
    assert tier("BRAF", "V600E", "Lung Adenocarcinoma") == ("Tier II - Level C", derived)
    assert tier("EGFR", "T790M", "Lung Cancer") == ("Tier II - Level C", derived)
    assert tier("BRAF", "V600K", "Melanoma") == ("Tier III", derived)  # only V600E known
    assert tier("KRAS", "G12C", "Lung Cancer") == ("Tier III", derived)  # oncogenic only
    assert tier("NOPE", "V600E", "Melanoma") == ("none", "none")
    no_disease = clinic.lookup("EGFR", "T790M").tier
    assert no_disease is not None and (no_disease.label, no_disease.disease) == (
        "Tier II - Level C",
        "Lung Cancer",
    )


def test_parse_amp_category() -> None:
    assert parse_amp_category("Tier I - Level A") == ("Tier I", "A")
    assert parse_amp_category("Tier II - Level C") == ("Tier II", "C")
    assert parse_amp_category("Tier III") == ("Tier III", None)
    assert parse_amp_category("") == (None, None)


# --- availability ------------------------------------------------------------------------------


def test_a_missing_knowledge_base_says_so(tmp_path: Path) -> None:
    kb = KnowledgeBase.from_data_home(tmp_path)  # no CIViC release there
    assert (kb.status, kb.available, len(kb)) == ("missing", False, 0)
    assert kb.reason and "oncoclass data fetch civic" in kb.reason
    match = kb.lookup("BRAF", "V600E")
    assert (match.status, match.available, match.match, match.total) == (
        "missing",
        False,
        "none",
        0,
    )
    assert match.reason == kb.reason and match.tier is None


def test_an_unreadable_knowledge_base_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "civic" / "01-Aug-2024"
    folder.mkdir(parents=True)
    (folder / "01-Aug-2024-ClinicalEvidenceSummaries.tsv").write_text("<html>oops</html>\n")
    (folder / "MANIFEST.json").write_text(json.dumps({"files": {}}))
    kb = KnowledgeBase.from_data_home(tmp_path)
    assert (kb.status, kb.available) == ("error", False)
    assert "missing column" in (kb.reason or "")
    assert kb.lookup("BRAF", "V600E").status == "error"


def test_an_empty_answer_is_not_a_missing_base(small: KnowledgeBase) -> None:
    match = small.lookup("NOTAGENE", "V600E")
    assert (match.match, match.status, match.available) == ("none", "ok", True)


# --- the real releases ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def civic_2024(shared_data: Path) -> KnowledgeBase:
    return KnowledgeBase.from_path(shared_data / "civic_2024")


@pytest.mark.integration
def test_real_2024_release_from_the_data_home(shared_data: Path, tmp_path: Path) -> None:
    fetch_civic(tmp_path, from_path=shared_data / "civic_2024", progress=False)
    kb = KnowledgeBase.from_data_home(tmp_path)
    assert (kb.status, len(kb), kb.n_assertions) == ("ok", 4375, 66)
    assert kb.release is not None and (kb.release.name, kb.release.format) == (
        "01-Aug-2024",
        "current",
    )
    match = kb.lookup("BRAF", "V600E")
    assert (match.release, match.release_date) == ("01-Aug-2024", "2024-08-01")
    assert match.source and match.source.endswith("01-Aug-2024")


@pytest.mark.integration
def test_real_braf_v600e_in_melanoma(civic_2024: KnowledgeBase) -> None:
    match = civic_2024.lookup("BRAF", "V600E", disease="Melanoma")
    assert match.match == "exact" and match.total > 90
    assert match.items[0].disease_relevance == "same"
    assert {"exact", "component"} <= {
        i.match for i in civic_2024.lookup("BRAF", "V600E", limit=500).items
    }
    tier = match.tier
    assert tier is not None and (tier.label, tier.basis) == ("Tier I - Level A", "assertion")
    melanoma = [a for a in match.assertions if a.disease == "Melanoma"]
    assert melanoma and {a.amp_category for a in melanoma} == {"Tier I - Level A"}
    assert all(a.fda_companion_test and a.regulatory_approval for a in melanoma)
    assert all(a.nccn_guideline == "Melanoma" and a.nccn_guideline_version for a in melanoma)
    assert {"Dabrafenib", "Vemurafenib"} <= {t for a in melanoma for t in a.therapies}
    assert all(a.civic_url.startswith("https://civicdb.org/links/assertions/") for a in melanoma)
    sensitivity = [
        t
        for t in match.therapies
        if t.disease_relevance == "same" and t.response == "sensitivity" and t.variant_alone
    ]
    assert any("Vemurafenib" in t.therapy and t.best_level == "A" for t in sensitivity)
    assert any("Dabrafenib" in t.therapy for t in sensitivity)
    item = match.items[0]
    assert item.molecular_profile_url == "https://civicdb.org/molecular-profiles/12/summary"
    assert item.civic_url and item.civic_url.startswith("https://civicdb.org/links/evidence_items/")


@pytest.mark.integration
def test_real_egfr_t790m_resistance_to_first_generation_tkis(civic_2024: KnowledgeBase) -> None:
    match = civic_2024.lookup("EGFR", "T790M", disease="Lung Non-small Cell Carcinoma")
    resistant = {
        t.therapy
        for t in match.therapies
        if t.response == "resistance"
        and t.direction == "Supports"
        and t.disease_relevance == "same"
    }
    assert {"Erlotinib", "Gefitinib"} <= resistant
    assert any(t.therapy == "Osimertinib" and t.response == "sensitivity" for t in match.therapies)


@pytest.mark.integration
def test_real_complex_profiles_and_fusions(civic_2024: KnowledgeBase) -> None:
    profiles = {i.molecular_profile for i in civic_2024.lookup("BRAF", "V600E", limit=500).items}
    assert "BRAF V600E AND BRAF Amplification" in profiles
    kit = civic_2024.lookup("KIT", "D816V", limit=500)
    assert kit.match == "exact" and "NOT KIT D816V" not in {i.molecular_profile for i in kit.items}
    for gene in ("ALK", "EML4"):
        fusion = civic_2024.lookup(gene, "EML4::ALK", limit=500)
        assert fusion.match == "exact"
        assert "ALK EML4::ALK AND ALK L1196M" in {i.molecular_profile for i in fusion.items}
    t315i = civic_2024.lookup("ABL1", "T315I", disease="Chronic Myeloid Leukemia")
    assert t315i.match == "component" and t315i.tier is not None and t315i.tier.tier == "Tier III"
    assert any(not t.variant_alone and t.response == "resistance" for t in t315i.therapies)
    assert "combine it with other variants" in t315i.tier.explanation


@pytest.mark.integration
def test_real_unknown_gene_answers_none_but_available(civic_2024: KnowledgeBase) -> None:
    match = civic_2024.lookup("NOTAGENE", "V600E", disease="Melanoma")
    assert (match.match, match.total, match.available, match.status) == ("none", 0, True, "ok")
    assert match.tier is not None and match.tier.tier == "none"


@pytest.mark.integration
def test_real_pagination_reaches_every_item(civic_2024: KnowledgeBase) -> None:
    first = civic_2024.lookup("BRAF", "V600E", limit=40)
    seen = [
        i.evidence_id
        for offset in range(0, first.total, 40)
        for i in civic_2024.lookup("BRAF", "V600E", limit=40, offset=offset).items
    ]
    assert len(seen) == len(set(seen)) == first.total


@pytest.mark.integration
def test_real_2021_release(shared_data: Path) -> None:
    kb = KnowledgeBase.from_path(shared_data / "civic")
    assert len(kb) == 3650 and kb.n_assertions == 18
    assert kb.release is not None and kb.release.format == "2021"
    for spelling in ("V600E", "Val600Glu", "p.V600E"):
        match = kb.lookup("BRAF", spelling)
        assert match.match == "exact" and match.total > 50
        assert {i.variant for i in match.items} <= {
            "V600E",
            "V600E and V600M",
            "V600E/K",
            "V600E AMPLIFICATION",
        }
        exact = [i for i in match.items if i.match == "exact"]
        levels = [EVIDENCE_LEVELS.index(i.evidence_level) for i in exact]
        assert levels == sorted(levels) and exact[0].evidence_level == "A"
    assert len(kb.lookup("BRAF", "V600E").items) == 50  # default limit

    position = kb.lookup("BRAF", "V600R")  # not in CIViC: other changes at residue 600
    assert position.match == "position"
    assert {"V600E", "V600"} <= {i.variant for i in position.items}
    assert kb.lookup("ALK", "EML4-ALK").match == "exact"
    assert kb.lookup("ALK", "EML4::ALK").match == "exact"  # the current notation finds 2021 items
    assert kb.lookup("NOTAGENE", "V600E").match == "none"
    assert all(
        i.civic_url and i.civic_url.startswith("https://civicdb.org/")
        for i in kb.lookup("EGFR", "L858R").items
    )


def test_records_are_frozen_with_to_dict(small: KnowledgeBase) -> None:
    match = small.lookup("BRAF", "V600E")
    assert isinstance(match, KnowledgeMatch) and isinstance(match.items[0], KnowledgeItem)
    with pytest.raises(AttributeError):
        match.total = 0  # type: ignore[misc]
    data = match.to_dict()
    assert data["items"][0]["evidence_id"] == "3" and data["available"] is True
