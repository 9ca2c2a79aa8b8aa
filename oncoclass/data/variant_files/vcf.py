"""VCF/BCF files annotated by Ensembl VEP (INFO ``CSQ``) or SnpEff (INFO ``ANN``), via pysam.

pysam (htslib) parses the file; a record htslib cannot parse becomes a :class:`RowProblem` and
reading goes on. (cyvcf2 was tried first: it crashes the process on such a record, which an
upload service cannot afford.) See the package docstring for the transcript and sample rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import pysam

from oncoclass.data.variant_files.protein import short_protein_change
from oncoclass.data.variant_files.records import FileFormat, RowProblem, VariantRecord
from oncoclass.data.variant_files.text import GZIP_ERRORS, open_binary
from oncoclass.data.variant_files.vocabulary import SPLICE_SITE, find_build, severity
from oncoclass.errors import DataError

#: Records htslib fails to parse in a row before the file is given up as not a VCF.
MAX_BAD_RECORDS_IN_A_ROW = 20
#: Sample names that say "normal" (TCGA barcodes: sample types 10-19 are normal tissue).
_NORMAL_NAME = re.compile(
    r"(?:^|[^a-z])(?:normal|germline|blood)(?:[^a-z]|$)|[-_.]N\d*$|^TCGA-\w\w-\w{4}-1\d", re.I
)
#: Header lines whose text may name the genome build.
_BUILD_KEYS = ("reference", "assembly", "VEP", "SnpEffCmd", "source", "contig")


@dataclass(frozen=True)
class _Annotation:
    """Where an annotator puts what we need: its INFO key and its field names."""

    key: str
    fields: tuple[str, ...]
    allele: str
    gene: str
    consequence: str
    transcript: str
    hgvsp: str
    hgvsc: str


def _annotation(header: pysam.VariantHeader) -> _Annotation | None:
    """VEP's CSQ (preferred when both are there) or SnpEff's ANN, with the field list its
    header line declares (``Format: Allele|Consequence|...`` / ``'Allele | Annotation | ...'``)."""
    if "CSQ" in header.info:
        description = header.info["CSQ"].description or ""
        fields = description.split("Format:", 1)[-1].strip().strip("'\"").split("|")
        names = tuple(f.strip() for f in fields)
        return _Annotation(
            "CSQ", names, "Allele", "SYMBOL", "Consequence", "Feature", "HGVSp", "HGVSc"
        )
    if "ANN" in header.info:
        description = header.info["ANN"].description or ""
        quoted = re.search(r"'([^']*)'", description)
        fields = (quoted.group(1) if quoted else description.split(":", 1)[-1]).split("|")
        names = tuple(f.strip() for f in fields)
        return _Annotation(
            "ANN", names, "Allele", "Gene_Name", "Annotation", "Feature_ID", "HGVS.p", "HGVS.c"
        )
    return None


def read_vcf(path: Path, name: str) -> Iterator[VariantRecord | RowProblem]:
    """The records of a VCF/BCF file, one per (alt allele, tumour sample)."""
    header_lines = _count_header_lines(path, name)
    pysam.set_verbosity(0)  # htslib's warnings (undeclared contigs, ...) would flood stderr
    with path.open("rb") as handle:
        # A handle, not the path: pysam then reads plain gzip too, not only bgzip.
        try:
            vcf = pysam.VariantFile(handle)
        except (ValueError, OSError, NotImplementedError) as exc:
            raise DataError(f"not a readable VCF: {exc}", path=name, line=header_lines) from exc
        with vcf:
            annotation = _annotation(vcf.header)
            if annotation is None:
                raise DataError(
                    "the VCF has no CSQ (Ensembl VEP) or ANN (SnpEff) annotation; "
                    "annotate it with VEP or SnpEff first",
                    path=name,
                    line=header_lines,
                )
            tumours = tumour_samples(vcf.header)
            build = genome_build(vcf.header)
            yield from _records(vcf, header_lines, annotation, tumours, build, name)


def _records(
    vcf: pysam.VariantFile,
    line: int,
    annotation: _Annotation,
    tumours: Sequence[str],
    build: str,
    name: str,
) -> Iterator[VariantRecord | RowProblem]:
    records = iter(vcf)
    bad_in_a_row = 0
    while True:
        line += 1
        try:
            record = next(records)
            items = list(_alleles(record, line, annotation, tumours, build))
        except StopIteration:
            return
        except (ValueError, OSError) as exc:  # htslib could not parse this record
            bad_in_a_row += 1
            if bad_in_a_row > MAX_BAD_RECORDS_IN_A_ROW:
                raise DataError(
                    f"{bad_in_a_row} unparsable records in a row: not a VCF?", path=name, line=line
                ) from exc
            yield RowProblem(line, None, f"malformed VCF record: {exc}")
            continue
        bad_in_a_row = 0
        yield from items


def _alleles(
    record: pysam.VariantRecord,
    line: int,
    annotation: _Annotation,
    tumours: Sequence[str],
    build: str,
) -> Iterator[VariantRecord | RowProblem]:
    """One record per (alt allele, carrier), or a problem per allele that has none."""
    ref, alts = record.ref or "", record.alts or ()
    where = f"{record.chrom}:{record.pos}"
    if not alts:
        yield RowProblem(line, "ALT", f"{where}: no alternate allele")
        return
    entries = _entries(record, annotation)
    site = {"FILTER": ";".join(record.filter.keys()), "ID": record.id or ""}
    site["QUAL"] = "" if record.qual is None else f"{record.qual:g}"
    for index, alt in enumerate(alts, start=1):
        if alt == "*":  # "deleted by an overlapping deletion": that deletion has its own record
            continue
        mine = _allele_entries(entries, annotation, ref, alts, index)
        chosen = _fields(choose_entry(mine, annotation), annotation, mine) if mine else None
        gene, variation = (chosen["gene"], chosen["variation"]) if chosen else ("", "")
        carriers = _carriers(record, tumours, index)
        if not carriers:
            genotypes = ", ".join(f"{s} {_gt_text(record, s)}" for s in record.samples)
            message = f"{where} {ref}>{alt} is carried by no tumour sample ({genotypes})"
            yield RowProblem(line, "GT", message, gene, variation)
            continue
        if chosen is None:
            message = f"{where} {ref}>{alt} has no {annotation.key} annotation for this allele"
            for sample in carriers:
                yield RowProblem(line, annotation.key, message, sample=sample)
            continue
        raw = {**site, **{k: v for k, v in chosen["entry"].items() if v}}
        for sample in carriers:
            yield VariantRecord(
                line=line,
                sample=sample,
                gene=gene,
                variation=variation,
                consequence=chosen["consequence"],
                transcript=chosen["transcript"],
                chrom=record.chrom,
                pos=record.pos,
                ref=ref,
                alt=alt,
                genome_build=build,
                coding=bool(variation),
                note=chosen["note"],
                source_format=FileFormat.VCF.value,
                raw=dict(raw),  # one dict per record: a caller may edit one
            )


def _entries(record: pysam.VariantRecord, annotation: _Annotation) -> list[dict[str, str]]:
    value = record.info.get(annotation.key)
    if value is None:
        return []
    texts = value if isinstance(value, tuple) else (value,)
    return [dict(zip(annotation.fields, text.split("|"), strict=False)) for text in texts]


def _allele_entries(
    entries: list[dict[str, str]],
    annotation: _Annotation,
    ref: str,
    alts: Sequence[str],
    index: int,
) -> list[dict[str, str]]:
    """The annotation entries of alt allele ``index`` (1-based).

    VEP: its ``ALLELE_NUM`` when present; else its allele notation (the first base dropped from
    every allele of an indel site when they all share it, ``-`` for nothing). Only when no entry
    of the record is in that notation (VEP run with ``--minimal``, or another tool writing CSQ)
    is ``--minimal`` notation tried, then the VCF alleles: a per-allele fallback could hand one
    allele the entries of another. SnpEff writes the VCF allele (its ``-cancer`` entries,
    ``ALT-REF`` pairs, match no allele and are left out).
    """
    if annotation.key == "CSQ" and "ALLELE_NUM" in annotation.fields:
        return [e for e in entries if e.get("ALLELE_NUM") == str(index)]
    written = {e.get(annotation.allele) for e in entries}
    notations = [list(alts)]
    if annotation.key == "CSQ":
        notations = [vep_allele(ref, alts), [_minimal_allele(ref, a) for a in alts], list(alts)]
    forms = next((n for n in notations if written.intersection(n)), notations[0])
    return [e for e in entries if e.get(annotation.allele) == forms[index - 1]]


def vep_allele(ref: str, alts: Sequence[str]) -> list[str]:
    """The alt alleles as VEP writes them in CSQ's ``Allele``: at an indel site whose alleles all
    share their first base, that base is dropped (``-`` when nothing is left)."""
    is_indel = any(len(a) != len(ref) for a in alts)
    plain = [a for a in (ref, *alts) if "*" not in a]
    if not is_indel or len({a[:1] for a in plain}) != 1:
        return list(alts)
    return [a if "*" in a else (a[1:] or "-") for a in alts]


def _minimal_allele(ref: str, alt: str) -> str:
    """VEP's ``--minimal`` spelling: the bases ref and alt share at both ends trimmed."""
    while ref and alt and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return alt or "-"


def choose_entry(entries: list[dict[str, str]], annotation: _Annotation) -> dict[str, str]:
    """The one annotation entry (transcript) a variant allele is reported on.

    SnpEff sorts its entries by impact: the first one with a protein change, else the first.
    VEP: the entries flagged ``PICK``, else ``MANE_SELECT`` (or ``MANE``), else
    ``CANONICAL=YES``, else all of them; among those, the most severe consequence that has a
    protein change, else the most severe consequence; ties go to the first in the file.
    """
    if annotation.key == "ANN":
        return next((e for e in entries if e.get(annotation.hgvsp)), entries[0])
    flags = (
        lambda e: e.get("PICK") == "1",
        lambda e: bool(e.get("MANE_SELECT") or e.get("MANE")),
        lambda e: e.get("CANONICAL") == "YES",
    )
    candidates = next((f for f in ([e for e in entries if flag(e)] for flag in flags) if f), None)
    pool = candidates or entries
    return min(
        pool,
        key=lambda e: (
            not e.get(annotation.hgvsp),
            severity(e.get(annotation.consequence, "")),
        ),
    )


class _Chosen(TypedDict):
    """What a record takes from its chosen annotation entry."""

    entry: dict[str, str]
    gene: str
    variation: str
    consequence: str
    transcript: str
    note: str


def _fields(
    entry: dict[str, str], annotation: _Annotation, entries: list[dict[str, str]]
) -> _Chosen:
    """The record's fields from the chosen ``entry`` (one of the allele's ``entries``)."""
    consequence = entry.get(annotation.consequence, "")
    variation = short_protein_change(entry.get(annotation.hgvsp, ""))
    note = ""
    hgvsc = entry.get(annotation.hgvsc, "").rsplit(":", 1)[-1]
    if not variation and hgvsc and set(consequence.split("&")) & SPLICE_SITE:
        # No protein change is written for a splice-site variant; its cDNA change ("c.6453-1G>C")
        # is what the parser reads as a splice variant.
        variation, note = hgvsc, "splice site: variation is the cDNA change"
    elif not variation:
        note = f"{consequence or 'no consequence'}: no protein change"
        # The rule may pick a transcript where the allele is intronic while it changes the
        # protein of another one: say so, rather than hide it.
        if others := [e for e in entries if e.get(annotation.hgvsp)]:
            other = min(others, key=lambda e: severity(e.get(annotation.consequence, "")))
            change = short_protein_change(other[annotation.hgvsp])
            note += f" on this transcript; {change} on {other.get(annotation.transcript, '?')}"
    return _Chosen(
        entry=entry,
        gene=entry.get(annotation.gene, "") or entry.get("Gene", "") or entry.get("Gene_ID", ""),
        variation=variation,
        consequence=consequence,
        transcript=entry.get(annotation.transcript, ""),
        note=note,
    )


def tumour_samples(header: pysam.VariantHeader) -> list[str]:
    """The samples whose variants are reported: the tumour(s), never the matched normal.

    In order: samples the header declares tumour (``##tumor_sample=``, ``##SAMPLE=<...,
    Genomes=Tumor>``, ``##PEDIGREE=<Derived=...>``); else all but those it declares normal
    (``##normal_sample=``, ``Genomes=Germline``/``Normal``, ``##PEDIGREE=<Original=...>``); else all
    but those whose name says normal (``NORMAL``, ``MB_normal_50x``, ``P1_N``, TCGA normal
    barcodes); else all samples. No samples at all (a sites-only VCF): ``[]``.
    """
    names = list(header.samples)
    tumours: set[str | None] = set()
    normals: set[str | None] = set()
    for rec in header.records:
        if rec.key == "tumor_sample":
            tumours.add(rec.value)
        elif rec.key == "normal_sample":
            normals.add(rec.value)
        elif rec.key == "SAMPLE":
            genomes = (rec.get("Genomes") or "").lower()
            if genomes == "tumor":
                tumours.add(rec.get("ID"))
            elif genomes in ("germline", "normal"):
                normals.add(rec.get("ID"))
        elif rec.key == "PEDIGREE":
            tumours.add(rec.get("Derived"))
            normals.add(rec.get("Original"))
    for chosen in (
        [n for n in names if n in tumours],
        [n for n in names if normals and n not in normals],
        [n for n in names if not _NORMAL_NAME.search(n)],
    ):
        if chosen:
            return chosen
    return names


def _carriers(record: pysam.VariantRecord, tumours: Sequence[str], index: int) -> list[str]:
    """The tumour samples carrying alt allele ``index``: those whose genotype holds it.

    A record without genotypes for the tumour(s) (somatic callers such as Strelka write none) is
    taken as the tumours' own: every tumour carries every allele. A sites-only VCF has one
    carrier, the unnamed sample ``""``.
    """
    if not tumours:
        return [""]
    genotypes = {s: _gt(record, s) for s in tumours}
    called = [s for s, gt in genotypes.items() if any(a is not None for a in gt)]
    if not called:
        return list(tumours)
    return [s for s in called if index in genotypes[s]]


def _gt(record: pysam.VariantRecord, sample: str) -> tuple[int | None, ...]:
    if "GT" not in record.format:
        return ()
    return tuple(record.samples[sample].get("GT") or ())


def _gt_text(record: pysam.VariantRecord, sample: str) -> str:
    alleles = _gt(record, sample)
    return "/".join("." if a is None else str(a) for a in alleles) or "no GT"


def genome_build(header: pysam.VariantHeader) -> str:
    """GRCh37/GRCh38 as the header names it (reference, assembly, VEP cache, SnpEff database,
    contig lines), else ``""``."""
    for rec in header.records:
        if rec.key in _BUILD_KEYS and (build := find_build(str(rec))):
            return build
    return ""


def _count_header_lines(path: Path, name: str) -> int:
    """How many lines the header has, so that records can be given their line numbers (pysam
    does not say, and edits the header it shows: htslib adds lines such as FILTER=PASS)."""
    count = 0
    try:
        with open_binary(path) as handle:
            if handle.read(4) == b"BCF\x02":
                return 0  # binary: no lines to count
            handle.seek(0)
            at_line_start = True
            while chunk := handle.readline(65_536):
                if at_line_start and not chunk.startswith(b"#"):
                    break
                at_line_start = chunk.endswith(b"\n")
                count += at_line_start
    except GZIP_ERRORS as exc:
        raise DataError(f"the file is not readable gzip: {exc}", path=name) from exc
    return count
