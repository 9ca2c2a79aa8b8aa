"""Variation parsing: every documented shape, the never-raise contract, and real-data coverage."""

from __future__ import annotations

import csv
import random
import string
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from oncoclass.features.variation import (
    FEATURE_NAMES,
    ONE_TO_THREE,
    ParsedVariation,
    VariationType,
    parse_variation,
    three_to_one,
)

T = VariationType


@pytest.mark.parametrize(
    ("text", "vtype", "normalized", "ref", "position", "alt"),
    [
        ("R273C", T.MISSENSE, "R273C", "R", 273, "C"),
        ("Arg273Cys", T.MISSENSE, "R273C", "R", 273, "C"),
        ("p.R273C", T.MISSENSE, "R273C", "R", 273, "C"),
        ("p.Arg273Cys", T.MISSENSE, "R273C", "R", 273, "C"),
        ("  r273c ", T.MISSENSE, "R273C", "R", 273, "C"),
        ("Arg 1306 Trp", T.MISSENSE, "R1306W", "R", 1306, "W"),
        ("arginine 150 proline", T.MISSENSE, "R150P", "R", 150, "P"),
        ("Phe-->Ser at codon 15", T.MISSENSE, "F15S", "F", 15, "S"),
        ("E186K (c.556G>A)", T.MISSENSE, "E186K", "E", 186, "K"),
        ("V600E/K", T.MISSENSE, "V600E/K", "V", 600, "E"),
        ("*214C", T.MISSENSE, "*214C", "*", 214, "C"),
        ("W802*", T.NONSENSE, "W802*", "W", 802, "*"),
        ("W802X", T.NONSENSE, "W802*", "W", 802, "*"),
        ("Trp802Ter", T.NONSENSE, "W802*", "W", 802, "*"),
        ("p.Q61*", T.NONSENSE, "Q61*", "Q", 61, "*"),
        ("S133stop", T.NONSENSE, "S133*", "S", 133, "*"),
        ("p.G12=", T.SYNONYMOUS, "G12=", "G", 12, "G"),
        ("Gln193Gln", T.SYNONYMOUS, "Q193=", "Q", 193, "Q"),
        ("K1423fs", T.FRAMESHIFT, "K1423fs", "K", 1423, None),
        ("P780fs*21", T.FRAMESHIFT, "P780fs*21", "P", 780, None),
        ("p.K1423Rfs*5", T.FRAMESHIFT, "K1423Rfs*5", "K", 1423, "R"),
        ("S70fsX93", T.FRAMESHIFT, "S70fs*93", "S", 70, None),
        ("E55RfsTer11", T.FRAMESHIFT, "E55Rfs*11", "E", 55, "R"),
        ("E746_A750del", T.INFRAME_DELETION, "E746_A750del", "E", 746, None),
        ("L747del", T.INFRAME_DELETION, "L747del", "L", 747, None),
        ("D842_H845DELDIMH", T.INFRAME_DELETION, "D842_H845del", "D", 842, None),
        ("A763_Y764insFQEA", T.INFRAME_INSERTION, "A763_Y764insFQEA", "A", 763, "FQEA"),
        ("A775_G776dup", T.DUPLICATION, "A775_G776dup", "A", 775, None),
        ("E746_T751delinsA", T.DELINS, "E746_T751delinsA", "E", 746, "A"),
        ("M774DELINSWLV", T.DELINS, "M774delinsWLV", "M", 774, "WLV"),
        ("K558NP", T.DELINS, "K558delinsNP", "K", 558, "NP"),
        ("X963_splice", T.SPLICE, "X963_splice", "X", 963, None),
        ("p.X2151_splice", T.SPLICE, "X2151_splice", "X", 2151, None),
        ("V600", T.WILDCARD, "V600", "V", 600, None),
        ("G12", T.WILDCARD, "G12", "G", 12, None),
        ("T790", T.WILDCARD, "T790", "T", 790, None),
        ("M1? (c.3G>A)", T.WILDCARD, "M1", "M", 1, None),
        ("422_605trunc", T.TRUNCATING, "422_605trunc", None, 422, None),
    ],
)
def test_protein_changes(
    text: str, vtype: VariationType, normalized: str, ref: str, position: int, alt: str | None
) -> None:
    p = parse_variation(text)
    assert (p.type, p.normalized, p.ref, p.position, p.alt) == (
        vtype,
        normalized,
        ref,
        position,
        alt,
    )
    assert p.raw == text
    assert p.is_known_shape


def test_ranges_keep_their_end() -> None:
    p = parse_variation("E746_A750del")
    assert (p.position, p.end_position) == (746, 750)
    assert parse_variation("R273C").end_position is None


@pytest.mark.parametrize(
    ("text", "vtype", "normalized"),
    [
        ("Splice Site", T.SPLICE, "Splice"),
        ("c.2251-1G>A", T.SPLICE, "c.2251-1G>A"),
        ("IVS2+1G>A", T.SPLICE, "IVS2+1G>A"),
        ("Splicing alteration (c.464-1G>A)", T.SPLICE, "Splicing alteration"),
        ("Frameshift", T.FRAMESHIFT, "Frameshift"),
        ("del", T.INFRAME_DELETION, "del"),
        ("Amplification", T.AMPLIFICATION, "Amplification"),
        ("AMPLIFICATION", T.AMPLIFICATION, "Amplification"),
        ("Deletion", T.DELETION, "Deletion"),
        ("Copy Number Loss", T.DELETION, "Deletion"),
        ("Overexpression", T.OVEREXPRESSION, "Overexpression"),
        ("OVEREXPRESSION", T.OVEREXPRESSION, "Overexpression"),
        ("Loss", T.EXPRESSION, "Loss"),
        ("Underexpression", T.EXPRESSION, "Underexpression"),
        ("Expression", T.EXPRESSION, "Expression"),
        ("Loss-of-function", T.MUTATION, "Loss-of-function"),
        ("Loss of Function", T.MUTATION, "Loss-of-function"),
        ("Gain-of-function", T.MUTATION, "Gain-of-function"),
        ("Mutation", T.MUTATION, "Mutations"),
        ("Mutations", T.MUTATION, "Mutations"),
        ("Promoter Mutations", T.PROMOTER, "Promoter Mutations"),
        ("TERT promoter", T.PROMOTER, "TERT promoter"),
        ("Promoter Hypermethylation", T.PROMOTER, "Promoter Hypermethylation"),
        ("Truncating Mutations", T.TRUNCATING, "Truncating Mutations"),
        ("TRUNCATING MUTATION", T.TRUNCATING, "Truncating Mutations"),
        ("FLT3 internal tandem duplications", T.DUPLICATION, "FLT3 internal tandem duplications"),
        ("Fusions", T.FUSION, "Fusions"),
    ],
)
def test_keyword_shapes(text: str, vtype: VariationType, normalized: str) -> None:
    p = parse_variation(text)
    assert (p.type, p.normalized) == (vtype, normalized)
    assert p.position is None


@pytest.mark.parametrize(
    ("text", "normalized", "exon"),
    [
        ("Exon 19 Deletion", "Exon 19 Deletion", 19),
        ("Exon 19 deletion", "Exon 19 Deletion", 19),
        ("EXON 19 DELETION", "Exon 19 Deletion", 19),
        ("EXON 14 SKIPPING MUTATION", "Exon 14 Skipping Mutation", 14),
        ("Exon 20 insertions", "Exon 20 Insertions", 20),
        ("Exon 20 insertion", "Exon 20 Insertion", 20),
        ("EXON 2-3 DELETION", "Exon 2-3 Deletion", 2),
    ],
)
def test_exon_events(text: str, normalized: str, exon: int) -> None:
    p = parse_variation(text)
    assert (p.type, p.normalized, p.exon) == (T.EXON, normalized, exon)


@pytest.mark.parametrize(
    ("text", "normalized", "partners"),
    [
        ("EML4-ALK Fusion", "EML4-ALK Fusion", ("EML4", "ALK")),
        ("BCR-ABL", "BCR-ABL Fusion", ("BCR", "ABL")),
        ("ALK Fusion", "ALK Fusion", ("ALK",)),
        ("ALK FUSIONS", "ALK Fusion", ("ALK",)),
        ("EWSR1-FLI1 Fusion", "EWSR1-FLI1 Fusion", ("EWSR1", "FLI1")),
        ("FGFR3-TACC3 Fusion", "FGFR3-TACC3 Fusion", ("FGFR3", "TACC3")),
        ("FGFR3 - BAIAP2L1 Fusion", "FGFR3-BAIAP2L1 Fusion", ("FGFR3", "BAIAP2L1")),
        ("TRB-NKX2-1 Fusion", "TRB-NKX2-1 Fusion", ("TRB", "NKX2-1")),
        ("ERLIN2?FGFR1 Fusion", "ERLIN2-FGFR1 Fusion", ("ERLIN2", "FGFR1")),
        ("?-ALK", "ALK Fusion", ("ALK",)),
        ("EML4-ALK E20;A20", "EML4-ALK Fusion", ("EML4", "ALK")),
    ],
)
def test_fusions(text: str, normalized: str, partners: tuple[str, ...]) -> None:
    p = parse_variation(text)
    assert (p.type, p.normalized, p.partners) == (T.FUSION, normalized, partners)


def test_bare_fusion_takes_the_gene_as_partner() -> None:
    assert parse_variation("Fusions", gene="ALK").partners == ("ALK",)
    assert parse_variation("Fusions").partners == ()


def test_point_change_within_a_fusion_keeps_the_partners() -> None:
    p = parse_variation("BCR-ABL T315I")
    assert (p.type, p.normalized, p.partners) == (T.MISSENSE, "T315I", ("BCR", "ABL"))
    p = parse_variation("ALK FUSION G1202R")
    assert (p.type, p.normalized, p.partners) == (T.MISSENSE, "G1202R", ("ALK",))


def test_gene_in_front_of_the_change() -> None:
    assert parse_variation("JAK2 F694L").normalized == "F694L"
    p = parse_variation("NT5C2 MUTATION", gene="NT5C2")
    assert (p.type, p.normalized) == (T.MUTATION, "Mutations")


def test_compound_takes_the_first_part() -> None:
    p = parse_variation("V600E and AMPLIFICATION")
    assert (p.type, p.normalized, p.position) == (T.MISSENSE, "V600E and Amplification", 600)
    assert [c.variation.normalized for c in p.components] == ["V600E", "Amplification"]
    assert [c.operator for c in p.components] == ["", "and"]


@pytest.mark.parametrize(
    ("text", "normalized", "partners", "exon"),
    [
        ("EML4::ALK", "EML4-ALK Fusion", ("EML4", "ALK"), None),
        ("BCR::ABL1", "BCR-ABL1 Fusion", ("BCR", "ABL1"), None),
        ("NKX2-1::TRB", "NKX2-1-TRB Fusion", ("NKX2-1", "TRB"), None),
        ("EWSR1::FLI1 e7-e6", "EWSR1-FLI1 Fusion e7-e6", ("EWSR1", "FLI1"), 7),
        ("EML4::ALK e20-e20", "EML4-ALK Fusion e20-e20", ("EML4", "ALK"), 20),
    ],
)
def test_fusions_in_the_current_notation(
    text: str, normalized: str, partners: tuple[str, ...], exon: int | None
) -> None:
    p = parse_variation(text)
    assert (p.type, p.normalized, p.partners, p.exon) == (T.FUSION, normalized, partners, exon)
    assert "::".join(partners) in p.aliases()


def test_both_fusion_notations_compare_equal() -> None:
    assert parse_variation("EML4::ALK").normalized == parse_variation("EML4-ALK").normalized
    p = parse_variation("BCR::ABL1 T315I")
    assert (p.type, p.normalized, p.partners) == (T.MISSENSE, "T315I", ("BCR", "ABL1"))


@pytest.mark.parametrize(
    ("text", "gene", "vtype", "normalized", "operators", "negated"),
    [
        ("V600E AND Amplification", "BRAF", T.MISSENSE, "V600E and Amplification",
         ["", "and"], [False, False]),
        ("L858R OR Exon 19 Deletion", "EGFR", T.MISSENSE, "L858R or Exon 19 Deletion",
         ["", "or"], [False, False]),
        ("EML4::ALK AND L1196M", "ALK", T.FUSION, "EML4-ALK Fusion and L1196M",
         ["", "and"], [False, False]),
        ("Amplification AND (V600E OR V600K)", "BRAF", T.AMPLIFICATION,
         "Amplification and (V600E or V600K)", ["", "and", "or"], [False] * 3),
        ("NOT D816V", "KIT", T.OTHER, "not D816V", [""], [True]),
        ("NOT D816V AND Amplification", "KIT", T.AMPLIFICATION, "not D816V and Amplification",
         ["", "and"], [True, False]),
        ("NOT (V600E OR V600K)", "BRAF", T.OTHER, "(not V600E or not V600K)", ["", "or"],
         [True, True]),
        ("Splice Site (c.3028G>A) AND Amplification", "MET", T.SPLICE, "Splice and Amplification",
         ["", "and"], [False, False]),
    ],
)  # fmt: skip
def test_compounds_parse_component_by_component(
    text: str,
    gene: str,
    vtype: VariationType,
    normalized: str,
    operators: list[str],
    negated: list[bool],
) -> None:
    p = parse_variation(text, gene)
    assert (p.type, p.normalized, p.raw) == (vtype, normalized, text)
    assert [c.operator for c in p.components] == operators
    assert [c.negated for c in p.components] == negated
    assert p.is_compound
    assert len(p.present()) == negated.count(False)


def test_compound_components_keep_their_structure() -> None:
    p = parse_variation("EML4::ALK AND L1196M", "ALK")
    assert p.partners == ("EML4", "ALK") and p.position is None  # the fusion sets the type
    assert p.components[1].variation.position == 1196
    groups = parse_variation("Amplification AND (V600E OR V600K)", "BRAF").components
    assert [(c.opens, c.closes) for c in groups] == [(0, 0), (1, 0), (0, 1)]
    other_gene = parse_variation("V600E AND KRAS G12D", "BRAF")
    assert other_gene.normalized == "V600E and KRAS G12D"
    assert [(c.gene, c.variation.normalized) for c in other_gene.components] == [
        (None, "V600E"),
        ("KRAS", "G12D"),
    ]
    assert parse_variation("V600E OR NRAS Mutation", "BRAF").components[1].gene == "NRAS"


def test_a_negated_variant_is_never_described() -> None:
    p = parse_variation("NOT D816V", "KIT")
    assert p.present() == () and p.position is None and not p.is_known_shape
    assert "D816V" not in p.aliases()
    named = dict(zip(FEATURE_NAMES, p.features(), strict=True))
    assert named["type_other"] == 1 and named["has_position"] == 0
    assert parse_variation("V600E", "BRAF").present()[0].normalized == "V600E"


def test_compound_aliases_spell_each_present_component() -> None:
    aliases = parse_variation("V600E AND Amplification", "BRAF").aliases()
    assert {"V600E", "Val600Glu", "Amplification"} <= set(aliases)


def test_equivalent_spellings_share_one_normalized_form() -> None:
    spellings = ["V600E", "Val600Glu", "p.V600E", "p.Val600Glu", "v600e", "p.(V600E)"]
    assert {parse_variation(s).normalized for s in spellings} == {"V600E"}


@pytest.mark.parametrize(
    "text", ["EGFRvIII", "Wildtype", "rs681673", "c.1517A>G", "hello world", "A-B", "???", "12"]
)
def test_unknown_shapes_are_other(text: str) -> None:
    p = parse_variation(text)
    assert p.type is T.OTHER
    assert not p.is_known_shape
    assert p.normalized == text.strip()


def test_aliases() -> None:
    assert parse_variation("R273C").aliases() == [
        "R273C", "Arg273Cys", "p.R273C", "p.Arg273Cys", "R273",
    ]  # fmt: skip
    nonsense = parse_variation("W802*").aliases()
    assert nonsense[:4] == ["W802*", "Trp802Ter", "Trp802*", "W802X"]
    assert {"p.W802*", "p.Trp802Ter"} <= set(nonsense)
    assert parse_variation("V600E/K").aliases()[:5] == [
        "V600E/K", "V600E", "Val600Glu", "V600K", "Val600Lys",
    ]  # fmt: skip
    assert parse_variation("Amplification").aliases() == ["Amplification"]
    assert parse_variation("AMPLIFICATION").aliases() == ["Amplification"]  # case-insensitive
    assert "EML4-ALK" in parse_variation("EML4-ALK Fusion").aliases()
    assert parse_variation("").aliases() == []


def test_features_have_a_fixed_documented_length() -> None:
    for text in ["R273C", "W802*", "Amplification", "", "EML4-ALK Fusion", "nonsense text!"]:
        f = parse_variation(text).features()
        assert f.dtype == np.float32
        assert f.shape == (len(FEATURE_NAMES),)
        assert np.all(np.isfinite(f)) and np.all(np.abs(f) <= 2)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_feature_values() -> None:
    named = dict(zip(FEATURE_NAMES, parse_variation("R273C").features(), strict=True))
    assert named["type_missense"] == 1 and named["type_nonsense"] == 0
    assert named["has_position"] == 1
    assert named["log_position"] == pytest.approx(np.log1p(273) / 10)
    assert named["ref_positive"] == 1 and named["alt_special"] == 1
    assert named["charge_change"] == pytest.approx(-0.5)
    stop = dict(zip(FEATURE_NAMES, parse_variation("W802*").features(), strict=True))
    assert stop["is_stop_gain"] == 1 and stop["alt_stop"] == 1
    exon = dict(zip(FEATURE_NAMES, parse_variation("Exon 19 Deletion").features(), strict=True))
    assert exon["exon_number"] == pytest.approx(19 / 30) and exon["has_position"] == 0
    fs = dict(zip(FEATURE_NAMES, parse_variation("K1423fs").features(), strict=True))
    assert fs["is_frameshift"] == 1


def test_amino_acid_tables() -> None:
    assert three_to_one("Arg") == "R"
    assert three_to_one("TRP") == "W"
    assert three_to_one("Ter") == "*"
    assert three_to_one("Xyz") is None
    assert len(ONE_TO_THREE) == 21
    assert all(three_to_one(three) == one for one, three in ONE_TO_THREE.items())


def test_parsed_variation_is_frozen() -> None:
    p = parse_variation("R273C")
    with pytest.raises(AttributeError):
        p.position = 1  # type: ignore[misc]
    assert isinstance(p, ParsedVariation)


def test_never_raises_on_random_strings() -> None:
    rng = random.Random(20240601)
    alphabet = string.printable + "αβ→−–*?_>()=/é\u00a0"
    pieces = [
        "R273C",
        "fs",
        "del",
        "ins",
        "_",
        "Fusion",
        "-",
        "Exon ",
        "p.",
        "c.",
        "*",
        "X",
        "9" * 9,
    ]
    samples = ["", " ", "\n", "9" * 5000, "A" + "9" * 5000 + "C", "-" * 3000 + "x", "A-" * 2000]
    samples += ["BCR-ABL " * 1000, "ALK " * 2000 + "x", "V600E and " * 1000, "ALA" * 2000 + "!"]
    for _ in range(400):
        n = rng.randint(1, 40)
        samples.append("".join(rng.choice(alphabet) for _ in range(n)))
        samples.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))))
    for text in samples:
        p = parse_variation(text, gene=rng.choice([None, "", "ALK", "TP53"]))  # no exception
        assert isinstance(p.type, VariationType)
        assert p.features().shape == (len(FEATURE_NAMES),)
        assert isinstance(p.aliases(), list)


# --- real data ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_mskcc_variations_coverage(shared_data: Path) -> None:
    with open(shared_data / "mskcc" / "training_variants", newline="") as f:
        rows = list(csv.DictReader(f))
    parsed = [parse_variation(r["Variation"], r["Gene"]) for r in rows]
    known = sum(p.is_known_shape for p in parsed) / len(parsed)
    others = Counter(p.raw for p in parsed if not p.is_known_shape)
    print(f"MSKCC: {known:.1%} of {len(parsed)} known; OTHER: {others.most_common(10)}")
    assert known >= 0.85


@pytest.mark.integration
def test_civic_variants_coverage(shared_data: Path) -> None:
    csv.field_size_limit(1 << 30)
    path = shared_data / "civic" / "01-Aug-2021-ClinicalEvidenceSummaries.tsv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    parsed = [parse_variation(r["variant"], r["gene"]) for r in rows]
    known = sum(p.is_known_shape for p in parsed) / len(parsed)
    print(f"CIViC: {known:.1%} of {len(parsed)} evidence items have a known variant shape")
    assert known >= 0.85


@pytest.mark.integration
def test_tmvar_protein_substitutions(shared_data: Path) -> None:
    """The tmVar corpus normalises protein substitutions as ``p|SUB|R|273|C`` (X = stop)."""
    total = agree = 0
    with open(shared_data / "tmvar" / "train.txt", encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6 or fields[4] != "ProteinMutation":
                continue
            norm = fields[5].split("|")
            if len(norm) != 5 or norm[:2] != ["p", "SUB"]:
                continue
            try:
                position = int(norm[3])
            except ValueError:  # "Val-->Ala": no position to check
                continue
            p = parse_variation(fields[3])
            expected = (norm[2], position, "*" if norm[4] == "X" else norm[4])
            total += 1
            agree += (p.ref, p.position, p.alt) == expected
    print(f"tmVar: {agree}/{total} protein substitutions parsed to the annotated ref/pos/alt")
    assert total > 300
    assert agree / total >= 0.80
