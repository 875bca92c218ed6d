"""stix refs: the STIX objects of each item, by a keyed digest of their ids

Items stored before this revision are marked unindexed; the broker indexes
them when it starts (it holds the key ring, which this migration does not).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no table rebuild): SQLite takes it with a constant default.
    op.add_column(
        "items",
        sa.Column("stix_indexed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_items_stix_unindexed",
        "items",
        ["id"],
        sqlite_where=sa.text("stix_indexed = 0"),
        postgresql_where=sa.text("NOT stix_indexed"),
    )
    op.create_table(
        "stix_refs",
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_stix_refs_item_id_items")),
        sa.PrimaryKeyConstraint("ref", "item_id", name=op.f("pk_stix_refs")),
    )
    op.create_index("ix_stix_refs_item_id", "stix_refs", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_stix_refs_item_id", table_name="stix_refs")
    op.drop_table("stix_refs")
    op.drop_index("ix_items_stix_unindexed", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("stix_indexed")  # SQLite drops a column by rebuilding the table
