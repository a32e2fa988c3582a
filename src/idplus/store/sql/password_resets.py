"""Forgotten-password resets in progress ⇄ `models.PasswordReset`.

Every counter and every one-time step is one conditional UPDATE (or DELETE), so parallel
requests cannot send more codes, guess more often, use the e-mail link twice or set two
passwords with one reset: the row lock (PostgreSQL) or the write lock (SQLite) serialises
them and each re-checks the WHERE clause.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import PasswordReset
from idplus.store.sql.tables import password_resets

_t = password_resets.c
_FIELDS = tuple(f.name for f in fields(PasswordReset))


def _from_row(row: Any) -> PasswordReset:
    return PasswordReset(**{name: row[name] for name in _FIELDS})


class SqlPasswordResets:
    """Forgotten-password resets in progress ⇄ `models.PasswordReset`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, reset: PasswordReset) -> None:
        self._conn.execute(sa.insert(password_resets).values(**asdict(reset)))

    def find_by_handle(self, handle_hash: str) -> PasswordReset | None:
        return self._find(_t.handle_hash == handle_hash)

    def find_by_email_token(self, token_hash: str) -> PasswordReset | None:
        return self._find(_t.email_token_hash == token_hash)

    def _find(self, condition: sa.ColumnElement[bool]) -> PasswordReset | None:
        row = self._conn.execute(sa.select(password_resets).where(condition)).first()
        return _from_row(row._mapping) if row is not None else None

    def record_code_sent(
        self,
        reset_id: str,
        *,
        code_hash: str | None,
        expires_at: datetime,
        max_sends: int,
        not_sent_since: datetime,
        now: datetime,
    ) -> bool:
        """Replace the code (None: by none, when no code could be sent) unless `max_sends`
        went out, one went out after `not_sent_since`, or the code was already verified."""
        result = self._conn.execute(
            sa.update(password_resets)
            .where(
                _t.id == reset_id,
                _t.code_verified_at.is_(None),
                _t.code_sends < max_sends,
                sa.or_(_t.code_sent_at.is_(None), _t.code_sent_at <= not_sent_since),
            )
            .values(
                code_hash=code_hash,
                code_expires_at=expires_at,
                code_sends=_t.code_sends + 1,
                code_sent_at=now,
            )
        )
        return result.rowcount > 0

    def reserve_code_attempt(self, reset_id: str, max_attempts: int) -> bool:
        """Count a guess before it is compared; False once all of them are used."""
        result = self._conn.execute(
            sa.update(password_resets)
            .where(_t.id == reset_id, _t.code_attempts < max_attempts)
            .values(code_attempts=_t.code_attempts + 1)
        )
        return result.rowcount > 0

    def mark_code_verified(self, reset_id: str, *, now: datetime, expires_at: datetime) -> bool:
        """The code was right (once); the reset now lives until `expires_at`."""
        result = self._conn.execute(
            sa.update(password_resets)
            .where(_t.id == reset_id, _t.code_verified_at.is_(None))
            .values(code_verified_at=now, expires_at=expires_at)
        )
        return result.rowcount > 0

    def record_email_sent(self, reset_id: str, *, token_hash: str, expires_at: datetime) -> bool:
        """Give the reset its one e-mail link, after the code; the reset lives as long."""
        result = self._conn.execute(
            sa.update(password_resets)
            .where(
                _t.id == reset_id,
                _t.code_verified_at.is_not(None),
                _t.email_token_hash.is_(None),
            )
            .values(email_token_hash=token_hash, email_expires_at=expires_at, expires_at=expires_at)
        )
        return result.rowcount > 0

    def confirm_email(
        self,
        token_hash: str,
        *,
        browser_hash: str,
        new_handle_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> bool:
        """Use the e-mail link once, from the browser that started the reset and before it
        expires; the reset gets a new handle and lives until `expires_at`."""
        result = self._conn.execute(
            sa.update(password_resets)
            .where(
                _t.email_token_hash == token_hash,
                _t.browser_hash == browser_hash,
                _t.email_confirmed_at.is_(None),
                _t.email_expires_at > now,
            )
            .values(email_confirmed_at=now, handle_hash=new_handle_hash, expires_at=expires_at)
        )
        return result.rowcount > 0

    def consume(self, reset_id: str, handle_hash: str) -> bool:
        """Delete the reset; True only for the one caller that did (one reset, one password)."""
        result = self._conn.execute(
            sa.delete(password_resets).where(_t.id == reset_id, _t.handle_hash == handle_hash)
        )
        return result.rowcount > 0

    def delete_of_user(self, user_id: str) -> int:
        """Delete every reset of the user, at any step."""
        result = self._conn.execute(sa.delete(password_resets).where(_t.user_id == user_id))
        return int(result.rowcount)
