"""item ceilings: which live items carry a ceiling of which source

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:15:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_ceilings",
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_ceilings_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["items.id"], name=op.f("fk_item_ceilings_source_id_items")
        ),
        sa.PrimaryKeyConstraint("source_id", "item_id", name=op.f("pk_item_ceilings")),
    )
    # Items stored before this revision: their current ceilings, from their
    # current scope version (the same facts the broker reads them by).
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT i.id, v.constraints FROM items i JOIN scope_versions v"
            " ON v.item_id = i.id AND v.version = i.scope_version"
        )
    )
    ceilings = [
        {"source_id": constraint["source_id"], "item_id": item_id}
        for item_id, constraints in rows
        for constraint in (json.loads(constraints) if isinstance(constraints, str) else constraints)
    ]
    if ceilings:
        op.bulk_insert(
            sa.table("item_ceilings", sa.column("source_id"), sa.column("item_id")), ceilings
        )


def downgrade() -> None:
    op.drop_table("item_ceilings")
