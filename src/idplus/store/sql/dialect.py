"""Statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_if_absent(
    conn: Connection, table: sa.Table, values: Mapping[str, Any], key: Sequence[str]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: two processes racing to create one row both succeed.

    True when this call created the row.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values).on_conflict_do_nothing(index_elements=list(key))
    # RETURNING, not rowcount: SQLAlchemy reports -1 as the rowcount of an INSERT on psycopg.
    return conn.execute(statement.returning(table.c[key[0]])).first() is not None


def upsert(
    conn: Connection, table: sa.Table, values: Mapping[str, Any], key: Sequence[str]
) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE: the row of that key, new or replaced, in one
    statement (`key` must be a unique index)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    changed = {name: statement.excluded[name] for name in values if name not in key}
    conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=changed))
