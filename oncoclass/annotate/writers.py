"""An annotation as files: CSV for spreadsheets (one line per input row), JSON (the API's
:class:`~oncoclass.schemas.AnnotationPublic`, streamed), and the HTML report
(:mod:`oncoclass.annotate.report`).

The CSV is for people: rounded numbers, words rather than codes, the top therapies spelled out,
and no cell a spreadsheet would run as a formula (a leading ``=``, ``+``, ``-`` or ``@`` gets an
apostrophe, as OWASP advises for CSV downloads).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from oncoclass.annotate.engine import Annotation
from oncoclass.schemas import (
    TherapyPublic,
    VariantAnnotationPublic,
    VariantSamplePublic,
)

FORMATS = ("csv", "json", "html")
#: Columns of the CSV, one line per input row (per sample).
CSV_COLUMNS = (
    "line", "sample", "gene", "variation", "status", "disease", "tier", "tier_basis", "class",
    "probability", "prediction_set", "warnings", "therapies", "civic_evidence", "civic_url",
    "consequence", "location", "note", "error",
)  # fmt: skip
#: Therapies spelled out per CSV line (the JSON and the report have all of them).
CSV_THERAPIES = 3
#: Warnings in words.
WARNING_WORDS = {
    "text_off_topic": "text about another variant",
    "out_of_distribution": "unlike the training data",
    "close_call": "close call",
    "unknown_gene": "gene not seen in training",
    "unknown_variation": "variation not seen in training",
    "no_text": "no evidence text",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text: formulas get a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv_rows(
    handle: IO[str], columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    writer = csv.DictWriter(handle, columns, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    write_csv_rows(out, columns, rows)
    return out.getvalue()


# ---- the annotation's CSV -----------------------------------------------------------------------
def therapy_words(t: TherapyPublic) -> str:
    """``Dabrafenib + Trametinib (sensitivity, level B, Melanoma)``; evidence that argues
    against the response says so, and evidence that needs another variant too as well."""
    response = t.response if t.direction == "Supports" else f"does not support {t.response}"
    alone = "" if t.variant_alone else "; needs another variant too"
    return f"{t.therapy} ({response}, level {t.best_level}, {t.disease}{alone})"


def top_therapies(therapies: Sequence[TherapyPublic], n: int = CSV_THERAPIES) -> str:
    """The first ``n`` therapies (already ranked by disease relevance, then level), those on the
    variant alone and supporting their response first; ``+k more`` when there are more."""
    ranked = sorted(
        therapies, key=lambda t: (not t.variant_alone, t.direction != "Supports")
    )  # sorted() is stable: the knowledge base's order holds within each group
    words = [therapy_words(t) for t in ranked[:n]]
    if len(ranked) > n:
        words.append(f"+{len(ranked) - n} more")
    return " | ".join(words)


def civic_words(variant: VariantAnnotationPublic) -> str:
    kb = variant.knowledge
    if kb is None or not kb.available:
        return "CIViC unavailable" + (f": {kb.reason}" if kb is not None and kb.reason else "")
    if kb.match == "none":
        return "no CIViC evidence on the variant"
    best = f", best level {kb.best_level}" if kb.best_level else ""
    return f"{kb.match} match, {kb.total} evidence item{'s' * (kb.total != 1)}{best}"


def variant_cells(variant: VariantAnnotationPublic) -> dict[str, Any]:
    """The CSV cells a variant gives each of its rows."""
    cells: dict[str, Any] = {
        "disease": variant.disease,
        "therapies": top_therapies(variant.therapies),
        "civic_evidence": civic_words(variant),
        "civic_url": variant.civic_url,
        "consequence": variant.consequence,
        "location": variant.location,
        "note": variant.note,
    }
    if variant.tier is not None:
        cells |= {"tier": variant.tier.label, "tier_basis": variant.tier.explanation}
    if (p := variant.prediction) is not None:
        cells |= {
            "class": p.name,
            "probability": round(p.probability, 3),
            "prediction_set": " | ".join(p.prediction_set.names),
            "warnings": "; ".join(WARNING_WORDS.get(w.code, w.code) for w in p.warnings),
        }
    return cells


def row_cells(row: VariantSamplePublic, variant: Mapping[str, Any] | None) -> dict[str, Any]:
    cells: dict[str, Any] = {
        "line": row.line,
        "sample": row.sample,
        "gene": row.gene,
        "variation": row.variation,
        "status": row.status.replace("_", "-"),
    }
    if variant is not None:
        cells |= variant
    if row.error is not None:
        where = f"{row.error.field}: " if row.error.field else ""
        cells["error"] = where + row.error.message
    return cells


def csv_lines(annotation: Annotation) -> Iterator[dict[str, Any]]:
    """One dict per input row, in input order (the variants' cells held once each)."""
    cells = {i: variant_cells(v) for i, v in enumerate(annotation.variants())}
    for row in annotation.rows():
        yield row_cells(row, cells.get(row.variant) if row.variant is not None else None)


def annotation_csv(annotation: Annotation) -> str:
    return to_csv(CSV_COLUMNS, csv_lines(annotation))


def write_csv(annotation: Annotation, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_csv_rows(handle, CSV_COLUMNS, csv_lines(annotation))
    return path


# ---- JSON ---------------------------------------------------------------------------------------
def write_json(annotation: Annotation, path: Path) -> Path:
    """The :class:`AnnotationPublic` document, written as a stream
    (:meth:`Annotation.json_chunks`)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(annotation.json_chunks())
        handle.write("\n")
    return path


def write_reports(
    annotation: Annotation, out_dir: Path, stem: str, formats: Sequence[str] = FORMATS
) -> dict[str, Path]:
    """``out_dir/<stem>.oncoclass.{csv,json,html}`` for the formats asked; their paths."""
    from oncoclass.annotate.report import write_html

    out_dir.mkdir(parents=True, exist_ok=True)
    writers = {"csv": write_csv, "json": write_json, "html": write_html}
    return {
        fmt: writers[fmt](annotation, out_dir / f"{stem}.oncoclass.{fmt}")
        for fmt in FORMATS
        if fmt in formats
    }
