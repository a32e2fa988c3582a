"""Apps' requests for API products ⇄ `models.SubscriptionRequest`.

A request is pending until an operator decides it; the decision is one conditional UPDATE
(`… WHERE status = 'pending'`), so of two operators deciding at once exactly one does. The
partial unique index `ux_subscription_requests_pending` keeps one pending request per app and
product, also when two are sent at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from idplus.models import SUBSCRIPTION_PENDING, SubscriptionRequest
from idplus.store.sql.tables import clients, subscription_requests

_PENDING = subscription_requests.c.status == SUBSCRIPTION_PENDING


def _request(row: Any) -> SubscriptionRequest:
    return SubscriptionRequest(
        id=row.id,
        client_id=row.client_id,
        scope=row.scope,
        status=row.status,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


class SqlSubscriptionRequests:
    """Apps' requests for API products, pending → approved | rejected."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, request: SubscriptionRequest) -> bool:
        """False when the app has a pending request for the product already (also one sent at
        the same moment): nothing written."""
        insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(subscription_requests)
            .values(
                id=request.id,
                client_id=request.client_id,
                scope=request.scope,
                status=request.status,
                requested_by=request.requested_by,
                requested_at=request.requested_at,
                decided_by=request.decided_by,
                decided_at=request.decided_at,
                reason=request.reason,
            )
            # The partial index is the conflict target: its WHERE must be named to match it.
            .on_conflict_do_nothing(index_elements=["client_id", "scope"], index_where=_PENDING)
            .returning(subscription_requests.c.id)
        )
        return self._conn.execute(statement).first() is not None

    def find(self, request_id: str) -> SubscriptionRequest | None:
        row = self._conn.execute(
            sa.select(subscription_requests).where(subscription_requests.c.id == request_id)
        ).first()
        return None if row is None else _request(row)

    def decide(
        self,
        request_id: str,
        *,
        status: str,
        decided_by: str,
        decided_at: datetime,
        reason: str | None = None,
    ) -> SubscriptionRequest | None:
        """Pending → `status`, in one statement; None when the request is not pending (decided
        already, also by a concurrent decision) or unknown."""
        row = self._conn.execute(
            sa.update(subscription_requests)
            .where(subscription_requests.c.id == request_id, _PENDING)
            .values(status=status, decided_by=decided_by, decided_at=decided_at, reason=reason)
            .returning(*subscription_requests.c)
        ).first()
        return None if row is None else _request(row)

    def cancel(self, request_id: str) -> bool:
        """Withdraw a pending request (the requester changed their mind): the row goes."""
        gone = self._conn.execute(
            sa.delete(subscription_requests)
            .where(subscription_requests.c.id == request_id, _PENDING)
            .returning(subscription_requests.c.id)
        ).first()
        return gone is not None

    def page(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: str | None = None,
        company_ids: Collection[str] | None = None,
    ) -> list[SubscriptionRequest]:
        """Oldest first, by (requested_at, id) after `after`; `company_ids`: only the requests
        of those companies' apps."""
        table = subscription_requests
        query = sa.select(table).order_by(table.c.requested_at, table.c.id).limit(limit)
        if after is not None:
            at, request_id = after
            query = query.where(
                sa.or_(
                    table.c.requested_at > at,
                    sa.and_(table.c.requested_at == at, table.c.id > request_id),
                )
            )
        if status is not None:
            query = query.where(table.c.status == status)
        if company_ids is not None:
            apps = sa.select(clients.c.client_id).where(clients.c.company_id.in_(list(company_ids)))
            query = query.where(table.c.client_id.in_(apps))
        return [_request(row) for row in self._conn.execute(query)]

    def of_client(self, client_id: str, *, limit: int) -> list[SubscriptionRequest]:
        """The app's requests, newest first: the `limit` newest, and every pending one even
        when older (at most one per product: the partial unique index)."""
        table = subscription_requests
        newest_first = (table.c.requested_at.desc(), table.c.id.desc())
        mine = sa.select(table).where(table.c.client_id == client_id)
        newest = self._conn.execute(mine.order_by(*newest_first).limit(limit))
        pending = self._conn.execute(mine.where(_PENDING))
        found = {row.id: _request(row) for row in (*newest, *pending)}
        return sorted(found.values(), key=lambda r: (r.requested_at, r.id), reverse=True)
