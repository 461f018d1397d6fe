"""Versioned schema: a fresh database gets the current tables; an older one is migrated step by step."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from bench.errors import BenchError
from bench.store._schema import SCHEMA_VERSION, meta, metadata


def _v1_to_v2(conn: Connection) -> None:
    from bench.store._schema import metrics

    metrics.create(conn)


def _v2_to_v3(conn: Connection) -> None:
    from sqlalchemy import text

    from bench.store._schema import judge_calls

    for column in ("verdict_ab VARCHAR(8)", "verdict_ba VARCHAR(8)", "annotator VARCHAR(64)"):
        conn.execute(text(f"ALTER TABLE judgments ADD COLUMN {column}"))
    judge_calls.create(conn)


# MIGRATIONS[v] upgrades a database at version v to v + 1, inside one transaction.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


def current_version(conn: Connection) -> int | None:
    if not conn.dialect.has_table(conn, "meta"):
        return None
    row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else None


def migrate(conn: Connection, url: str) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; return the version it had (0 if new)."""
    version = current_version(conn)
    if version is None:
        existing = conn.dialect.get_table_names(conn)
        if existing and "runs" in existing:
            raise BenchError(f"{url}: has bench tables but no schema version; refusing to touch it")
        metadata.create_all(conn)
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        return 0
    if version > SCHEMA_VERSION:
        raise BenchError(f"{url}: schema version {version} is newer than this bench ({SCHEMA_VERSION}); "
                         "upgrade bench to read it")
    start = version
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
    if version != start:
        conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))
    return start
