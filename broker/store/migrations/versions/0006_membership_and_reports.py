"""membership and reports: the committee's chair, violation reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ONE_CHAIR = "chair AND revoked_at IS NULL"


def upgrade() -> None:
    # The steering committee's chair (art. 11(5)); existing users are not.
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("chair", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_index(
        "ix_users_one_chair",
        "users",
        ["member_id"],
        unique=True,
        sqlite_where=sa.text(_ONE_CHAIR),
        postgresql_where=sa.text(_ONE_CHAIR),
    )
    # Violation reports to the secretariat (art. 29): the text and what it names sealed.
    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["bodies.id"], name=op.f("fk_reports_member_id_bodies")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_reports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index("ix_reports_user_id", "reports", ["user_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_reports_user_id", table_name="reports")
    op.drop_table("reports")
    op.drop_index("ix_users_one_chair", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("chair")
