"""sealed resolution texts: title, text, purpose and reasons in one envelope

Columns only (no table rebuild). Resolutions stored before this revision keep
their texts in the clear columns until the broker seals them when it starts
(it holds the key ring, which this migration does not).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("nonce", sa.LargeBinary()),
    ("ciphertext", sa.LargeBinary()),
    ("wrapped_key", sa.LargeBinary()),
    ("kek_version", sa.Integer()),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("resolutions", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    # Sealed texts cannot be brought back without the key ring: a downgrade loses
    # them (restore the backup taken before the upgrade instead).
    with op.batch_alter_table("resolutions") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
