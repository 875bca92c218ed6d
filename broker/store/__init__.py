"""Storage: SQLAlchemy Core tables, repositories and Alembic migrations.

The services talk to the database only through `Database` and the repository
functions here; SQLite (default) and PostgreSQL share one schema.
"""

from broker.store.database import Database

__all__ = ["Database"]
