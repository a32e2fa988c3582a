"""Signing-key rows ⇄ `models.SigningKey`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import SigningKey
from idplus.store.sql.tables import signing_keys


def insert_signing_key(conn: Connection, key: SigningKey) -> None:
    conn.execute(
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


def list_signing_keys(conn: Connection) -> list[SigningKey]:
    rows = conn.execute(sa.select(signing_keys).order_by(signing_keys.c.activate_at)).all()
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


def retire_signing_keys(conn: Connection, kids: list[str], publish_until: datetime) -> None:
    """Stop keys from signing once a successor activates; keep them published until then."""
    if kids:
        conn.execute(
            sa.update(signing_keys)
            .where(signing_keys.c.kid.in_(kids), signing_keys.c.publish_until.is_(None))
            .values(publish_until=publish_until)
        )


def lock_signing_keys(conn: Connection) -> None:
    """Serialise key creation and rotation between processes (PostgreSQL; SQLite is already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("LOCK TABLE signing_keys IN EXCLUSIVE MODE"))
