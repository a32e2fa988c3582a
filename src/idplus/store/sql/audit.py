"""The audit trail: an append-only record of credential and registry changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import AuditEvent, AuditSubject
from idplus.store.sql.tables import audit_events

# `--event user.*`: a name prefix; LIKE's own wildcards in a name are matched literally.
PREFIX_WILDCARD = "*"
LIKE_ESCAPE = "\\"


class SqlAudit:
    """The audit trail: an append-only record of credential and registry changes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, event: AuditEvent) -> None:
        self._conn.execute(
            sa.insert(audit_events).values(
                at=event.at,
                event=event.event,
                client_id=event.client_id,
                user_id=event.user_id,
                detail=dict(event.detail),
                actor=_actor_of(event),
                target=event.target,
            )
        )

    def list_events(
        self,
        limit: int = 100,
        *,
        actors: Sequence[str] = (),
        since: datetime | None = None,
        events: Sequence[str] = (),
        before_id: int | None = None,
        changed_by: str | None = None,
        about: AuditSubject | None = None,
    ) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        if actors:
            query = query.where(
                sa.or_(audit_events.c.client_id.in_(actors), audit_events.c.user_id.in_(actors))
            )
        if changed_by is not None:
            query = query.where(audit_events.c.actor == changed_by)
        if about is not None:
            query = query.where(_about(about))
        if since is not None:
            query = query.where(audit_events.c.at >= since)
        if events:
            query = query.where(sa.or_(*(_event_matches(name) for name in events)))
        if before_id is not None:
            query = query.where(audit_events.c.id < before_id)
        return [
            AuditEvent(
                event=row.event,
                at=row.at,
                client_id=row.client_id,
                user_id=row.user_id,
                detail=dict(row.detail),
                id=row.id,
                target=row.target,
            )
            for row in self._conn.execute(query).all()
        ]


def _actor_of(event: AuditEvent) -> str | None:
    actor = event.detail.get("actor")
    return actor if isinstance(actor, str) else None


def _about(subject: AuditSubject) -> sa.ColumnElement[bool]:
    """Events about a client or a user name it in its column; anything else in `target`."""
    column = {"client": audit_events.c.client_id, "user": audit_events.c.user_id}.get(subject.kind)
    named = audit_events.c.target == f"{subject.kind}:{subject.id}"
    return named if column is None else sa.or_(column == subject.id, named)


def _event_matches(name: str) -> sa.ColumnElement[bool]:
    if not name.endswith(PREFIX_WILDCARD):
        return audit_events.c.event == name
    prefix = name.removesuffix(PREFIX_WILDCARD)
    for special in (LIKE_ESCAPE, "%", "_"):
        prefix = prefix.replace(special, LIKE_ESCAPE + special)
    return audit_events.c.event.like(prefix + "%", escape=LIKE_ESCAPE)
