"""resolutions: committee and assembly votes, ballots, information-request answers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:03:17.106019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resolutions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("body", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("subject_member_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seats", sa.JSON(), nullable=False),
        sa.Column("electorate", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=True),
        sa.Column("target_member_ids", sa.JSON(), nullable=False),
        sa.Column("refusal_reason", sa.String(length=2000), nullable=True),
        sa.Column("tally", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_resolutions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["subject_member_id"],
            ["bodies.id"],
            name=op.f("fk_resolutions_subject_member_id_bodies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
    )
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resolutions_status_closes_at", ["status", "closes_at"], unique=False
        )
        batch_op.create_index(
            "ix_resolutions_subject_member_id", ["subject_member_id"], unique=False
        )

    op.create_table(
        "information_request_answers",
        sa.Column("resolution_id", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_information_request_answers_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["bodies.id"],
            name=op.f("fk_information_request_answers_member_id_bodies"),
        ),
        sa.ForeignKeyConstraint(
            ["resolution_id"],
            ["resolutions.id"],
            name=op.f("fk_information_request_answers_resolution_id_resolutions"),
        ),
        sa.PrimaryKeyConstraint(
            "resolution_id", "member_id", "item_id", name=op.f("pk_information_request_answers")
        ),
    )
    op.create_table(
        "resolution_ballots",
        sa.Column("resolution_id", sa.String(length=40), nullable=False),
        sa.Column("voter_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("vote", sa.String(length=10), nullable=True),
        sa.Column("recused", sa.Boolean(), nullable=False),
        sa.Column("proxy_to", sa.String(length=40), nullable=True),
        sa.Column("seat", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resolution_id"],
            ["resolutions.id"],
            name=op.f("fk_resolution_ballots_resolution_id_resolutions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_resolution_ballots_user_id_users")
        ),
        sa.PrimaryKeyConstraint("resolution_id", "voter_id", name=op.f("pk_resolution_ballots")),
    )


def downgrade() -> None:
    op.drop_table("resolution_ballots")
    op.drop_table("information_request_answers")
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.drop_index("ix_resolutions_subject_member_id")
        batch_op.drop_index("ix_resolutions_status_closes_at")

    op.drop_table("resolutions")
