"""Alembic environment: migrates the database named in the config's sqlalchemy.url."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = create_database_engine(config.get_main_option("sqlalchemy.url") or "")
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:

        @sa.event.listens_for(engine, "connect")
        def _no_cascades(dbapi_connection: Any, _record: Any) -> None:
            # SQLite alters a table by copying it, dropping the old one and renaming the copy:
            # with foreign keys on, dropping the old clients table would cascade into every
            # table that references it (secrets, refresh tokens, …). Checked at the end.
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _refuse_broken_references(connection)
            connection.commit()
    finally:
        engine.dispose()


def _refuse_broken_references(connection: sa.Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")


run_migrations_online()
