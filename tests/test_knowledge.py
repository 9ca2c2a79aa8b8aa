"""The CIViC knowledge base: look-ups by parsed variation with exact / position / type / none
fallbacks, on small hand-made items and on the real CIViC release."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from oncoclass.data.civic import CivicEvidence
from oncoclass.knowledge import EVIDENCE_LEVELS, KnowledgeBase

_BLANK = CivicEvidence(
    evidence_id="1",
    gene="BRAF",
    variant="V600E",
    disease="Melanoma",
    doid="",
    drugs=(),
    drug_interaction_type="",
    evidence_type="Predictive",
    evidence_direction="Supports",
    evidence_level="B",
    clinical_significance="Sensitivity/Response",
    evidence_statement="...",
    citation_id="123",
    source_type="PubMed",
    citation="Doe et al., 2020",
    rating="3",
    variant_id="12",
    gene_id="5",
    variant_summary="",
    variant_origin="Somatic",
    evidence_url="https://civic.genome.wustl.edu/links/evidence_items/1",
    variant_url="",
)


def _ev(evidence_id: str, variant: str, **fields: str) -> CivicEvidence:
    return replace(_BLANK, evidence_id=evidence_id, variant=variant, **fields)


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
                drugs=("Dabrafenib", "Trametinib"),
                drug_interaction_type="Combination",
            ),
            _ev("3", "V600E", evidence_level="A", rating="4"),
            _ev("4", "V600", evidence_level="B"),
            _ev("5", "V600K", evidence_level="D"),
            _ev("6", "Amplification", evidence_level="B"),
            _ev("7", "KIAA1549-BRAF", evidence_level="B", source_type="ASCO", citation_id="999"),
            _ev("8", "G469A", gene="BRAF", evidence_level="E", rating=""),
            _ev("9", "E746_A750del", gene="EGFR"),
        ]
    )


def test_exact_matches_any_spelling_sorted_by_level_then_rating(small: KnowledgeBase) -> None:
    for spelling in ("V600E", "Val600Glu", "p.V600E", "p.Val600Glu", " v600e "):
        match = small.lookup("braf", spelling)
        assert match.match == "exact", spelling
        assert [i.evidence_id for i in match.items] == ["3", "2", "1"]
    assert match.normalized == "V600E" and match.total == 3 and match.best_level == "A"


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
    assert item.to_dict()["therapies"] == ("Dabrafenib", "Trametinib")


def test_fallbacks_position_then_type_then_none(small: KnowledgeBase) -> None:
    position = small.lookup("BRAF", "V600R")
    assert position.match == "position"
    assert {i.variant for i in position.items} == {"V600E", "V600", "V600K"}
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


def test_limit_keeps_the_total(small: KnowledgeBase) -> None:
    match = small.lookup("BRAF", "V600E", limit=1)
    assert match.total == 3 and [i.evidence_id for i in match.items] == ["3"]
    assert small.lookup("BRAF", "V600E", limit=0).items == []


def test_empty_knowledge_base(tmp_path: Path) -> None:
    empty = KnowledgeBase.from_data_home(tmp_path)  # no CIViC release there
    assert len(empty) == 0 and empty.source is None
    assert empty.lookup("BRAF", "V600E").match == "none"


@pytest.mark.integration
def test_real_civic(shared_data: Path) -> None:
    kb = KnowledgeBase.from_path(shared_data / "civic")
    assert len(kb) == 3650
    for spelling in ("V600E", "Val600Glu", "p.V600E"):
        match = kb.lookup("BRAF", spelling)
        assert match.match == "exact" and match.total > 50
        assert {i.variant for i in match.items} <= {
            "V600E",
            "V600E and V600M",
            "V600E/K",
            "V600E AMPLIFICATION",
        }
        levels = [EVIDENCE_LEVELS.index(i.evidence_level) for i in match.items]
        assert levels == sorted(levels) and match.items[0].evidence_level == "A"
    assert len(kb.lookup("BRAF", "V600E").items) == 50  # default limit

    position = kb.lookup("BRAF", "V600R")  # not in CIViC: other changes at residue 600
    assert position.match == "position"
    assert {"V600E", "V600"} <= {i.variant for i in position.items}
    assert kb.lookup("ALK", "EML4-ALK").match == "exact"
    assert kb.lookup("NOTAGENE", "V600E").match == "none"
    assert all(
        i.civic_url and i.civic_url.startswith("https://civicdb.org/")
        for i in kb.lookup("EGFR", "L858R").items
    )
