"""items by provider and idempotency key: TAXII re-posts are recognised per member

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_items_provider_idempotency", "items", ["provider_id", "idempotency_key"])


def downgrade() -> None:
    op.drop_index("ix_items_provider_idempotency", table_name="items")
