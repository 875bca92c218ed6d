"""token lifecycle: a token's expiry and when it was last used

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add columns inside some ALTERs; batch
    # mode does the right thing on both databases. Existing tokens keep no
    # expiry (they were issued without one).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
