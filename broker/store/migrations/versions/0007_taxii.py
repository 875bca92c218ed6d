"""taxii statuses: the status resource of each posted TAXII envelope

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "taxii_statuses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_taxii_statuses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_statuses")),
    )
    op.create_index("ix_taxii_statuses_created_at", "taxii_statuses", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_taxii_statuses_created_at", table_name="taxii_statuses")
    op.drop_table("taxii_statuses")
