"""E-mailed invitations to join a company ⇄ `models.Invitation`.

Only the HMAC of a link's token is stored. An invitation is used by one conditional UPDATE
(`accepted_at IS NULL AND expires_at > now`): of two acceptances racing for one link, the row
lock (PostgreSQL) or the write lock (SQLite) lets one through and the WHERE clause, re-checked,
stops the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import Invitation
from idplus.store.sql.tables import company_invitations

_i = company_invitations.c


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        company_id=row.company_id,
        email=row.email,
        role=row.role,
        token_hash=row.token_hash,
        invited_by=row.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by,
    )


def _pending(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(_i.accepted_at.is_(None), _i.expires_at > now)


class SqlInvitations:
    """E-mailed invitations to join a company, found by their token's HMAC."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, invitation: Invitation) -> None:
        self._conn.execute(
            sa.insert(company_invitations).values(
                id=invitation.id,
                company_id=invitation.company_id,
                email=invitation.email,
                role=invitation.role,
                token_hash=invitation.token_hash,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                accepted_at=invitation.accepted_at,
                accepted_by=invitation.accepted_by,
            )
        )

    def find(self, invitation_id: str) -> Invitation | None:
        row = self._conn.execute(
            sa.select(company_invitations).where(_i.id == invitation_id)
        ).first()
        return None if row is None else _invitation(row)

    def find_pending(self, token_hash: str, now: datetime) -> Invitation | None:
        row = self._conn.execute(
            sa.select(company_invitations).where(_i.token_hash == token_hash, _pending(now))
        ).first()
        return None if row is None else _invitation(row)

    def pending_of_company(self, company_id: str, now: datetime) -> list[Invitation]:
        rows = self._conn.execute(
            sa.select(company_invitations)
            .where(_i.company_id == company_id, _pending(now))
            .order_by(_i.created_at, _i.id)
        )
        return [_invitation(row) for row in rows]

    def accept(self, token_hash: str, user_id: str, now: datetime) -> Invitation | None:
        row = self._conn.execute(
            sa.update(company_invitations)
            .where(_i.token_hash == token_hash, _pending(now))
            .values(accepted_at=now, accepted_by=user_id)
            .returning(*company_invitations.c)
        ).first()
        return None if row is None else _invitation(row)

    def revoke(self, company_id: str, invitation_id: str) -> bool:
        gone = self._conn.execute(
            sa.delete(company_invitations)
            .where(
                _i.id == invitation_id,
                _i.company_id == company_id,
                _i.accepted_at.is_(None),
            )
            .returning(_i.id)
        ).first()
        return gone is not None
