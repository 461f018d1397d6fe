"""SQL helpers shared by the store's modules: idempotent inserts of content-addressed rows, chunking."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select


def insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> int:
    pk = [c.name for c in table.primary_key.columns]
    unique = list({tuple(r[k] for k in pk): r for r in rows}.values())
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        stmt = dialect_insert(name)(table).on_conflict_do_nothing(index_elements=pk)
        new = 0
        for chunk in chunks(unique, 500):
            if name == "postgresql":  # executemany reports no row count there: count the rows it returns
                new += len(conn.execute(stmt.returning(table.c[pk[0]]), chunk).all())
            else:
                new += max(conn.execute(stmt, chunk).rowcount, 0)
        return new
    present = set()  # other databases: look first, then insert what is missing
    for r in unique:
        cond = [table.c[k] == r[k] for k in pk]
        if conn.execute(select(table.c[pk[0]]).where(*cond)).first():
            present.add(tuple(r[k] for k in pk))
    new_rows = [r for r in unique if tuple(r[k] for k in pk) not in present]
    if new_rows:
        conn.execute(insert(table), new_rows)
    return len(new_rows)


def dialect_insert(name: str) -> Any:
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    return pg_insert


def chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
