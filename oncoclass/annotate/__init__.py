"""Annotating a file of variants (a lab's VCF, MAF or table, or the API's JSON batch): each
distinct variant scored once however many samples carry it, tiered and looked up in CIViC, and
every input row kept; written as CSV, JSON and a self-contained HTML report.

* :func:`annotate` (:mod:`.engine`): the one engine of ``oncoclass annotate``,
  ``POST /v1/predict/batch`` and the page;
* :func:`annotate_file`: a file by path, its format told by its content;
* :class:`LocalScorer` (default) and :class:`~oncoclass.annotate.ray_engine.RayScorer`
  (``--engine ray``) score the distinct variants;
* :func:`write_reports`, :func:`write_csv`, :func:`write_json`,
  :func:`~oncoclass.annotate.report.write_html` write them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncoclass.annotate.engine import Annotation, ProgressFn, annotate, tier_rank
from oncoclass.annotate.inputs import JSON_FORMAT, VariantSeed, json_records
from oncoclass.annotate.scoring import LocalScorer, Scorer
from oncoclass.annotate.writers import (
    CSV_COLUMNS,
    FORMATS,
    annotation_csv,
    safe_cell,
    to_csv,
    write_csv,
    write_json,
    write_reports,
)
from oncoclass.data.variant_files import FileFormat, detect_format, read_variants
from oncoclass.errors import InvalidInputError
from oncoclass.service import OncoClassService

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "JSON_FORMAT",
    "Annotation",
    "LocalScorer",
    "ProgressFn",
    "Scorer",
    "VariantSeed",
    "annotate",
    "annotate_file",
    "annotation_csv",
    "json_records",
    "safe_cell",
    "tier_rank",
    "to_csv",
    "write_csv",
    "write_json",
    "write_reports",
]


def annotate_file(
    service: OncoClassService,
    path: Path,
    *,
    name: str | None = None,
    file_format: FileFormat | str | None = None,
    **options: Any,
) -> Annotation:
    """:func:`annotate` the variant file at ``path`` (VCF, MAF or CSV/TSV, told by its content
    unless ``file_format`` says). ``name`` is how the file is named in errors and in the
    annotation (an upload's own name rather than the temporary path it was spooled to)."""
    shown = name or path.name
    detected = _file_format(file_format) or detect_format(path, name=shown)
    records = read_variants(path, file_format=detected, name=shown)
    return annotate(service, records, source=shown, file_format=detected.value, **options)


def _file_format(value: FileFormat | str | None) -> FileFormat | None:
    if value is None or isinstance(value, FileFormat):
        return value
    try:
        return FileFormat(value.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in FileFormat)
        raise InvalidInputError(
            f"unknown file format {value!r}; expected one of: {choices}", field="file_format"
        ) from None
