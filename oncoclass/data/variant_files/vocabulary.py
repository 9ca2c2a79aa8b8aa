"""Fixed vocabularies: consequence terms with their severity, MAF classifications, genome builds."""

from __future__ import annotations

import re

#: Ensembl's consequence terms, most severe first (the order VEP uses for its "most severe
#: consequence": https://www.ensembl.org/info/genome/variation/prediction/predicted_data.html).
CONSEQUENCE_SEVERITY: tuple[str, ...] = (
    "transcript_ablation",
    "splice_acceptor_variant",
    "splice_donor_variant",
    "stop_gained",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "transcript_amplification",
    "feature_elongation",
    "feature_truncation",
    "inframe_insertion",
    "inframe_deletion",
    "missense_variant",
    "protein_altering_variant",
    "splice_donor_5th_base_variant",
    "splice_region_variant",
    "splice_donor_region_variant",
    "splice_polypyrimidine_tract_variant",
    "incomplete_terminal_codon_variant",
    "start_retained_variant",
    "stop_retained_variant",
    "synonymous_variant",
    "coding_sequence_variant",
    "mature_miRNA_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "NMD_transcript_variant",
    "non_coding_transcript_variant",
    "coding_transcript_variant",
    "upstream_gene_variant",
    "downstream_gene_variant",
    "TFBS_ablation",
    "TFBS_amplification",
    "TF_binding_site_variant",
    "regulatory_region_ablation",
    "regulatory_region_amplification",
    "regulatory_region_variant",
    "intergenic_variant",
    "sequence_variant",
)
_RANK = {term: rank for rank, term in enumerate(CONSEQUENCE_SEVERITY)}
#: Canonical splice-site terms: no protein change in HGVSp, but the cDNA change says "splice".
SPLICE_SITE = frozenset({"splice_acceptor_variant", "splice_donor_variant"})
#: SnpEff terms beyond Ensembl's (accepted as consequences, ranked after them).
_SNPEFF_TERMS = frozenset(
    {
        "conservative_inframe_deletion",
        "conservative_inframe_insertion",
        "disruptive_inframe_deletion",
        "disruptive_inframe_insertion",
        "exon_loss_variant",
        "gene_fusion",
        "bidirectional_gene_fusion",
        "initiator_codon_variant",
        "intragenic_variant",
        "5_prime_UTR_premature_start_codon_gain_variant",
        "non_coding_exon_variant",
        "splice_branch_variant",
        "structural_interaction_variant",
        "protein_protein_contact",
        "rare_amino_acid_variant",
        "stop_retained_variant",
    }
)
#: MAF ``Variant_Classification`` values (GDC MAF specification).
MAF_CLASSIFICATIONS = frozenset(
    {
        "Frame_Shift_Del",
        "Frame_Shift_Ins",
        "In_Frame_Del",
        "In_Frame_Ins",
        "Missense_Mutation",
        "Nonsense_Mutation",
        "Silent",
        "Splice_Site",
        "Splice_Region",
        "Translation_Start_Site",
        "Nonstop_Mutation",
        "3'UTR",
        "3'Flank",
        "5'UTR",
        "5'Flank",
        "IGR",
        "Intron",
        "RNA",
        "Targeted_Region",
        "De_novo_Start_InFrame",
        "De_novo_Start_OutOfFrame",
        "Unknown",
    }
)


def severity(consequence: str) -> int:
    """Rank of an ``&``-joined consequence (its most severe term): 0 is the most severe;
    unknown terms rank after every known one."""
    return min((_RANK.get(t, len(_RANK)) for t in consequence.split("&")), default=len(_RANK))


def is_consequence(value: str) -> bool:
    """A MAF classification, or Sequence Ontology terms joined by ``&`` or ``,``."""
    if value in MAF_CLASSIFICATIONS:
        return True
    terms = re.split(r"[&,]", value)
    return all(t in _RANK or t in _SNPEFF_TERMS for t in terms)


_BUILD = re.compile(r"(?<![A-Za-z0-9])(GRCh3[78]|hg19|hg38|hs37d5|b37|37|38)(?![0-9])", re.I)
_BUILD_NAMES = {"hg19": "GRCh37", "hs37d5": "GRCh37", "b37": "GRCh37", "37": "GRCh37"}
_BUILD_NAMES |= {"hg38": "GRCh38", "38": "GRCh38", "grch37": "GRCh37", "grch38": "GRCh38"}


def normalize_build(value: str) -> str:
    """``GRCh37``/``GRCh38`` for the usual spellings (``hg19``, ``37``, ``GRCh38.p13``, ...);
    anything else as given."""
    match = _BUILD.search(value)
    return _BUILD_NAMES[match.group(1).lower()] if match else value.strip()


def find_build(text: str) -> str:
    """The build named in free text such as a VCF header line (``GRCh37-lite.fa.gz``,
    ``95_GRCh37``, ``SnpEff ... GRCh37.75``); bare numbers do not count there."""
    match = re.search(r"(?<![A-Za-z0-9])(GRCh3[78]|hg19|hg38|hs37d5|b37)(?![0-9])", text, re.I)
    return _BUILD_NAMES[match.group(1).lower()] if match else ""
