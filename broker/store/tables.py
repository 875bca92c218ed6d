"""The schema, as SQLAlchemy Core tables: the same on SQLite and PostgreSQL.

Alembic migrations (`migrations/`) create it; tests compare the two so they
never drift. Content columns hold ciphertext only (SPEC §2: stored encrypted);
keys live in the key ring, never here.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

__all__ = [
    "Id",
    "Ts",
    "audience_members",
    "audiences",
    "audit_checkpoints",
    "audit_events",
    "audit_head",
    "audit_item_refs",
    "bodies",
    "consents",
    "consultation_messages",
    "consultations",
    "events",
    "handlers",
    "information_request_answers",
    "item_ceilings",
    "items",
    "metadata",
    "obligations",
    "reports",
    "scope_versions",
    "stix_refs",
    "taxii_statuses",
    "users",
    "webhook_dead_letters",
    "webhooks",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = String(40)
Ts = DateTime(timezone=True)

bodies = Table(
    "bodies",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("category", String(40), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("regulator", Boolean, nullable=False),
    Column("law_enforcement", Boolean, nullable=False),
    Column("foreign", Boolean, nullable=False),
    Column("mutual_aid", Boolean, nullable=False),
    Column("listed", Boolean, nullable=False),
    Column("refuses_secrets", Boolean, nullable=False),
    Column("early_warning", Boolean, nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("updated_at", Ts, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    # SHA-256 of the bearer token: the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Ts, nullable=False),
    Column("revoked_at", Ts, nullable=True),
    # The steering committee's chair (art. 11(5)): one committee seat, at most one
    # unrevoked chair per body (the index enforces it against racing writers too).
    Column("chair", Boolean, nullable=False, server_default=false()),
    Index(
        "ix_users_one_chair",
        "member_id",
        unique=True,
        sqlite_where=text("chair AND revoked_at IS NULL"),
        postgresql_where=text("chair AND revoked_at IS NULL"),
    ),
    # A token's lifetime: it stops signing in at `expires_at` (None: never by itself).
    Column("expires_at", Ts, nullable=True),
    # Written at most once a minute per token, so signing in is not a write.
    Column("last_used_at", Ts, nullable=True),
)

handlers = Table(
    "handlers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("effective_from", Ts, nullable=False),
    Column("effective_until", Ts, nullable=True),
    Column("created_at", Ts, nullable=False),
    Index("ix_handlers_member_user", "member_id", "user_id"),
)

# A deduplicated recipient set: audiences repeat (the same groups and
# exclusions), so routing writes per item, not per recipient.
audiences = Table(
    "audiences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("created_at", Ts, nullable=False),
)

audience_members = Table(
    "audience_members",
    metadata,
    Column("member_id", Id, primary_key=True),
    Column("audience_id", String(64), ForeignKey("audiences.id"), primary_key=True),
)

items = Table(
    "items",
    metadata,
    Column("id", Id, primary_key=True),  # ULID: sorts by creation time
    Column("provider_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("submitter_user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("confidence", String(20), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("secret", Boolean, nullable=False),
    # Denormalised strictest-of(own, unconsented ceilings): lets listings skip,
    # in SQL, what a non-handler may not see; the policy re-checks every row.
    Column("effective_tlp", String(20), nullable=False),
    Column("effective_secret", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("scope_version", Integer, nullable=False),
    Column("audience_id", String(64), ForeignKey("audiences.id"), nullable=False),
    Column("derived_from", JSON, nullable=False),
    Column("feedback_due", Ts, nullable=True),
    Column("created_at", Ts, nullable=False),
    Column("withdrawn_at", Ts, nullable=True),
    Column("nonce", LargeBinary, nullable=True),
    Column("ciphertext", LargeBinary, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),  # NULL once withdrawn: crypto-shredded
    Column("kek_version", Integer, nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_digest", String(64), nullable=True),
    Column("submit_result", JSON, nullable=True),  # replayed for a retried Idempotency-Key
    # Whether `stix_refs` holds the item's objects (items stored before it are
    # indexed when the broker starts: `StixRefs.backfill`).
    Column("stix_indexed", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("submitter_user_id", "idempotency_key", name="uq_items_idempotency"),
    Index("ix_items_audience_id", "audience_id", "id"),
    Index("ix_items_provider_id", "provider_id", "id"),
    # A TAXII re-post is recognised among the member's items (docs/taxii.md).
    Index("ix_items_provider_idempotency", "provider_id", "idempotency_key"),
    Index(
        "ix_items_stix_unindexed",
        "id",
        sqlite_where=text("stix_indexed = 0"),
        postgresql_where=text("NOT stix_indexed"),
    ),
)

# The STIX objects each item is served as, by a keyed digest of the object's id
# (`broker.services.stix_refs`): an object is found by id without opening every
# item, and the database holds no STIX id in the clear.
stix_refs = Table(
    "stix_refs",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("item_id", Id, ForeignKey("items.id"), primary_key=True),
    Index("ix_stix_refs_item_id", "item_id"),
)

scope_versions = Table(
    "scope_versions",
    metadata,
    Column("item_id", Id, ForeignKey("items.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("scope", JSON, nullable=False),
    Column("constraints", JSON, nullable=False),
    Column("change", String(20), nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("created_by", Id, nullable=False),
)

# Which live items carry a ceiling of which source (art. 17(3)): ceilings are
# flattened onto every item built on a source, however indirectly, so a
# source's scope change finds every item to re-clip with one indexed look-up
# instead of a scan of every scope version under the write lock (SPEC §3
# rule 2). Rows are written with the item; a superset is harmless (the policy
# re-checks each candidate, `broker.tlp.reclip`).
item_ceilings = Table(
    "item_ceilings",
    metadata,
    Column("source_id", Id, ForeignKey("items.id"), primary_key=True),
    Column("item_id", Id, ForeignKey("items.id"), primary_key=True),
)

consents = Table(
    "consents",
    metadata,
    Column("derived_item_id", Id, ForeignKey("items.id"), primary_key=True),
    Column("provider_id", Id, ForeignKey("bodies.id"), primary_key=True),
    Column("requested_at", Ts, nullable=False),
    Column("consented_at", Ts, nullable=True),
    Column("consented_by", Id, nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("id", Id, nullable=False),
    Column("at", String(40), nullable=False),
    Column("actor_user_id", Id, nullable=True),
    Column("actor_member_id", Id, nullable=True),
    Column("action", String(40), nullable=False),
    Column("item_id", String(64), nullable=True),
    Column("subject_member_id", Id, nullable=True),
    Column("outcome", String(10), nullable=False),
    Column("reason", String(300), nullable=True),
    Column("details", Text, nullable=False),  # canonical JSON, exactly as hashed
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_item_id", "item_id"),
    Index("ix_audit_events_actor_member_id", "actor_member_id"),
)

# Listings touch many items in one event; this lets a provider's access log
# find the listings that showed its item (SPEC §5).
audit_item_refs = Table(
    "audit_item_refs",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column(
        "size", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    ),
    Column("head", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("key_id", String(40), nullable=False),
    Column("signature", String(200), nullable=False),
)

# Deliverable events for the live stream and webhooks (docs/api.md "Delivery").
# `seq` is numbered while the writer holds the write lock, so seq order is
# commit order and a cursor never skips a late commit. An event goes either to
# one member (`member_id`: obligations, reminders) or to an item's audience
# (`audience_id`: the item, its scope changes, its withdrawal): one row per
# item, not per recipient. Payloads carry ids and metadata, never content.
events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("kind", String(24), nullable=False),
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=True),
    Column("audience_id", String(64), ForeignKey("audiences.id"), nullable=True),
    Column("item_id", Id, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("created_at", Ts, nullable=False),
    Index("ix_events_member_id", "member_id", "seq"),
    Index("ix_events_audience_id", "audience_id", "seq"),
)

# Member systems (SIEM, ticketing) that receive the events the member may see.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    # The HMAC secret, sealed like item content: the database never holds it in clear.
    Column("secret_nonce", LargeBinary, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("secret_wrapped_key", LargeBinary, nullable=False),
    Column("secret_kek_version", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("cursor", BigInteger, nullable=False),  # last event seq delivered or dead-lettered
    Column("attempts", Integer, nullable=False),  # failed attempts at the next event
    Column("next_attempt_at", Ts, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", Ts, nullable=False),
    Column("created_by", Id, nullable=False),
)

webhook_dead_letters = Table(
    "webhook_dead_letters",
    metadata,
    Column("id", Id, primary_key=True),
    Column("webhook_id", Id, ForeignKey("webhooks.id"), nullable=False, index=True),
    Column("event_seq", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(300), nullable=False),
    Column("created_at", Ts, nullable=False),
)

# -- the task force (SPEC §4) ---------------------------------------------------
# As in the core, content columns hold ciphertext only (SPEC §2): a feedback
# comment and every consultation message are sealed with their own data key.

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

# -- governance (SPEC §6) ---------------------------------------------------------

# A resolution of the steering committee or the general assembly. `seats`
# (committee user ids) and `electorate` (member ids) are fixed when it opens,
# so a count never depends on when it is read. `tally` is the count it was
# decided on. Proceedings are not public (art. 27): the services decide who
# sees a row, and how much of it.
resolutions = Table(
    "resolutions",
    metadata,
    Column("id", Id, primary_key=True),  # ULID
    Column("kind", String(30), nullable=False),
    Column("body", String(20), nullable=False),
    # The texts (title, text, purpose, the refusal and recusal reasons) are
    # sealed (`broker.services.resolution_texts`): these four clear columns
    # are empty ("", NULL) but on a row from before the seal, until the broker
    # seals it when it starts.
    Column("title", String(300), nullable=False),
    Column("text", Text, nullable=True),
    Column("subject_member_id", Id, ForeignKey("bodies.id"), nullable=True),
    Column("status", String(20), nullable=False),
    Column("created_by", Id, ForeignKey("users.id"), nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("closes_at", Ts, nullable=True),
    Column("decided_at", Ts, nullable=True),
    Column("effective_at", Ts, nullable=True),
    Column("published_at", Ts, nullable=True),
    Column("seats", JSON, nullable=False),
    Column("electorate", JSON, nullable=False),
    Column("purpose", Text, nullable=True),  # art. 23: what is asked, and why
    Column("scope", JSON, nullable=True),  # art. 23: the scope answers get
    Column("target_member_ids", JSON, nullable=False),
    Column("refusal_reason", String(2000), nullable=True),
    Column("tally", JSON, nullable=True),
    Column("nonce", LargeBinary, nullable=True),
    Column("ciphertext", LargeBinary, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("kek_version", Integer, nullable=True),
    # The leader's sweeper closes open resolutions by deadline.
    Index("ix_resolutions_status_closes_at", "status", "closes_at"),
    Index("ix_resolutions_subject_member_id", "subject_member_id"),
)

# One act per voter on a resolution: a vote, a recusal (art. 11(6)) or a proxy
# (art. 10(5)). `voter_id` is the seat's user id (committee) or the member's
# id (assembly); a committee seat speaking for the proviso of art. 10(6) is
# recorded under its user id with `seat` set.
resolution_ballots = Table(
    "resolution_ballots",
    metadata,
    Column("resolution_id", Id, ForeignKey("resolutions.id"), primary_key=True),
    Column("voter_id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("vote", String(10), nullable=True),
    Column("recused", Boolean, nullable=False),
    Column("proxy_to", Id, nullable=True),
    Column("seat", Boolean, nullable=False),
    Column("reason", String(2000), nullable=True),
    Column("created_at", Ts, nullable=False),
)

# Answers to a passed information request (art. 23): items its target members
# submitted with the request's scope.
information_request_answers = Table(
    "information_request_answers",
    metadata,
    Column("resolution_id", Id, ForeignKey("resolutions.id"), primary_key=True),
    Column("member_id", Id, ForeignKey("bodies.id"), primary_key=True),
    Column("item_id", Id, ForeignKey("items.id"), primary_key=True),
    Column("answered_at", Ts, nullable=False),
)

# Violation reports to the secretariat (charter art. 29). Who reported is in the
# clear (the reporter lists its own); the text, the item and member it names and
# the secretariat's note are sealed, and the wrapped key is bound to the report
# and its reporter, so moving a report to another reporter breaks the seal.
reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True),  # ULID: newest first by id
    Column("member_id", Id, ForeignKey("bodies.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("updated_at", Ts, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("kek_version", Integer, nullable=False),
    Index("ix_reports_user_id", "user_id", "id"),
)

# TAXII 2.1 §4.3: the status of each envelope a caller posted, shown to that
# caller only, kept at least 24 hours and pruned after (docs/taxii.md). It
# holds the posted objects' ids and versions and why any failed: the caller's
# own metadata, never content.
taxii_statuses = Table(
    "taxii_statuses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("created_at", Ts, nullable=False),
    Column("body", JSON, nullable=False),
    Index("ix_taxii_statuses_created_at", "created_at"),
)
