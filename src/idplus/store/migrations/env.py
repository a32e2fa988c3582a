"""Alembic environment: migrates the database named in the config's sqlalchemy.url."""

from __future__ import annotations

from alembic import context

from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = create_database_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


run_migrations_online()
