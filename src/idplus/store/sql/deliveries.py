"""Outbox rows ⇄ `models.Delivery`: enqueued with the change that causes them, claimed by one
sender at a time under a lease, then marked delivered, due again later, or failed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import Delivery
from idplus.store.sql.tables import deliveries

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
_ERROR_LENGTH = 200


def _from_row(row: Any) -> Delivery:
    return Delivery(
        id=row["id"],
        kind=row["kind"],
        target=row["target"],
        payload=dict(row["payload"]),
        subject=row["subject"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        claimed_until=row["claimed_until"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        deliveries.c.status == PENDING,
        deliveries.c.next_attempt_at <= now,
        sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until <= now),
    )


class SqlDeliveries:
    """Outbox rows ⇄ `models.Delivery`; a claim is a lease, taken by one sender at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def enqueue(self, delivery: Delivery) -> None:
        self._conn.execute(
            sa.insert(deliveries).values(
                id=delivery.id,
                kind=delivery.kind,
                target=delivery.target,
                payload=dict(delivery.payload),
                subject=delivery.subject,
                status=PENDING,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                created_at=delivery.created_at,
            )
        )

    def claim_due(
        self, now: datetime, *, lease_until: datetime, limit: int, kinds: Collection[str]
    ) -> list[Delivery]:
        """Select and lease in one transaction. PostgreSQL locks the selected rows and skips
        rows another claimer holds (FOR UPDATE SKIP LOCKED), so two instances never take the
        same one; SQLite renders no FOR UPDATE, but its write transactions (BEGIN IMMEDIATE)
        already run one at a time. Only `kinds` are claimed: a kind a newer version enqueued
        waits for an instance that can send it. A row that cannot be read fails on its own."""
        rows = self._conn.execute(
            sa.select(deliveries)
            .where(_due(now), deliveries.c.kind.in_(list(kinds)))
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            try:
                claimed.append(_from_row({**row._mapping, "claimed_until": lease_until}))
            except (TypeError, ValueError, KeyError):
                self._finish(row.id, FAILED, now, last_error="unreadable row")
        if claimed:
            ids = [delivery.id for delivery in claimed]
            self._conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id.in_(ids))
                .values(claimed_until=lease_until)
            )
        return claimed

    def mark_delivered(self, delivery_id: str, now: datetime) -> None:
        self._finish(delivery_id, DELIVERED, now)

    def mark_retry(self, delivery_id: str, *, next_attempt_at: datetime, error: str) -> None:
        """Count a failed attempt and release the claim until `next_attempt_at`."""
        self._conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status == PENDING)
            .values(
                attempts=deliveries.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                claimed_until=None,
                last_error=error[:_ERROR_LENGTH],
            )
        )

    def mark_failed(self, delivery_id: str, now: datetime, error: str) -> None:
        """Count the last attempt and give up (kept for the operator to see)."""
        self._finish(delivery_id, FAILED, now, last_error=error[:_ERROR_LENGTH])

    def find(self, delivery_id: str) -> Delivery | None:
        row = self._conn.execute(
            sa.select(deliveries).where(deliveries.c.id == delivery_id)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def _finish(self, delivery_id: str, status: str, now: datetime, **changes: Any) -> None:
        # Only a pending delivery changes: a sender whose lease ran out while another sender
        # finished the delivery must not undo that outcome.
        self._conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status == PENDING)
            .values(
                status=status,
                attempts=deliveries.c.attempts + 1,
                claimed_until=None,
                finished_at=now,
                **changes,
            )
        )
