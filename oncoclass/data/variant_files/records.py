"""What the variant-file reader yields: one record per (variant allele, sample), or a problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from oncoclass.features.genomic import gene_key, variation_key


class FileFormat(StrEnum):
    VCF = "vcf"  # VCF or BCF annotated by Ensembl VEP (INFO CSQ) or SnpEff (INFO ANN)
    MAF = "maf"  # Mutation Annotation Format: tab-separated, Hugo_Symbol, HGVSp_Short, ...
    TABLE = "table"  # a CSV/TSV table made by people: gene, variation, text, disease, ...


@dataclass(frozen=True, slots=True)
class VariantRecord:
    """One variant allele of one sample, whatever file it came from.

    ``variation`` is the protein change in the short one-letter form the OncoClass parser reads
    (``V600E``, ``Q61*``, ``E746_A750del``, ``X2151_splice``); for a canonical splice-site variant
    without a protein change it is the cDNA change (``c.6453-1G>C``), which the parser types as a
    splice variant. ``coding`` is False when the variant changes no protein (intronic, intergenic,
    UTR, ...): such records keep an empty ``variation`` (and, when intergenic, an empty ``gene``)
    and a ``note`` saying why, so that nothing is dropped. ``line`` is the 1-based line of the file
    the record comes from (in a BCF, which has no lines, its record number). ``raw`` holds the
    source's own fields (the row of a table; the chosen annotation and FILTER/ID/QUAL of a VCF
    record) for display, never for logic.
    """

    line: int
    sample: str
    gene: str
    variation: str
    text: str = ""
    disease: str = ""
    drugs: tuple[str, ...] = ()
    consequence: str = ""
    transcript: str = ""
    chrom: str = ""
    pos: int | None = None
    ref: str = ""
    alt: str = ""
    genome_build: str = ""
    coding: bool = True
    note: str = ""
    source_format: str = ""
    raw: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row (or VCF allele) that could not become a record; the caller reports it.

    ``field`` names the culprit (``gene``, ``variation``, ``text``, ``GT``, ``CSQ``, ...) or is
    None for the row as a whole; ``gene``, ``variation`` and ``sample`` echo what was read, so that
    the user can find the row.
    """

    line: int
    field: str | None
    message: str
    gene: str = ""
    variation: str = ""
    sample: str = ""


def variant_key(record: VariantRecord) -> tuple[str, str]:
    """The grouping key of a record: the same variant in several samples shares it.

    (gene, canonical variation) for protein changes, so that ``V600E``, ``Val600Glu`` and
    ``p.V600E`` match; (gene, ``chrom:pos:ref>alt``) for non-coding records, which have no
    variation to compare.
    """
    if record.variation:
        return gene_key(record.gene), variation_key(record.gene, record.variation)
    return gene_key(record.gene), f"{record.chrom}:{record.pos}:{record.ref}>{record.alt}"
