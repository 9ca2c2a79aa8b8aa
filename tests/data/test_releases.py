"""Comparing CIViC releases: on small hand-made items, and on the real 2021 -> 2024 pair."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from oncoclass.data.civic import CivicEvidence, ProfileComponent, parse_profile
from oncoclass.data.releases import compare_evidence, compare_releases


def _ev(evidence_id: str, **fields: object) -> CivicEvidence:
    base = CivicEvidence(
        evidence_id=evidence_id,
        molecular_profile="ALK EML4-ALK",
        molecular_profile_id="",
        components=(ProfileComponent("ALK", "EML4-ALK"),),
        disease="Lung Non-small Cell Carcinoma",
        doid="3908",
        therapies=("Crizotinib",),
        therapy_interaction_type="",
        evidence_type="Predictive",
        evidence_direction="Supports",
        evidence_level="B",
        significance="Sensitivity/Response",
        evidence_statement="Crizotinib  works.",
        citation_id="1",
        source_type="PubMed",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_changes_are_named_and_renotation_is_not_a_change() -> None:
    old = [
        _ev("1"),
        _ev("2"),
        _ev("3", evidence_level="C"),
        _ev("4"),
        _ev("5", significance="N/A"),
    ]
    new = [
        # The current notation of the same fusion, and re-spaced text: unchanged.
        _ev(
            "1",
            molecular_profile="ALK EML4::ALK",
            components=parse_profile("ALK EML4::ALK"),
            evidence_statement="Crizotinib works.",
        ),
        _ev("2", significance="Resistance", therapies=("Alectinib", "Crizotinib")),
        _ev("3", evidence_level="B"),
        _ev(
            "4",
            molecular_profile="ALK EML4::ALK AND ALK L1196M",
            components=parse_profile("ALK EML4::ALK AND ALK L1196M"),
        ),
        _ev("6", evidence_type="Oncogenic", significance="Oncogenicity"),
        _ev("7", evidence_type="Oncogenic", significance="Oncogenicity"),
    ]
    diff = compare_evidence(old, new, min_support=2)
    assert diff.new == ("6", "7") and diff.withdrawn == ("5",) and diff.unchanged == 1
    changes = {c.evidence_id: c for c in diff.changed}
    assert changes.keys() == {"2", "3", "4"}
    assert changes["2"].fields == ("label", "therapies")
    assert changes["2"].old["label"] == "Predictive: Sensitivity/Response"
    assert changes["2"].new["therapies"] == "Alectinib, Crizotinib"
    assert changes["3"].fields == ("evidence_level",) and changes["3"].new == {
        "evidence_level": "B"
    }
    assert changes["4"].new["molecular_profile"] == "ALK EML4::ALK AND ALK L1196M"
    assert diff.change_counts == Counter(
        label=1, therapies=1, evidence_level=1, molecular_profile=1
    )
    assert diff.new_classes == ("Oncogenic: Oncogenicity",)
    assert diff.new_classes_overall == ("Oncogenic: Oncogenicity", "Predictive: Resistance")
    shift = {s.label: s for s in diff.class_shift}
    assert (shift["Predictive: N/A"].old_count, shift["Predictive: N/A"].new_count) == (1, 0)
    assert shift["Predictive: Sensitivity/Response"].old_count == 4
    assert shift["Predictive: Sensitivity/Response"].new_share == pytest.approx(3 / 6)
    assert [s.id for s in diff.new_samples] == ["6", "7"]
    assert diff.to_dict()["new_samples"] == ["6", "7"] and diff.summary()


@pytest.mark.integration
def test_real_2021_to_2024(shared_data: Path) -> None:
    diff = compare_releases(shared_data / "civic", shared_data / "civic_2024")
    assert (diff.old_release, diff.new_release) == ("01-Aug-2021", "01-Aug-2024")
    assert (diff.old_format, diff.new_format) == ("2021", "current")
    assert (diff.old_total, diff.new_total) == (3650, 4375)
    assert len(diff.new) == 755 and len(diff.withdrawn) == 30
    assert len(diff.changed) + diff.unchanged == 3620
    assert "Oncogenic: Oncogenicity" in diff.new_classes
    assert "Predisposing: Predisposition" in diff.new_classes_overall
    shift = {s.label: s for s in diff.class_shift}
    assert shift["Predictive: Sensitivity/Response"].new_count == 1602
    assert sum(s.new_count for s in diff.class_shift) == 4375
    assert sum(s.new_share for s in diff.class_shift) == pytest.approx(1)
    # the new items, as samples of the 2024 task (its 11 classes with >= 30 items)
    assert 0 < len(diff.new_samples) <= 755
    assert {s.evidence_id for s in diff.new_samples} <= set(diff.new)
    assert all(s.label and s.text for s in diff.new_samples)
    # CIViC's new notation is not a change; a new variant is
    changes = {c.evidence_id: c for c in diff.changed}
    for renotated in ("144", "73", "92"):  # FGFR3-BAIAP2L1, "V600E and AMPLIFICATION", ...
        assert "molecular_profile" not in getattr(changes.get(renotated), "fields", ())
    assert changes["91"].old["molecular_profile"] == "BRAF V600E"
    assert changes["91"].new["molecular_profile"] == "KRAS G12D"
