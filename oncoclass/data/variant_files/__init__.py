"""The variant files labs send, read as a stream of one record type.

``read_variants(path)`` yields a :class:`VariantRecord` per (variant allele, sample), or a
:class:`RowProblem` for a row that cannot be one, from:

* **VCF** (plain, gzip/bgzip or BCF) annotated by Ensembl VEP (INFO ``CSQ``) or SnpEff (INFO
  ``ANN``), read with pysam;
* **MAF** (tab-separated, ``#`` comment lines first, ``Hugo_Symbol``, ``HGVSp_Short``,
  ``Tumor_Sample_Barcode``, ...);
* **CSV/TSV tables** made by people: ``gene``, ``variation`` and optional ``text``, ``disease``,
  ``drugs``, ``sample`` columns, or their synonyms (:data:`COLUMN_SYNONYMS`).

The format is told by the content, whatever the file's name: ``##fileformat=VCF`` (or a
``#CHROM`` line, or BCF) is a VCF; a tab-separated header with a ``Hugo_Symbol`` column is a
MAF; anything else is a table. ``file_format=`` overrides it.

Protein changes are given in the short one-letter form the OncoClass parser reads: HGVSp such as
``ENSP00000288602.6:p.Val600Glu`` or ``p.(Arg273Cys)`` becomes ``V600E`` / ``R273C`` (see
:func:`short_protein_change`). A variant that changes no protein is kept, never dropped, with
``coding=False``, an empty ``variation`` and a ``note`` ("intron_variant: no protein change").
A canonical splice-site variant, which VEP and SnpEff give no protein change, gets its cDNA change
(``c.6453-1G>C``) instead, which the parser types as a splice variant.

**Transcript rule** (one annotation entry per variant allele; only the entries of that allele
count, so multi-allelic sites are split with their own annotations):

* VEP: the entries flagged ``PICK=1``; if none, those with ``MANE_SELECT`` (or ``MANE``); if none,
  those with ``CANONICAL=YES``; if none, all. Among them: the most severe consequence with a
  protein change (HGVSp), else the most severe consequence; ties go to the first in the file.
  Severity follows Ensembl's order (:data:`CONSEQUENCE_SEVERITY`, most severe first):
  transcript_ablation, splice_acceptor_variant, splice_donor_variant, stop_gained,
  frameshift_variant, stop_lost, start_lost, transcript_amplification, feature_elongation,
  feature_truncation, inframe_insertion, inframe_deletion, missense_variant,
  protein_altering_variant, splice_donor_5th_base_variant, splice_region_variant,
  splice_donor_region_variant, splice_polypyrimidine_tract_variant,
  incomplete_terminal_codon_variant, start_retained_variant, stop_retained_variant,
  synonymous_variant, coding_sequence_variant, mature_miRNA_variant, 5_prime_UTR_variant,
  3_prime_UTR_variant, non_coding_transcript_exon_variant, intron_variant, NMD_transcript_variant,
  non_coding_transcript_variant, coding_transcript_variant, upstream_gene_variant,
  downstream_gene_variant, TFBS_ablation, TFBS_amplification, TF_binding_site_variant,
  regulatory_region_ablation, regulatory_region_amplification, regulatory_region_variant,
  intergenic_variant, sequence_variant. An entry with several terms (``a&b``) ranks as its most
  severe; unknown terms rank last.
* SnpEff (which sorts its entries by impact): the first entry of the allele with an ``HGVS.p``,
  else its first entry.
* An allele's entries are found by VEP's ``ALLELE_NUM`` when present, else by VEP's allele
  notation (at an indel site whose alleles share their first base it is dropped, ``-`` for
  nothing: ``T>TGCT`` is ``GCT``, ``TA>T`` is ``-``). Only when no entry of the record is in
  that notation are VEP's ``--minimal`` notation, then the VCF allele (what SnpEff writes), tried.

**Samples.** One record per sample carrying the allele. A MAF row's sample is its
``Tumor_Sample_Barcode``; a table's its ``sample`` column (``""`` when it has none). In a VCF
only tumour samples are reported, never the matched normal: the samples the header declares tumour
(``##tumor_sample=``, ``##SAMPLE=<ID=..,Genomes=Tumor>``, ``##PEDIGREE=<Derived=..>``), else all
but those it declares normal, else all but those whose name says normal (``NORMAL``,
``MB_normal_50x``, ``P1_N``, TCGA normal barcodes), else all. A tumour carries an allele when its
genotype (GT) holds it; a record with no called genotype for any tumour (Strelka writes none) is
taken as every tumour's; a sites-only VCF has one unnamed sample ``""``. An allele carried by no
tumour sample (only by the normal, or by no sample of a multi-allelic site) is a RowProblem
(field ``GT``) saying so, not a record. The same variant in several samples comes once per sample:
group them with :func:`variant_key`.

**Problems.** A bad row (an empty gene in a table, a VCF allele without annotation, a field over
``max_field_chars``, a VCF record htslib cannot parse) is a :class:`RowProblem` in the stream, and
reading goes on. A bad file raises :class:`~oncoclass.errors.DataError` naming the file and, where
there is one, the line: empty, binary, undecodable text, a header without the required columns, a
VCF without VEP/SnpEff annotation, an unterminated quote (named by the line where it opened).

**Memory.** Everything streams: pysam reads one VCF record at a time and tables are read line by
line, so memory does not grow with the file. A line (or a quoted record spanning lines) longer
than ``max_record_chars`` (default: 4 x ``max_field_chars`` + 64 KiB) is a DataError rather than
something to hold in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from oncoclass.data.variant_files.protein import short_protein_change
from oncoclass.data.variant_files.records import FileFormat, RowProblem, VariantRecord, variant_key
from oncoclass.data.variant_files.tables import COLUMN_SYNONYMS, is_maf_header, read_table
from oncoclass.data.variant_files.text import (
    BCF_MAGIC,
    TextLines,
    check_text,
    open_binary,
    read_head,
)
from oncoclass.data.variant_files.vcf import read_vcf
from oncoclass.data.variant_files.vocabulary import CONSEQUENCE_SEVERITY
from oncoclass.errors import DataError, DataNotFoundError, InvalidInputError

__all__ = [
    "COLUMN_SYNONYMS",
    "CONSEQUENCE_SEVERITY",
    "DEFAULT_MAX_FIELD_CHARS",
    "FileFormat",
    "RowProblem",
    "VariantRecord",
    "detect_format",
    "read_variants",
    "short_protein_change",
    "variant_key",
]

#: A cell longer than this is a RowProblem (the predictor's own text limit is far lower).
DEFAULT_MAX_FIELD_CHARS = 100_000

Source = str | os.PathLike[str] | TextIO


def read_variants(
    source: Source,
    *,
    file_format: FileFormat | str | None = None,
    name: str | None = None,
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    max_record_chars: int | None = None,
) -> Iterator[VariantRecord | RowProblem]:
    """The records of a variant file, one at a time (see the module docstring).

    ``source`` is a path (any format) or a text stream (MAF or table). ``file_format`` overrides
    the detection. ``name`` is how errors name the file (an upload's own name rather than the
    temporary path it was spooled to). The file is opened, and whole-file errors raised, when
    iteration starts.
    """
    forced = _file_format(file_format)
    if max_field_chars < 1:
        raise InvalidInputError("max_field_chars must be positive", field="max_field_chars")
    record_chars = max_record_chars or 4 * max_field_chars + 65_536
    return _read(source, forced, name, max_field_chars, record_chars)


def _read(
    source: Source,
    forced: FileFormat | None,
    name: str | None,
    max_field_chars: int,
    max_record_chars: int,
) -> Iterator[VariantRecord | RowProblem]:
    if not isinstance(source, str | os.PathLike):  # a text stream: a MAF or a table
        shown = name or str(getattr(source, "name", "<stream>"))
        if forced is FileFormat.VCF:
            raise DataError("a VCF must be given as a path, not a text stream", path=shown)
        yield from read_table(
            source,
            shown,
            file_format=forced,
            max_field_chars=max_field_chars,
            max_record_chars=max_record_chars,
        )
        return
    path = _existing(source)
    shown = name or str(path)
    file_format = forced or detect_format(path, name=shown)
    if file_format is FileFormat.VCF:
        yield from read_vcf(path, shown)
        return
    with open_binary(path) as handle:
        yield from read_table(
            handle,
            shown,
            file_format=forced,
            max_field_chars=max_field_chars,
            max_record_chars=max_record_chars,
        )


def detect_format(source: str | os.PathLike[str], *, name: str | None = None) -> FileFormat:
    """VCF, MAF or TABLE, from the content (see the module docstring). Raises DataError for an
    empty or binary file."""
    path = _existing(source)
    shown = name or str(path)
    head = read_head(path, shown)
    if not head:
        raise DataError("the file is empty", path=shown)
    if head.startswith(BCF_MAGIC):
        return FileFormat.VCF
    check_text(head, shown)
    text = head.removeprefix(b"\xef\xbb\xbf")
    if text.startswith((b"##fileformat=VCF", b"#CHROM\t")):
        return FileFormat.VCF
    with open_binary(path) as handle:
        lines = TextLines(handle, shown, max_line_chars=4 * DEFAULT_MAX_FIELD_CHARS)
        header = next((line for line in lines if line.strip() and not line.startswith("#")), None)
    if header is None:
        raise DataError("the file is empty: no header line", path=shown)
    return FileFormat.MAF if is_maf_header(header) else FileFormat.TABLE


def _existing(source: str | os.PathLike[str]) -> Path:
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataNotFoundError("variant file not found", path=str(path))
    return path


def _file_format(value: FileFormat | str | None) -> FileFormat | None:
    if value is None or isinstance(value, FileFormat):
        return value
    try:
        return FileFormat(value.lower())
    except ValueError:
        choices = ", ".join(f.value for f in FileFormat)
        raise InvalidInputError(
            f"unknown file format {value!r}; expected one of: {choices}", field="file_format"
        ) from None
