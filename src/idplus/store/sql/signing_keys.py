"""Signing-key rows ⇄ `models.SigningKey`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import SigningKey
from idplus.store.sql.tables import signing_keys


class SqlSigningKeys:
    """Signing-key rows ⇄ `models.SigningKey`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, key: SigningKey) -> None:
        self._conn.execute(
            sa.insert(signing_keys).values(
                kid=key.kid,
                alg=key.alg,
                private_pem=key.private_pem,
                public_jwk=dict(key.public_jwk),
                created_at=key.created_at,
                activate_at=key.activate_at,
                publish_until=key.publish_until,
            )
        )

    def list_all(self) -> list[SigningKey]:
        rows = self._conn.execute(
            sa.select(signing_keys).order_by(signing_keys.c.activate_at)
        ).all()
        return [
            SigningKey(
                kid=row.kid,
                alg=row.alg,
                private_pem=bytes(row.private_pem),
                public_jwk=dict(row.public_jwk),
                created_at=row.created_at,
                activate_at=row.activate_at,
                publish_until=row.publish_until,
            )
            for row in rows
        ]

    def retire(self, kids: list[str], publish_until: datetime) -> None:
        """Stop keys from signing once a successor activates; keep them published until then."""
        if kids:
            self._conn.execute(
                sa.update(signing_keys)
                .where(signing_keys.c.kid.in_(kids), signing_keys.c.publish_until.is_(None))
                .values(publish_until=publish_until)
            )

    def lock(self) -> None:
        """Serialise key creation and rotation between processes (PostgreSQL; SQLite is already)."""
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(sa.text("LOCK TABLE signing_keys IN EXCLUSIVE MODE"))
