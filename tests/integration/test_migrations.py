"""The migrations build exactly the schema the tables declare, and the item-ceilings
revision finds the ceilings of items stored before it (SPEC §3 rule 2)."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text

from broker.store.migrate import alembic_config
from broker.store.tables import metadata


def _upgrade(engine: Engine, revision: str) -> None:
    """Run the packaged migrations up to `revision` on `engine` (as the broker does)."""
    with engine.begin() as connection:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_migrated_schema_is_the_declared_schema(tmp_path: Path) -> None:
    """Upgrading an empty database to head leaves no difference from `tables.py`."""
    engine = create_engine(f"sqlite:///{tmp_path / 'council.db'}")
    _upgrade(engine, "head")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []


def test_the_ceilings_revision_records_the_ceilings_of_stored_items(tmp_path: Path) -> None:
    """An item derived before revision 0003 is found by its source afterwards."""
    engine = create_engine(f"sqlite:///{tmp_path / 'council.db'}")
    _upgrade(engine, "0002")
    ceiling = {"source_id": "S", "provider_id": "p", "scope": {}, "tlp": "AMBER", "secret": False}
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO bodies (id, name, kind, category, tier, status, regulator,"
                ' law_enforcement, "foreign", mutual_aid, listed, refuses_secrets, early_warning,'
                " created_at, updated_at) VALUES ('p', 'P', 'member', 'other', 'none', 'active',"
                " 0, 0, 0, 0, 0, 0, 1, '2026-01-01', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO users (id, member_id, name, role, token_hash, created_at)"
                " VALUES ('u', 'p', 'U', 'member_user', 'h', '2026-01-01')"
            )
        )
        connection.execute(
            text("INSERT INTO audiences (id, size, created_at) VALUES ('a', 0, '2026-01-01')")
        )
        for item_id, constraints in (("S", []), ("D", [ceiling])):
            connection.execute(
                text(
                    "INSERT INTO items (id, provider_id, submitter_user_id, kind, confidence,"
                    " tlp, secret, effective_tlp, effective_secret, status, scope_version,"
                    " audience_id, derived_from, created_at) VALUES (:id, 'p', 'u', 'analysis',"
                    " 'low', 'AMBER', 0, 'AMBER', 0, 'active', 1, 'a', '[]', '2026-01-01')"
                ),
                {"id": item_id},
            )
            connection.execute(
                text(
                    "INSERT INTO scope_versions (item_id, version, scope, constraints, change,"
                    " created_at, created_by) VALUES (:id, 1, '{}', :constraints, 'submitted',"
                    " '2026-01-01', 'u')"
                ),
                {"id": item_id, "constraints": json.dumps(constraints)},
            )
    _upgrade(engine, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT source_id, item_id FROM item_ceilings")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("S", "D")]
