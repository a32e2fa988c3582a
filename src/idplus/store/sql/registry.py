"""The registries' generation: a number every registry change raises (database triggers)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import registry_generation

_READ = sa.select(registry_generation.c.generation).where(registry_generation.c.id == 1)


class SqlRegistry:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def generation(self) -> int:
        return int(self._conn.execute(_READ).scalar_one())

    def lock(self) -> None:
        self._conn.execute(_READ.with_for_update()).scalar_one()
