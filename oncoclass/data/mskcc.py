"""The Kaggle "Personalized Medicine: Redefining Cancer Treatment" (MSKCC, 2017) files.

The files are read exactly as Kaggle published them:

* ``training_variants`` / ``test_variants``: CSV ``ID,Gene,Variation[,Class]``;
* ``training_text`` / ``test_text``: a header line ``ID,Text``, then one row per line written as
  ``ID||Text`` (the text contains commas, hence the odd separator);
* ``stage1_solution_filtered.csv``: ``ID,class1..class9``, one-hot labels of 368 stage-1 test rows.

Class labels stay the strings ``"1"`` .. ``"9"`` (see ``oncoclass.data.tasks.MSKCC_CLASS_NAMES``).
Many rows share one text (a paper discussing several variants), so each text-bearing sample's
``group`` is a hash of its text: identical texts never end up on both sides of a split.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from oncoclass.data.generic import open_text, require_file
from oncoclass.data.records import Sample
from oncoclass.errors import DataError

CLASSES: tuple[str, ...] = tuple(str(c) for c in range(1, 10))
VARIANT_COLUMNS: tuple[str, ...] = ("ID", "Gene", "Variation")
TEXT_HEADER = "ID,Text"
TEXT_SEPARATOR = "||"
SOLUTION_COLUMNS: tuple[str, ...] = ("ID", *(f"class{c}" for c in CLASSES))

TRAIN_VARIANTS = "training_variants"
STAGE1_VARIANTS = "test_variants"
STAGE1_SOLUTION = "stage1_solution_filtered.csv"
#: Text files looked for by ``text_file="auto"``, first match wins (the ``_sample`` files hold a
#: few complete texts in the real format, for environments without the 500 MB originals).
TRAIN_TEXTS: tuple[str, ...] = ("training_text", "training_text_sample")
STAGE1_TEXTS: tuple[str, ...] = ("test_text", "test_text_sample")
#: Kaggle wrote the literal string "null" for a handful of rows whose text was missing.
_MISSING_TEXT = "null"


def read_variants(path: Path | str) -> list[dict[str, str]]:
    """Rows of a ``*_variants`` file as dicts keyed by its header (``ID,Gene,Variation[,Class]``).

    ``Class``, when present, is checked to be an integer 1..9 and kept as its string.
    """
    path = require_file(path, "MSKCC variants file")
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header not in (list(VARIANT_COLUMNS), [*VARIANT_COLUMNS, "Class"]):
            raise DataError(
                f"expected header {','.join(VARIANT_COLUMNS)}[,Class], found {header}",
                path=str(path),
                line=1,
            )
        for values in reader:
            line = reader.line_num
            if not values:
                continue  # a trailing blank line
            if len(values) != len(header):
                raise DataError(
                    f"expected {len(header)} columns, found {len(values)}",
                    path=str(path),
                    line=line,
                )
            row = dict(zip(header, (v.strip() for v in values), strict=True))
            if not row["ID"] or not row["Gene"] or not row["Variation"]:
                raise DataError("empty ID, Gene or Variation", path=str(path), line=line)
            if row["ID"] in seen:
                raise DataError(f"duplicate ID {row['ID']!r}", path=str(path), line=line)
            seen.add(row["ID"])
            if "Class" in row:
                row["Class"] = _parse_class(row["Class"], path=path, line=line)
            rows.append(row)
    if not rows:
        raise DataError("no variant rows after the header", path=str(path))
    return rows


def read_texts(path: Path | str) -> dict[str, str]:
    """ID -> text of a ``*_text`` file (header ``ID,Text``, then ``ID||Text`` per line)."""
    path = require_file(path, "MSKCC text file")
    texts: dict[str, str] = {}
    with open_text(path) as handle:
        header = handle.readline().rstrip("\r\n")
        if header != TEXT_HEADER:
            raise DataError(
                f"expected header {TEXT_HEADER!r}, found {header[:40]!r}", path=str(path), line=1
            )
        for line, raw in enumerate(handle, start=2):
            raw = raw.rstrip("\r\n")
            if not raw.strip():
                continue
            # Split on the first "||" only: the id never contains it, a text might.
            ident, sep, text = raw.partition(TEXT_SEPARATOR)
            ident = ident.strip()
            if not sep:
                raise DataError(f"expected 'ID{TEXT_SEPARATOR}Text'", path=str(path), line=line)
            if not ident:
                raise DataError("empty ID", path=str(path), line=line)
            if ident in texts:
                raise DataError(f"duplicate ID {ident!r}", path=str(path), line=line)
            text = text.strip()
            texts[ident] = "" if text == _MISSING_TEXT else text
    if not texts:
        raise DataError("no text rows after the header", path=str(path))
    return texts


def read_stage1_solution(path: Path | str) -> dict[str, str]:
    """ID -> class ``"1".."9"`` from the one-hot ``stage1_solution_filtered.csv``."""
    path = require_file(path, "MSKCC stage-1 solution")
    labels: dict[str, str] = {}
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != list(SOLUTION_COLUMNS):
            raise DataError(
                f"expected header {','.join(SOLUTION_COLUMNS)}, found {header}",
                path=str(path),
                line=1,
            )
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(SOLUTION_COLUMNS):
                raise DataError(
                    f"expected {len(SOLUTION_COLUMNS)} columns, found {len(values)}",
                    path=str(path),
                    line=line,
                )
            ident, *one_hot = (v.strip() for v in values)
            if set(one_hot) - {"0", "1"} or one_hot.count("1") != 1:
                raise DataError(
                    f"expected a one-hot row (one 1, eight 0), found {one_hot}",
                    path=str(path),
                    line=line,
                )
            if ident in labels:
                raise DataError(f"duplicate ID {ident!r}", path=str(path), line=line)
            labels[ident] = CLASSES[one_hot.index("1")]
    if not labels:
        raise DataError("no label rows after the header", path=str(path))
    return labels


def load_mskcc_train(directory: Path | str, text_file: Path | str | None = "auto") -> list[Sample]:
    """The 3,321 labelled training variants, with their texts where available.

    ``text_file``: ``"auto"`` uses ``training_text`` (or ``training_text_sample``) in
    ``directory`` when there is one; a path names the text file (relative to ``directory`` or
    absolute); ``None`` loads variants only. A row without a text gets ``text=""``.
    """
    directory = Path(directory).expanduser()
    rows = read_variants(directory / TRAIN_VARIANTS)
    texts = _texts(directory, text_file, TRAIN_TEXTS)
    return [_sample(row, row["Class"], texts, "mskcc-train") for row in rows]


def load_mskcc_stage1(directory: Path | str, text_file: Path | str | None = "auto") -> list[Sample]:
    """The stage-1 test variants that have a label in ``stage1_solution_filtered.csv`` (368).

    ``text_file`` works as in :func:`load_mskcc_train`, looking for ``test_text``.
    """
    directory = Path(directory).expanduser()
    solution_path = directory / STAGE1_SOLUTION
    labels = read_stage1_solution(solution_path)
    rows = {row["ID"]: row for row in read_variants(directory / STAGE1_VARIANTS)}
    unknown = sorted(set(labels) - set(rows), key=lambda i: (len(i), i))
    if unknown:
        raise DataError(
            f"labels for IDs missing from {STAGE1_VARIANTS}: {', '.join(unknown[:5])}",
            path=str(solution_path),
        )
    texts = _texts(directory, text_file, STAGE1_TEXTS)
    return [_sample(rows[i], labels[i], texts, "mskcc-stage1") for i in rows if i in labels]


def text_group(text: str) -> str:
    """A short, stable key shared by identical texts."""
    return "text:" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _parse_class(value: str, *, path: Path, line: int) -> str:
    try:
        number = int(value)
    except ValueError:
        raise DataError(f"Class {value!r} is not an integer", path=str(path), line=line) from None
    if str(number) not in CLASSES:
        raise DataError(f"Class {number} is outside 1..9", path=str(path), line=line)
    return str(number)


def _texts(
    directory: Path, text_file: Path | str | None, auto_names: tuple[str, ...]
) -> dict[str, str]:
    if text_file is None:
        return {}
    if text_file == "auto":
        found = next((directory / n for n in auto_names if (directory / n).is_file()), None)
        return read_texts(found) if found else {}
    return read_texts(directory / Path(text_file).expanduser())  # an absolute path stays as is


def _sample(row: dict[str, str], label: str, texts: dict[str, str], source: str) -> Sample:
    text = texts.get(row["ID"], "")
    return Sample(
        id=row["ID"],
        gene=row["Gene"],
        variation=row["Variation"],
        text=text,
        label=label,
        group=text_group(text) if text else f"id:{row['ID']}",
        source=source,
    )
