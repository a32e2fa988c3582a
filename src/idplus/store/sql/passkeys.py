"""Passkeys (WebAuthn credentials) ⇄ `models.Passkey`, and the challenges of their ceremonies.

The one-time steps are single statements: a challenge is issued by one upsert on its
(purpose, binding) (parallel options leave one live challenge), used by one DELETE …
RETURNING (of parallel verifies, the row lock on PostgreSQL or the write lock on SQLite lets
one delete it), and a login's sign count is stored by an UPDATE that re-checks that it went
up.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import Passkey, WebAuthnChallenge
from idplus.store.sql.dialect import insert_if_absent, upsert
from idplus.store.sql.tables import passkeys, webauthn_challenges

_p = passkeys.c
_c = webauthn_challenges.c
_CHALLENGE_FIELDS = tuple(f.name for f in fields(WebAuthnChallenge))


def _passkey_from_row(row: Any) -> Passkey:
    return Passkey(
        id=row["id"],
        user_id=row["user_id"],
        credential_id=row["credential_id"],
        public_key=bytes(row["public_key"]),
        sign_count=row["sign_count"],
        transports=tuple(row["transports"]),
        backup_eligible=row["backup_eligible"],
        backed_up=row["backed_up"],
        aaguid=row["aaguid"],
        hardware_attested=row["hardware_attested"],
        name=row["name"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class SqlPasskeys:
    """Users' WebAuthn credentials ⇄ `models.Passkey`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, passkey: Passkey) -> bool:
        """Store it unless its credential id is registered already; True when this call did."""
        values = {f.name: getattr(passkey, f.name) for f in fields(Passkey)}
        values["transports"] = list(passkey.transports)
        return insert_if_absent(self._conn, passkeys, values, ["credential_id"])

    def find(self, passkey_id: str) -> Passkey | None:
        return self._find(_p.id == passkey_id)

    def find_by_credential_id(self, credential_id: str) -> Passkey | None:
        return self._find(_p.credential_id == credential_id)

    def _find(self, condition: sa.ColumnElement[bool]) -> Passkey | None:
        row = self._conn.execute(sa.select(passkeys).where(condition)).first()
        return _passkey_from_row(row._mapping) if row is not None else None

    def list_for_user(self, user_id: str) -> list[Passkey]:
        rows = self._conn.execute(
            sa.select(passkeys).where(_p.user_id == user_id).order_by(_p.created_at, _p.id)
        ).all()
        return [_passkey_from_row(row._mapping) for row in rows]

    def record_use(
        self, passkey_id: str, *, sign_count: int, backed_up: bool, now: datetime
    ) -> bool:
        """Store a login's sign count and backup state only if the count went up (or stays 0
        on both sides, as synced passkeys report); False otherwise."""
        went_up = _p.sign_count < sign_count
        both_zero = sa.and_(_p.sign_count == 0, sa.literal(sign_count) == 0)
        result = self._conn.execute(
            sa.update(passkeys)
            .where(_p.id == passkey_id, sa.or_(went_up, both_zero))
            .values(sign_count=sign_count, backed_up=backed_up, last_used_at=now)
        )
        return result.rowcount > 0

    def delete(self, passkey_id: str, user_id: str) -> bool:
        result = self._conn.execute(
            sa.delete(passkeys).where(_p.id == passkey_id, _p.user_id == user_id)
        )
        return result.rowcount > 0

    def lock(self, passkey_id: str, user_id: str) -> bool:
        statement = sa.select(_p.id).where(_p.id == passkey_id, _p.user_id == user_id)
        if self._conn.dialect.name == "postgresql":
            statement = statement.with_for_update()
        return self._conn.execute(statement).first() is not None


class SqlWebAuthnChallenges:
    """Challenges handed to browsers for one registration or login."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def replace(self, challenge: WebAuthnChallenge) -> None:
        """Store it in place of the earlier challenge of the same purpose and binding, in one
        upsert: rows stay bounded however often a page asks for options, and parallel options
        leave one live challenge."""
        values = {name: getattr(challenge, name) for name in _CHALLENGE_FIELDS}
        upsert(self._conn, webauthn_challenges, values, ["purpose", "binding_hash"])

    def consume(
        self, id_hash: str, *, purpose: str, binding_hash: str, now: datetime
    ) -> WebAuthnChallenge | None:
        """Delete the live challenge and return it, in one statement; None if there is none."""
        row = self._conn.execute(
            sa.delete(webauthn_challenges)
            .where(
                _c.id_hash == id_hash,
                _c.purpose == purpose,
                _c.binding_hash == binding_hash,
                _c.expires_at > now,
            )
            .returning(*webauthn_challenges.c)
        ).first()
        if row is None:
            return None
        return WebAuthnChallenge(**{name: row._mapping[name] for name in _CHALLENGE_FIELDS})
