"""Record the knowledge release that answered, and the evidence text's hash.

Every history row now says which CIViC release the knowledge beside the answer came from
(the model version was already recorded), and keeps the sha256 of the evidence text: with
``Settings.store_text`` off only the hash is stored, and a de-identified text can still be
matched to the text a client holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch copy of the table would lose the expression
    # index on upper(gene), which SQLite's reflection cannot see.
    op.add_column("predictions", sa.Column("knowledge_release", sa.Text(), nullable=True))
    op.add_column("predictions", sa.Column("text_hash", sa.Text(), nullable=True))
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_predictions_created_at", table_name="predictions")
    # SQLite drops columns by copying the table: the expression index is made again after.
    op.drop_index("ix_predictions_gene_upper", table_name="predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("text_hash")
        batch.drop_column("knowledge_release")
    op.create_index("ix_predictions_gene_upper", "predictions", [sa.text("upper(gene)")])
