"""API-product registry rows (the gateway's `api:` scopes and their subscribers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import ApiProduct
from idplus.store.sql.tables import api_product_clients, api_products


def find_api_product(conn: Connection, scope: str) -> ApiProduct | None:
    row = conn.execute(sa.select(api_products).where(api_products.c.scope == scope)).first()
    if row is None:
        return None
    client_ids = conn.execute(
        sa.select(api_product_clients.c.client_id)
        .where(api_product_clients.c.scope == scope)
        .order_by(api_product_clients.c.client_id)
    ).scalars()
    return ApiProduct(
        scope=row.scope, name=row.name, client_ids=tuple(client_ids), created_at=row.created_at
    )


def insert_api_product(conn: Connection, scope: str, name: str, now: datetime) -> None:
    conn.execute(sa.insert(api_products).values(scope=scope, name=name, created_at=now))


def add_subscribers(conn: Connection, scope: str, client_ids: Sequence[str]) -> None:
    known = set(
        conn.execute(
            sa.select(api_product_clients.c.client_id).where(api_product_clients.c.scope == scope)
        ).scalars()
    )
    new = [client_id for client_id in dict.fromkeys(client_ids) if client_id not in known]
    if new:
        conn.execute(
            sa.insert(api_product_clients),
            [{"scope": scope, "client_id": client_id} for client_id in new],
        )


def list_api_products(conn: Connection) -> list[ApiProduct]:
    scopes = conn.execute(sa.select(api_products.c.scope).order_by(api_products.c.scope)).scalars()
    return [product for s in list(scopes) if (product := find_api_product(conn, s)) is not None]


def add_subscribers_to_many(conn: Connection, scopes: Sequence[str], client_id: str) -> None:
    for scope in scopes:
        add_subscribers(conn, scope, [client_id])
