"""Reading and writing the prediction history; the only code that queries the table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from oncoclass.history.db import WRITE_OPTIONS
from oncoclass.history.models import PredictionRecord

#: Ids are 64-bit; a larger one cannot exist (and would overflow the database's integer).
MAX_ID = 2**63 - 1


class PredictionRepository:
    """The prediction history over one session. Each write is one transaction of its own."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: PredictionRecord) -> PredictionRecord:
        return self.add_all([record])[0]

    def add_all(self, records: Sequence[PredictionRecord]) -> list[PredictionRecord]:
        """Store ``records`` atomically (all or none) and return them with their ids."""
        if not records:
            return []
        # End any read transaction first: a write must start as one (see history.db).
        if self.session.in_transaction():
            self.session.commit()
        self.session.connection(execution_options=WRITE_OPTIONS)
        try:
            self.session.add_all(records)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return list(records)

    def get(self, id: int) -> PredictionRecord | None:
        if not 1 <= id <= MAX_ID:
            return None
        return self.session.get(PredictionRecord, id)

    def list(
        self, *, limit: int = 50, offset: int = 0, gene: str | None = None
    ) -> tuple[list[PredictionRecord], int]:
        """A page of the history, newest first, and the total number of matching records."""
        query = select(PredictionRecord)
        counter = select(func.count()).select_from(PredictionRecord)
        if gene is not None and gene.strip():
            condition = func.upper(PredictionRecord.gene) == gene.strip().upper()
            query, counter = query.where(condition), counter.where(condition)
        total = self.session.scalar(counter) or 0
        page = query.order_by(PredictionRecord.id.desc()).limit(limit).offset(offset)
        return list(self.session.scalars(page)), total

    def purge(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the predictions made before ``before`` (retention); their number."""
        condition = PredictionRecord.created_at < before
        if dry_run:
            return self.session.scalar(select(func.count()).where(condition)) or 0
        if self.session.in_transaction():
            self.session.commit()
        self.session.connection(execution_options=WRITE_OPTIONS)
        result = self.session.execute(delete(PredictionRecord).where(condition))
        self.session.commit()
        return int(result.rowcount or 0)

    def count(self, gene: str | None = None) -> int:
        return self.list(limit=0, gene=gene)[1]
