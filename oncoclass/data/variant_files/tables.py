"""CSV/TSV tables made by people, and MAF files, read row by row into :class:`VariantRecord`.

Leading lines that are blank or start with ``#`` are skipped (MAF's ``#version 2.4``); the next
line is the header. Its column names are matched case-insensitively against
:data:`COLUMN_SYNONYMS`; ``gene`` and ``variation`` are required. A header holding
``Hugo_Symbol`` (tab-separated) is a MAF: never quoted, so a stray ``"`` stays a character.
Other tables are split on whichever of tab, comma or semicolon the header holds most, and read in
the csv module's strict mode.

Where several columns can fill a field, the first non-empty one wins, with two checks that real
MAFs need (the MSK SUMMIT MAF's header has a ``Consequence`` column its rows lack, which shifts
every cell from the 9th to the 16th by one): the consequence is taken from the first column whose
value is a MAF classification or a Sequence Ontology term, and an allele column is used only when
it holds an allele (``A``, ``TTC``, ``-``), so that a dbSNP id is not read as one.

An unterminated quote would make the csv module swallow every following row into one field. A
quoted field may span lines, but a record that runs over :data:`MAX_RECORD_LINES` lines, or past
the record length limit, or to the end of the file, is a DataError naming the line where the
quote opened.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from oncoclass.data.generic import split_drugs
from oncoclass.data.variant_files.protein import short_protein_change
from oncoclass.data.variant_files.records import FileFormat, RowProblem, VariantRecord
from oncoclass.data.variant_files.text import TextLines
from oncoclass.data.variant_files.vocabulary import is_consequence, normalize_build
from oncoclass.errors import DataError

#: Our field -> column names that mean it, in order of preference (matched case-insensitively).
COLUMN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "gene": ("gene", "hugo_symbol", "gene_symbol", "symbol"),
    "variation": (
        "variation",
        "variant",
        "hgvsp_short",
        "protein_change",
        "hgvsp",
        "amino_acid_change",
        "aa_change",
        "mutation",
    ),
    "text": ("text", "evidence", "evidence_text", "evidence_statement"),
    "disease": ("disease", "cancer_type", "tumor_type", "diagnosis"),
    "drugs": ("drugs", "drug", "therapies", "therapy"),
    "sample": ("sample", "tumor_sample_barcode", "sample_id", "id"),
    "consequence": ("consequence", "variant_classification", "effect", "annotation"),
    "transcript": ("transcript", "transcript_id", "feature", "refseq"),
    "chrom": ("chrom", "chromosome", "chr", "#chrom"),
    "pos": ("pos", "position", "start_position", "start"),
    "ref": ("ref", "reference_allele"),
    "alt": ("alt", "tumor_seq_allele2", "alternate_allele", "tumor_seq_allele1"),
    "genome_build": ("genome_build", "ncbi_build", "build", "assembly"),
}
#: In a MAF, the MAF's own columns come first.
_MAF_PREFERENCE: dict[str, tuple[str, ...]] = {
    "consequence": ("variant_classification", "consequence"),
    "transcript": ("transcript_id", "refseq"),
}
REQUIRED = ("gene", "variation")
#: A quoted field spanning more lines than this is taken for an unterminated quote.
MAX_RECORD_LINES = 100
_ALLELE = re.compile(r"[ACGTN]+|-", re.I)


@dataclass(frozen=True)
class _Layout:
    """How to read the rows: the csv dialect and which columns fill which field."""

    file_format: FileFormat
    header: list[str]
    columns: dict[str, list[int]]
    delimiter: str
    quoting: int


def read_table(
    handle: BinaryIO | TextIO,
    name: str,
    *,
    file_format: FileFormat | None,
    max_field_chars: int,
    max_record_chars: int,
) -> Iterator[VariantRecord | RowProblem]:
    """The records of a table or MAF (``file_format`` None: decided by the header)."""
    lines = TextLines(handle, name, max_record_chars)
    header_line = next((line for line in lines if line.strip() and not line.startswith("#")), None)
    if header_line is None:
        raise DataError("the file is empty: no header line", path=name)
    layout = _layout(header_line, file_format, name, lines.number)
    # The csv module refuses fields over its limit (131,072 by default); ours is checked per row.
    csv.field_size_limit(max(csv.field_size_limit(), max_record_chars))
    is_table = layout.file_format is FileFormat.TABLE
    guard = _QuoteGuard(lines, name, max_record_chars, quoted=is_table)
    # Strict mode turns a quote in the wrong place into an error instead of a silent guess.
    reader = csv.reader(guard, delimiter=layout.delimiter, quoting=layout.quoting, strict=is_table)
    while True:
        guard.start_record()
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(
                f"unreadable row ({exc}); an unterminated quote?", path=name, line=guard.quote_line
            ) from exc
        if any(cell.strip() for cell in cells):
            yield _row(cells, guard.first_line, layout, max_field_chars)


def is_maf_header(line: str) -> bool:
    """A MAF's header: tab-separated, with a ``Hugo_Symbol`` column. (A comma-separated table
    with such a column is read as a table: ``hugo_symbol`` is one of the gene synonyms.)"""
    return "hugo_symbol" in (cell.strip().lower() for cell in line.split("\t"))


def _layout(header_line: str, forced: FileFormat | None, name: str, line: int) -> _Layout:
    is_maf = is_maf_header(header_line) if forced is None else forced is FileFormat.MAF
    if is_maf:
        delimiter, quoting = "\t", csv.QUOTE_NONE
    else:
        delimiter = max(("\t", ",", ";"), key=header_line.count)
        quoting = csv.QUOTE_MINIMAL
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
    lowered = [h.lower() for h in header]
    columns: dict[str, list[int]] = {}
    for field, names in COLUMN_SYNONYMS.items():
        if is_maf and field in _MAF_PREFERENCE:
            names = _MAF_PREFERENCE[field] + names
        found = [lowered.index(n) for n in dict.fromkeys(names) if n in lowered]
        if found:
            columns[field] = found
    for required in REQUIRED:
        if required not in columns:
            expected = ", ".join(COLUMN_SYNONYMS[required])
            raise DataError(
                f"the file has no {required} column (expected one of: {expected}); "
                f"its header is: {', '.join(header)[:300]}",
                path=name,
                line=line,
            )
    file_format = FileFormat.MAF if is_maf else FileFormat.TABLE
    return _Layout(file_format, header, columns, delimiter, quoting)


class _QuoteGuard(Iterator[str]):
    """Feeds lines to the csv reader and stops a record that swallows the rows after it.

    ``start_record`` is called before each record; the lines pulled until the next call are that
    record's. ``quote_line`` is where the quote still open was opened: the record's last line with
    an odd number of ``"`` (a line with an odd count opens or closes a quoted field).
    """

    def __init__(self, lines: TextLines, name: str, max_chars: int, *, quoted: bool) -> None:
        self._lines = lines
        self._name = name
        self._max_chars = max_chars
        self._quoted = quoted
        self.first_line = 0
        self.quote_line = 0
        self._count = 0
        self._chars = 0

    def start_record(self) -> None:
        self._count = 0
        self._chars = 0

    def __next__(self) -> str:
        line = next(self._lines)
        self._count += 1
        self._chars += len(line)
        if self._count == 1:
            self.first_line = self.quote_line = self._lines.number
        if self._quoted and line.count('"') % 2:
            self.quote_line = self._lines.number
        if self._count > MAX_RECORD_LINES or self._chars > self._max_chars:
            raise DataError(
                f"a quoted field opened here is still open {self._count} lines "
                f"({self._chars:,} characters) later: an unterminated quote?",
                path=self._name,
                line=self.quote_line,
            )
        return line


def _row(
    cells: Sequence[str], line: int, layout: _Layout, max_field_chars: int
) -> VariantRecord | RowProblem:
    header, columns = layout.header, layout.columns

    def first(field: str, accept: re.Pattern[str] | None = None) -> str:
        for i in columns.get(field, ()):
            value = cells[i].strip() if i < len(cells) else ""
            if value and (accept is None or accept.fullmatch(value)):
                return value
        return ""

    gene, variation_text, sample = first("gene"), first("variation"), first("sample")

    def problem(field: str | None, message: str) -> RowProblem:
        return RowProblem(line, field, message, gene[:200], variation_text[:200], sample[:200])

    extra = cells[len(header) :]
    if any(cell.strip() for cell in extra):
        return problem(
            None,
            f"the row has {len(cells)} cells but the header has {len(header)} columns; "
            f"quote values that contain {layout.delimiter!r}",
        )
    for i, cell in enumerate(cells):
        if len(cell) > max_field_chars:
            field = next((f for f, idx in columns.items() if i in idx), header[i])
            return problem(
                field, f"{field} is {len(cell):,} characters, over the limit of {max_field_chars:,}"
            )
    if not gene:
        return problem("gene", "gene is empty")
    variation = short_protein_change(variation_text)
    consequence = _consequence(cells, columns.get("consequence", []))
    if not variation and not consequence:
        return problem("variation", "variation is empty")
    ref = first("ref", _ALLELE)
    alts = [v for v in (_cell(cells, i) for i in columns.get("alt", ())) if _ALLELE.fullmatch(v)]
    pos = first("pos")
    return VariantRecord(
        line=line,
        sample=sample,
        gene=gene,
        variation=variation,
        text=first("text"),
        disease=first("disease"),
        drugs=split_drugs(first("drugs")),
        consequence=consequence,
        transcript=first("transcript"),
        chrom=first("chrom"),
        pos=int(pos) if pos.isdigit() else None,
        ref=ref,
        # A MAF's Tumor_Seq_Allele2 is the alt, unless it repeats the reference.
        alt=next((a for a in alts if a != ref), alts[0] if alts else ""),
        genome_build=normalize_build(first("genome_build")),
        coding=bool(variation),
        note="" if variation else f"{consequence}: no protein change",
        source_format=layout.file_format.value,
        raw={h: _cell(cells, i) for i, h in enumerate(header) if h},
    )


def _cell(cells: Sequence[str], i: int) -> str:
    return cells[i].strip() if i < len(cells) else ""


def _consequence(cells: Sequence[str], indices: Sequence[int]) -> str:
    """The first recognised consequence among the candidate columns, else the first value."""
    values = [v for v in (_cell(cells, i) for i in indices) if v]
    return next((v for v in values if is_consequence(v)), values[0] if values else "")
