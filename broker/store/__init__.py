"""Storage: SQLAlchemy Core tables, repositories and Alembic migrations.

The services talk to the database only through `Database` and the repository
functions here; SQLite (default) and PostgreSQL share one schema.
"""

# Registers the task force's tables on the shared metadata, so that everything
# iterating `metadata.sorted_tables` (tests, migrations) sees the whole schema.
import broker.store.tables  # noqa: F401
from broker.store.database import Database

__all__ = ["Database"]
