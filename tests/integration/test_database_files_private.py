"""The SQLite database and its WAL and SHM files are private to the broker's user."""

from __future__ import annotations

import stat
from pathlib import Path

from broker.store import Database


def _modes(directory: Path) -> dict[str, int]:
    return {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in directory.iterdir()
        if p.name.startswith("council.db")
    }


async def test_the_database_wal_and_shm_files_are_0600(tmp_path: Path) -> None:
    """SPEC §5 (the store holds the log and sealed contents): 0600 like the key ring."""
    path = tmp_path / "council.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.migrate()
        async with db.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
        modes = _modes(tmp_path)
        assert set(modes) >= {"council.db", "council.db-wal", "council.db-shm"}
        assert all(mode == 0o600 for mode in modes.values()), modes
    finally:
        await db.dispose()


async def test_files_an_older_broker_left_open_are_tightened(tmp_path: Path) -> None:
    """SPEC §5: a database created world-readable is made 0600 when the broker opens it."""
    path = tmp_path / "council.db"
    _world_readable(path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert _modes(tmp_path) == {"council.db": 0o600}
    finally:
        await db.dispose()


def _world_readable(path: Path) -> None:
    path.touch()
    path.chmod(0o644)
