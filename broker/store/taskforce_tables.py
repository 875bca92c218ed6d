"""The task force's tables: obligations, deliverable events, consultations (SPEC §4).

They live on the same `metadata` as the core schema (`broker.store.tables`), so
one Alembic history covers both. As in the core, content columns hold
ciphertext only (SPEC §2): a feedback comment and every consultation message
are sealed with their own data key, wrapped by the key ring.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from broker.store.tables import Id, Ts, metadata

__all__ = ["consultation_messages", "consultations", "obligations"]

# What one member owes on one item (SPEC §4). `reminded_at` and
# `overdue_marked_at` are the sweeper's whole memory: persisted, so a
# restarted or second sweeper never reminds or marks twice.
obligations = Table(
    "obligations",
    metadata,
    Column("id", Id, primary_key=True),  # ULID
    Column("item_id", Id, ForeignKey("items.id"), nullable=False),
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # expert_feedback | quick_answer
    Column("due_at", Ts, nullable=False),
    Column("status", String(20), nullable=False),  # open | answered | cancelled | closed
    Column("verdict", String(20), nullable=True),
    # The comment, sealed: nonce || AES-GCM ciphertext; its data key wrapped by
    # the ring, bound to the obligation, item and member. NULL when there is
    # none, and erased with the item's content when the provider withdraws it.
    Column("comment", LargeBinary, nullable=True),
    Column("comment_wrapped_key", LargeBinary, nullable=True),
    Column("comment_kek_version", Integer, nullable=True),
    Column("answered_at", Ts, nullable=True),
    Column("late", Boolean, nullable=False),
    Column("reminded_at", Ts, nullable=True),
    Column("overdue_marked_at", Ts, nullable=True),
    Column("changes", Integer, nullable=False),
    Column("closed_at", Ts, nullable=True),  # when it was cancelled or closed
    Column("created_at", Ts, nullable=False),
    # One obligation per member and item, whatever path delivered the item.
    UniqueConstraint("item_id", "member_id", name="uq_obligations_item_member"),
    Index("ix_obligations_member_status", "member_id", "status", "due_at"),
    Index("ix_obligations_item_id", "item_id"),
    # The sweeper scans open obligations by due time.
    Index("ix_obligations_status_due", "status", "due_at"),
)

# A private consultation (charter art. 16(3)). `member_id` and `user_id` are
# who asked; the services show them to the coordinator only unless
# `revealed_at` is set. Both are bound into the wrapped key's associated data,
# so rewriting who asked makes the consultation fail to open.
consultations = Table(
    "consultations",
    metadata,
    Column("id", Id, primary_key=True),  # ULID
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("revealed_at", Ts, nullable=True),
    Column("created_at", Ts, nullable=False),
    Column("last_message_at", Ts, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),  # title and body, sealed
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("kek_version", Integer, nullable=False),
    Index("ix_consultations_member_id", "member_id", "id"),
)

# Replies and follow-ups in a consultation thread, each sealed on its own.
consultation_messages = Table(
    "consultation_messages",
    metadata,
    Column("id", Id, primary_key=True),  # ULID: thread order
    Column("consultation_id", Id, ForeignKey("consultations.id"), nullable=False),
    Column("author_member_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("author_user_id", Id, ForeignKey("users.id"), nullable=False),
    # Written by the consulting member: shown as "the consulter", never by name,
    # unless the consultation's identity was revealed.
    Column("from_consulter", Boolean, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("kek_version", Integer, nullable=False),
    Index("ix_consultation_messages_thread", "consultation_id", "id"),
)
