"""Upstream accounts (provider id, upstream `sub`) ⇄ the local user they log in as."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import UpstreamAccount, User
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import upstream_accounts, upstream_unlinks, users

_t = upstream_accounts.c


class SqlUpstreamAccounts:
    """Upstream accounts (provider id, upstream `sub`) ⇄ the local user they log in as."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_user_id(self, provider_id: str, subject: str) -> str | None:
        row = self._conn.execute(
            sa.select(_t.user_id).where(_t.provider_id == provider_id, _t.subject == subject)
        ).first()
        return None if row is None else str(row[0])

    def insert_if_absent(self, provider_id: str, subject: str, user_id: str, now: datetime) -> bool:
        values = {
            "provider_id": provider_id,
            "subject": subject,
            "user_id": user_id,
            "created_at": now,
        }
        return insert_if_absent(self._conn, upstream_accounts, values, ["provider_id", "subject"])

    def list_for_user(self, user_id: str) -> list[UpstreamAccount]:
        rows = self._conn.execute(
            sa.select(upstream_accounts)
            .where(_t.user_id == user_id)
            .order_by(_t.created_at, _t.provider_id)
        ).all()
        return [
            UpstreamAccount(row.provider_id, row.subject, row.user_id, row.created_at)
            for row in rows
        ]

    def unlink_unless_last(self, provider_id: str, subject: str, user: User) -> bool:
        # The user's row is the lock (PostgreSQL; SQLite serialises writers): two parallel
        # unlinks of one user's last two accounts cannot both see the other one still there.
        self._conn.execute(
            sa.select(users.c.id).where(users.c.id == user.id).with_for_update()
        ).first()
        linked = self._conn.execute(
            sa.select(sa.func.count()).select_from(upstream_accounts).where(_t.user_id == user.id)
        ).scalar_one()
        if int(linked) + (1 if user.has_password else 0) <= 1:
            return False
        deleted = self._conn.execute(
            sa.delete(upstream_accounts).where(
                _t.provider_id == provider_id, _t.subject == subject, _t.user_id == user.id
            )
        )
        if deleted.rowcount == 0:
            return False
        values = {"provider_id": provider_id, "subject": subject, "user_id": user.id}
        insert_if_absent(self._conn, upstream_unlinks, values, list(values))
        return True

    def was_unlinked(self, provider_id: str, subject: str, user_id: str) -> bool:
        u = upstream_unlinks.c
        found = self._conn.execute(
            sa.select(u.user_id).where(
                u.provider_id == provider_id, u.subject == subject, u.user_id == user_id
            )
        ).first()
        return found is not None

    def delete_provider(self, provider_id: str) -> int:
        self._conn.execute(
            sa.delete(upstream_unlinks).where(upstream_unlinks.c.provider_id == provider_id)
        )
        deleted = self._conn.execute(
            sa.delete(upstream_accounts).where(_t.provider_id == provider_id)
        )
        return int(deleted.rowcount)
