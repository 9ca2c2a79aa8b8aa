"""Batch input: uploaded CSV/TSV tables and MAF files, read into rows; and results as CSV.

A lab sends either a table it made (columns ``gene``, ``variation``, and optionally ``text``,
``disease``, ``drugs``, ``sample``) or the MAF its pipeline wrote: tab-separated, ``#`` comment
lines first, ``Hugo_Symbol`` for the gene and ``HGVSp_Short`` (``p.R1917T``, ``p.X2151_splice``)
for the protein change. Column names are matched case-insensitively, with the usual synonyms.

Rows are returned as plain dicts: validating them is the endpoint's job, row by row, so that one
bad row does not sink the batch. Whole-file problems (not text, no gene column, too many rows)
raise :class:`~oncoclass.errors.InvalidInputError` naming ``file``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from oncoclass.errors import InvalidInputError, PayloadTooLargeError
from oncoclass.schemas import BatchPublic
from oncoclass.service import RawRow

#: Our field -> column names that mean it, in order of preference.
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
}
FILE = "file"
#: Largest upload read; bigger files are refused (413) before they are parsed.
MAX_UPLOAD_BYTES = 64 * 2**20


def decode(content: bytes) -> str:
    """The text of an upload: UTF-8 (with or without BOM), else Latin-1 (old Excel exports).
    NUL bytes mean a binary file, not a table."""
    if b"\x00" in content:
        raise InvalidInputError("the file is binary, not a CSV/TSV table or a MAF", field=FILE)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def read_table(content: bytes, *, max_rows: int, max_field_chars: int = 1_000_000) -> list[RawRow]:
    """The data rows of an uploaded CSV, TSV or MAF, each a dict of our field names."""
    lines = decode(content).splitlines(keepends=True)
    # MAF files start with "#version 2.4"-style comment lines; so may hand-made tables.
    start = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), len(lines)
    )
    if start == len(lines):
        raise InvalidInputError("the file is empty: no header line", field=FILE)
    header_line = lines[start]
    delimiter = _delimiter(header_line)
    is_maf = "hugo_symbol" in header_line.lower()
    # MAF cells are never quoted; a stray quote must stay a character, not start a field.
    quoting = csv.QUOTE_NONE if is_maf else csv.QUOTE_MINIMAL
    # A text may be long (the predictor enforces the real limit, per row, with a clear error).
    csv.field_size_limit(max(csv.field_size_limit(), max_field_chars))
    reader = csv.reader(io.StringIO("".join(lines[start:])), delimiter=delimiter, quoting=quoting)
    try:
        header = [h.strip().lower() for h in next(reader)]
        columns = _columns(header)
        rows: list[RawRow] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # blank line
            if len(rows) >= max_rows:
                raise PayloadTooLargeError(
                    f"the file has more than {max_rows:,} rows, the most one batch accepts; "
                    "split it into smaller files",
                    field=FILE,
                )
            values = {f: cells[i].strip() if i < len(cells) else "" for f, i in columns.items()}
            rows.append(RawRow(len(rows) + 1, values))
    except csv.Error as exc:
        raise InvalidInputError(
            f"unreadable table, line {reader.line_num + start}: {exc}", field=FILE
        ) from exc
    return rows


def _delimiter(header_line: str) -> str:
    return max(("\t", ",", ";"), key=header_line.count)


def _columns(header: Sequence[str]) -> dict[str, int]:
    """Our field -> column index. ``gene`` and ``variation`` are required."""
    found: dict[str, int] = {}
    for field, names in COLUMN_SYNONYMS.items():
        for name in names:
            if name in header:
                found[field] = header.index(name)
                break
    for required in ("gene", "variation"):
        if required not in found:
            expected = ", ".join(COLUMN_SYNONYMS[required])
            raise InvalidInputError(
                f"the file has no {required} column (expected one of: {expected}); "
                f"its header is: {', '.join(header)[:300]}",
                field=FILE,
            )
    return found


def json_rows(items: Any, *, max_rows: int) -> list[RawRow]:
    """The rows of a JSON batch (``items`` of a :class:`~oncoclass.api.schemas.BatchCreate`)."""
    if not isinstance(items, list):
        raise InvalidInputError("items must be a list of objects", field="items")
    if len(items) > max_rows:
        raise PayloadTooLargeError(
            f"the batch has {len(items):,} items; at most {max_rows:,} are accepted at once",
            field="items",
        )
    return [RawRow(i + 1, item) for i, item in enumerate(items)]


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text (missing cells empty); cells a spreadsheet would run as a formula (``=``,
    ``+``, ``-``, ``@``) get a leading apostrophe, as OWASP advises for CSV downloads."""
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _safe_cell(v) for k, v in row.items()})
    return out.getvalue()


def _safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def batch_csv(result: BatchPublic, classes: Sequence[str]) -> str:
    """One line per input row: the prediction (every class's probability, the prediction set,
    the warnings, the CIViC match) or the error. Probabilities are rounded to 4 places."""
    columns = [
        "row", "status", "sample", "gene", "variation", "prediction_id", "label", "name",
        "probability", *(f"p[{c}]" for c in classes), "prediction_set", "margin", "novelty",
        "warnings", "variation_type", "variation_normalized", "civic_match", "civic_items",
        "civic_best_level", "error_field", "error_message",
    ]  # fmt: skip
    lines: list[dict[str, Any]] = []
    for r in result.results:
        line: dict[str, Any] = {
            "row": r.row,
            "status": "ok" if r.ok else "error",
            "sample": r.sample,
            "gene": r.gene,
            "variation": r.variation,
        }
        if r.error is not None:
            line |= {"error_field": r.error.field, "error_message": r.error.message}
        if (p := r.prediction) is not None:
            line |= {
                "prediction_id": p.id, "label": p.label, "name": p.name,
                "probability": round(p.probability, 4),
                **{f"p[{c.label}]": round(c.probability, 4) for c in p.probabilities},
                "prediction_set": " | ".join(p.prediction_set.names),
                "margin": round(p.margin, 4),
                "novelty": None if p.novelty.score is None else round(p.novelty.score, 4),
                "warnings": " | ".join(w.code for w in p.warnings),
                "variation_type": p.parsed_variation.type,
                "variation_normalized": p.parsed_variation.normalized,
            }  # fmt: skip
            if (kb := p.knowledge) is not None:
                line |= {
                    "civic_match": kb.match, "civic_items": kb.total,
                    "civic_best_level": kb.best_level,
                }  # fmt: skip
        lines.append(line)
    return to_csv(columns, lines)
