"""A new outbox delivery: what every kind of delivery starts as."""

from __future__ import annotations

from datetime import datetime

from idplus.models import Delivery


def due_now(
    kind: str,
    delivery_id: str,
    target: str,
    payload: dict[str, object],
    subject: str,
    now: datetime,
) -> Delivery:
    """A pending delivery due at once: the sender of `kind` posts `payload` to `target`;
    `subject` (a client id) is what the logs name."""
    return Delivery(
        id=delivery_id,
        kind=kind,
        target=target,
        payload=payload,
        subject=subject,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
