"""Schema migrations with Alembic, callable from the CLI and the app."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["alembic_config", "upgrade_to_head"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and `url`."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the schema up to date (idempotent).

    On PostgreSQL an advisory lock makes concurrent replicas wait for one
    another instead of racing to create the same tables.
    """

    def _upgrade(connection: object) -> None:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            from sqlalchemy import text

            await connection.execute(text("SELECT pg_advisory_lock(7261001)"))
        try:
            await connection.run_sync(_upgrade)
            await connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                from sqlalchemy import text

                await connection.execute(text("SELECT pg_advisory_unlock(7261001)"))
                await connection.commit()
