"""Users' own curated variants: a CSV or JSON-lines table mapped to :class:`Sample`.

Columns (JSON keys): ``gene`` and ``variation`` are required; ``id`` (default: the row number),
``text``, ``label``, ``disease``, ``drugs``, ``pubmed_id``, ``evidence_id``, ``group`` and
``source`` are optional; any other column is kept in ``Sample.extra``. ``drugs`` is a list in
JSON lines and a ``;``- or ``,``-separated string in CSV.

The small file helpers at the top are shared by the other adapters, so that every data error
names its file the same way.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from oncoclass.data.records import Sample
from oncoclass.errors import DataError, DataNotFoundError

#: Columns that map onto ``Sample`` fields, in the order ``write_table`` writes them.
COLUMNS: tuple[str, ...] = (
    "id",
    "gene",
    "variation",
    "text",
    "label",
    "disease",
    "drugs",
    "pubmed_id",
    "evidence_id",
    "group",
    "source",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("gene", "variation")
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv"}) | JSONL_SUFFIXES

_DRUG_SEPARATOR = re.compile(r"\s*[;,]\s*")
# Evidence texts are whole papers (~100k characters, more for some); the csv module's default
# field limit (131,072) would reject them. 2**31 - 1 is the largest value every platform accepts.
_CSV_FIELD_LIMIT = 2**31 - 1


def require_file(path: Path | str, what: str = "data file") -> Path:
    """``path`` as a Path, or a :class:`DataNotFoundError` naming it when it is not a file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataNotFoundError(f"{what} not found", path=str(path))
    return path


@contextmanager
def open_text(path: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a text file for the csv module; one that is not UTF-8 text is a :class:`DataError`."""
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    with path.open(encoding=encoding, newline="") as handle:
        try:
            yield handle
        except UnicodeDecodeError as exc:
            raise DataError(f"not a UTF-8 text file ({exc.reason})", path=str(path)) from exc


def split_drugs(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Drug names from a ``;``/``,``-separated string or a list, blanks dropped."""
    if value is None:
        return ()
    items = _DRUG_SEPARATOR.split(value) if isinstance(value, str) else [str(v) for v in value]
    return tuple(item.strip() for item in items if item and item.strip())


def load_table(path: Path | str) -> list[Sample]:
    """Read a user's CSV/TSV/JSON-lines table of variants (see the module docstring)."""
    path = require_file(path, "variant table")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"unknown table format {path.suffix!r}; use one of {sorted(TABLE_SUFFIXES)}",
            path=str(path),
        )
    rows = _jsonl_rows(path) if path.suffix.lower() in JSONL_SUFFIXES else _csv_rows(path)
    samples: list[Sample] = []
    seen: set[str] = set()
    for number, (line, row) in enumerate(rows, start=1):
        sample = _row_to_sample(row, default_id=str(number), path=path, line=line)
        if sample.id in seen:
            raise DataError(f"duplicate id {sample.id!r}", path=str(path), line=line)
        seen.add(sample.id)
        samples.append(sample)
    if not samples:
        raise DataError("no rows", path=str(path))
    return samples


def write_table(samples: Iterable[Sample], path: Path | str) -> Path:
    """Write samples as CSV/TSV or JSON lines (by suffix), as :func:`load_table` reads them.

    ``extra`` entries become additional columns.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"unknown table format {suffix!r}; use one of {sorted(TABLE_SUFFIXES)}",
            path=str(path),
        )
    samples = list(samples)
    extra_columns = sorted({k for s in samples for k in s.extra} - set(COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if suffix in JSONL_SUFFIXES:
            for sample in samples:
                record = _sample_to_record(sample, extra_columns)
                record["drugs"] = list(sample.drugs)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(
                handle, fieldnames=[*COLUMNS, *extra_columns], delimiter=_delimiter(path)
            )
            writer.writeheader()
            for sample in samples:
                record = _sample_to_record(sample, extra_columns)
                record["drugs"] = ";".join(sample.drugs)
                record["label"] = record["label"] or ""
                writer.writerow(record)
    return path


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    # utf-8-sig: spreadsheets often save CSV with a byte-order mark that would rename "id".
    with open_text(path, encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=_delimiter(path))
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise DataError(f"missing required column(s): {', '.join(missing)}", path=str(path))
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                raise DataError(
                    f"expected {len(header)} columns, found {len(values)}",
                    path=str(path),
                    line=reader.line_num,
                )
            yield reader.line_num, dict(zip(header, values, strict=True))


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_text(path, encoding="utf-8-sig") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON ({exc.msg})", path=str(path), line=line) from exc
            if not isinstance(row, dict):
                raise DataError("expected a JSON object", path=str(path), line=line)
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                raise DataError(
                    f"missing required key(s): {', '.join(missing)}", path=str(path), line=line
                )
            yield line, {str(k).lower(): v for k, v in row.items()}


def _text(value: Any) -> str:
    """A cell as a stripped string; JSON numbers and nulls are welcome."""
    return "" if value is None else str(value).strip()


def _row_to_sample(row: Mapping[str, Any], *, default_id: str, path: Path, line: int) -> Sample:
    for column in REQUIRED_COLUMNS:
        if not _text(row.get(column)):
            raise DataError(f"empty {column}", path=str(path), line=line)
    drugs = row.get("drugs")
    return Sample(
        id=_text(row.get("id")) or default_id,
        gene=_text(row["gene"]),
        variation=_text(row["variation"]),
        # Evidence text keeps its inner layout; only the ends are trimmed.
        text=_text(row.get("text")),
        label=_text(row.get("label")) or None,
        disease=_text(row.get("disease")),
        drugs=split_drugs(drugs if isinstance(drugs, list) else _text(drugs)),
        pubmed_id=_text(row.get("pubmed_id")),
        evidence_id=_text(row.get("evidence_id")),
        group=_text(row.get("group")),
        source=_text(row.get("source")) or "table",
        extra={k: _text(v) for k, v in row.items() if k not in COLUMNS},
    )


def _sample_to_record(sample: Sample, extra_columns: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {column: getattr(sample, column) for column in COLUMNS}
    record.update({k: sample.extra.get(k, "") for k in extra_columns})
    return record
