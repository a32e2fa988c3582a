"""API-product registry rows (the gateway's `api:` scopes and their subscribers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import ApiProduct
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import api_product_clients, api_products


class SqlApiProducts:
    """API-product registry rows (the gateway's `api:` scopes and their subscribers)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find(self, scope: str) -> ApiProduct | None:
        row = self._conn.execute(
            sa.select(api_products).where(api_products.c.scope == scope)
        ).first()
        if row is None:
            return None
        client_ids = self._conn.execute(
            sa.select(api_product_clients.c.client_id)
            .where(api_product_clients.c.scope == scope)
            .order_by(api_product_clients.c.client_id)
        ).scalars()
        return ApiProduct(
            scope=row.scope, name=row.name, client_ids=tuple(client_ids), created_at=row.created_at
        )

    def insert(self, scope: str, name: str, now: datetime) -> bool:
        """False when the scope is registered already (also by a concurrent insert)."""
        values = {"scope": scope, "name": name, "created_at": now}
        return insert_if_absent(self._conn, api_products, values, ["scope"])

    def add_subscribers(self, scope: str, client_ids: Sequence[str]) -> None:
        known = set(
            self._conn.execute(
                sa.select(api_product_clients.c.client_id).where(
                    api_product_clients.c.scope == scope
                )
            ).scalars()
        )
        new = [client_id for client_id in dict.fromkeys(client_ids) if client_id not in known]
        if new:
            self._conn.execute(
                sa.insert(api_product_clients),
                [{"scope": scope, "client_id": client_id} for client_id in new],
            )

    def list_all(self) -> list[ApiProduct]:
        scopes = self._conn.execute(
            sa.select(api_products.c.scope).order_by(api_products.c.scope)
        ).scalars()
        return [product for s in list(scopes) if (product := self.find(s)) is not None]

    def add_subscribers_to_many(self, scopes: Sequence[str], client_id: str) -> None:
        for scope in scopes:
            self.add_subscribers(scope, [client_id])
