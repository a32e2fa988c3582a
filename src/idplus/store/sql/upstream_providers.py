"""Upstream-provider registry rows ⇄ `models.UpstreamProvider`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import UpstreamProvider
from idplus.store.sql.tables import upstream_providers


class SqlUpstreamProviders:
    """Upstream-provider registry rows ⇄ `models.UpstreamProvider`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, provider: UpstreamProvider) -> None:
        assert provider.created_at is not None, "a stored provider has its creation time"
        self._conn.execute(
            sa.insert(upstream_providers).values(
                id=provider.id,
                issuer=provider.issuer,
                client_id=provider.client_id,
                client_secret=provider.client_secret_sealed,
                scopes=list(provider.scopes),
                display_name=provider.display_name,
                acr=provider.acr,
                amr=list(provider.amr),
                link_by=provider.link_by,
                token_auth_method=provider.token_auth_method,
                created_at=provider.created_at,
                ial_claim=provider.ial_claim,
                ial_values=dict(provider.ial_values),
            )
        )

    def find(self, provider_id: str, *, lock: bool = False) -> UpstreamProvider | None:
        statement = sa.select(upstream_providers).where(upstream_providers.c.id == provider_id)
        if lock:
            # PostgreSQL: FOR SHARE, so a concurrent removal waits (SQLite is serialised anyway).
            statement = statement.with_for_update(read=True)
        row = self._conn.execute(statement).first()
        return None if row is None else _provider(row._mapping)

    def list_all(self) -> list[UpstreamProvider]:
        rows = self._conn.execute(
            sa.select(upstream_providers).order_by(upstream_providers.c.id)
        ).all()
        return [_provider(row._mapping) for row in rows]

    def delete(self, provider_id: str) -> bool:
        result = self._conn.execute(
            sa.delete(upstream_providers).where(upstream_providers.c.id == provider_id)
        )
        return result.rowcount > 0


def _provider(row: Any) -> UpstreamProvider:
    return UpstreamProvider(
        id=row["id"],
        issuer=row["issuer"],
        client_id=row["client_id"],
        client_secret_sealed=row["client_secret"],
        scopes=tuple(row["scopes"]),
        display_name=row["display_name"],
        acr=row["acr"],
        amr=tuple(row["amr"]),
        link_by=row["link_by"],
        token_auth_method=row["token_auth_method"],
        created_at=row["created_at"],
        ial_claim=row["ial_claim"],
        ial_values={str(k): int(v) for k, v in (row["ial_values"] or {}).items()},
    )
