"""The prediction history table, as a SQLAlchemy 2.0 ORM model.

The columns people filter and sort on (gene, time, model, predicted class) are real columns; the
rest of the result (every class probability, the evidence weights, the flags, the parsed
variation) is one JSON document, so that adding an output field needs no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    Index,
    Integer,
    Text,
    TypeDecorator,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: BIGINT on PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` is the auto-incrementing rowid.
ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it without the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class PredictionRecord(Base):
    """One stored prediction: its inputs, its result and the model that made it."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: "predict" (one variant) or "batch".
    source: Mapped[str] = mapped_column(Text, default="predict")
    #: Rows scored together share a batch id; ``row`` is their 1-based place in the input.
    batch_id: Mapped[str | None] = mapped_column(Text)
    row: Mapped[int | None] = mapped_column(Integer)
    #: The caller's sample name (a MAF's Tumor_Sample_Barcode), if any.
    sample: Mapped[str | None] = mapped_column(Text)
    # ---- inputs
    gene: Mapped[str] = mapped_column(Text)
    variation: Mapped[str] = mapped_column(Text)
    disease: Mapped[str] = mapped_column(Text, default="")
    drugs: Mapped[list[str]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")
    # ---- outputs
    task: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    probability: Mapped[float] = mapped_column(Float)
    #: Everything else the predictor returned (probabilities, evidence, flags, variation).
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_name: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str] = mapped_column(Text)
    #: The CIViC release the knowledge beside the answer came from.
    knowledge_release: Mapped[str | None] = mapped_column(Text)
    #: sha256 of the evidence text as received (the text itself may be de-identified, or not
    #: stored at all: ``Settings.store_text``).
    text_hash: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_predictions_batch_id", "batch_id"),
        Index("ix_predictions_created_at", "created_at"),
    )

    def __repr__(self) -> str:
        return f"PredictionRecord(id={self.id}, gene={self.gene!r}, label={self.label!r})"


# The history filter is case-insensitive ("braf" finds BRAF): index the upper-cased gene.
Index("ix_predictions_gene_upper", func.upper(PredictionRecord.gene))


class ApiKeyRecord(Base):
    """An API key: only its hash is stored; ``prefix`` (public) finds it, ``scopes`` say what
    it may do (predict, history, admin)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Requests per minute this key may make (None: ``Settings.rate_limit_per_minute``).
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
