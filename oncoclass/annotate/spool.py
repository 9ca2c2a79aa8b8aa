"""Where an annotation keeps its rows and variants while it runs: SQLite in a temporary folder.

A cohort file can hold millions of rows; holding each row's result in memory would make memory
grow with the file. The engine instead appends every row to this spool as it reads it, and the
writers read the rows back in input order, so that memory holds only the distinct variants'
keys (a few hundred bytes each) whatever the file's size. SQLite also answers what a stream
cannot, on disk: how many distinct samples carry a variant, in which order they came.

The spool is private to one annotation, written by one thread at a time, and deleted with it.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

#: Rows written in one transaction.
FLUSH_ROWS = 2_000

_SCHEMA = """
CREATE TABLE rows (
    seq INTEGER PRIMARY KEY,
    line INTEGER NOT NULL,
    sample TEXT,
    gene TEXT,
    variation TEXT,
    status TEXT NOT NULL,
    variant INTEGER,
    field TEXT,
    message TEXT
);
CREATE TABLE inputs (idx INTEGER PRIMARY KEY, coding INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE variants (idx INTEGER PRIMARY KEY, rank INTEGER NOT NULL, doc TEXT NOT NULL);
"""

#: A row as stored: (line, sample, gene, variation, status, variant, field, message).
Row = tuple[int, str | None, str | None, str | None, str, int | None, str | None, str | None]


class Spool:
    """Rows, distinct inputs and finished variants of one annotation, on disk."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="oncoclass-annotate-", dir=directory)
        path = Path(self._tmp.name) / "spool.sqlite3"
        # One thread at a time, but not always the one that opened it (the API reads the
        # result back in another worker thread than the one that wrote it).
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # Scratch data, deleted at the end: no journal, no fsync.
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16384;" + _SCHEMA
        )
        self._rows: list[Row] = []
        self._inputs: list[tuple[int, int, str]] = []
        self._indexed = False

    # ---- writing --------------------------------------------------------------------------------
    def add_row(self, row: Row) -> None:
        self._rows.append(row)
        if len(self._rows) >= FLUSH_ROWS:
            self.flush()

    def add_input(self, index: int, coding: bool, doc: str) -> None:
        self._inputs.append((index, int(coding), doc))
        if len(self._inputs) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._rows and not self._inputs:
            return
        with self._transaction():
            self._db.executemany(
                "INSERT INTO rows (line, sample, gene, variation, status, variant, field, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self._rows,
            )
            self._db.executemany("INSERT INTO inputs VALUES (?, ?, ?)", self._inputs)
        self._rows.clear()
        self._inputs.clear()

    def finish_rows(self) -> None:
        """Every row is in: index them by variant (faster than keeping the index up to date
        while writing)."""
        self.flush()
        if not self._indexed:
            self._db.execute("CREATE INDEX rows_by_variant ON rows (variant, sample, seq)")
            self._indexed = True

    def put_variants(self, variants: Sequence[tuple[int, int, str]]) -> None:
        """(index, rank, JSON document) of finished variants; rank orders the report."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO variants VALUES (?, ?, ?)", variants)

    # ---- reading --------------------------------------------------------------------------------
    def input_docs(self, *, coding: bool) -> Iterator[str]:
        yield from self._query("SELECT doc FROM inputs WHERE coding = ? ORDER BY idx", (coding,))

    def count_inputs(self, *, coding: bool) -> int:
        return self._scalar("SELECT COUNT(*) FROM inputs WHERE coding = ?", (int(coding),))

    def carriers(self, variant: int) -> tuple[list[str], list[int]]:
        """The distinct named samples carrying a variant, and its lines, in input order."""
        samples = list(
            self._query(
                "SELECT sample FROM rows WHERE variant = ? AND sample != '' "
                "GROUP BY sample ORDER BY MIN(seq)",
                (variant,),
            )
        )
        lines = list(
            self._query(
                "SELECT DISTINCT line FROM rows WHERE variant = ? ORDER BY line", (variant,)
            )
        )
        return samples, lines

    def rows(self, status: str | None = None) -> Iterator[Row]:
        """The rows in input order (only those of ``status`` if given)."""
        columns = "line, sample, gene, variation, status, variant, field, message"
        if status is None:
            cursor = self._db.execute(f"SELECT {columns} FROM rows ORDER BY seq")
        else:
            cursor = self._db.execute(
                f"SELECT {columns} FROM rows WHERE status = ? ORDER BY seq", (status,)
            )
        yield from cursor

    def errors(self) -> Iterator[tuple[int, str | None, str]]:
        cursor = self._db.execute(
            "SELECT line, field, message FROM rows WHERE status = 'error' ORDER BY seq"
        )
        yield from cursor

    def variant_docs(self, *, by_rank: bool = False) -> Iterator[str]:
        order = "rank, idx" if by_rank else "idx"
        yield from self._query(f"SELECT doc FROM variants ORDER BY {order}")

    def ranked_docs(self, low: int, high: int) -> Iterator[str]:
        """Documents of the variants with ``low <= rank < high``, best rank first."""
        yield from self._query(
            "SELECT doc FROM variants WHERE rank >= ? AND rank < ? ORDER BY rank, idx",
            (low, high),
        )

    def count_rows(self, status: str | None = None) -> int:
        if status is None:
            return self._scalar("SELECT COUNT(*) FROM rows")
        return self._scalar("SELECT COUNT(*) FROM rows WHERE status = ?", (status,))

    def count_samples(self) -> int:
        return self._scalar("SELECT COUNT(DISTINCT sample) FROM rows WHERE sample != ''")

    def close(self) -> None:
        self._db.close()
        self._tmp.cleanup()

    # ---- internals ------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        for (value,) in self._db.execute(sql, params):
            yield value

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> int:
        (value,) = self._db.execute(sql, params).fetchone()
        return int(value or 0)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, *rest: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
