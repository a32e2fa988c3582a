"""Pending authorization requests waiting for the user ⇄ `models.Interaction`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import AuthorizationRequest, Interaction
from idplus.store.sql.tables import interactions


def insert_interaction(conn: Connection, interaction: Interaction) -> None:
    conn.execute(sa.insert(interactions).values(**_values(interaction)))


def save_interaction(conn: Connection, interaction: Interaction) -> None:
    values = _values(interaction)
    del values["id_hash"]
    conn.execute(
        sa.update(interactions)
        .where(interactions.c.id_hash == interaction.id_hash)
        .values(**values)
    )


def find_interaction(conn: Connection, id_hash: str) -> Interaction | None:
    row = conn.execute(sa.select(interactions).where(interactions.c.id_hash == id_hash)).first()
    return _from_row(row._mapping) if row is not None else None


def consume_interaction(conn: Connection, id_hash: str) -> bool:
    """Delete it; True only for the one caller that did (a finished login is not replayable)."""
    return (
        conn.execute(sa.delete(interactions).where(interactions.c.id_hash == id_hash)).rowcount > 0
    )


def _values(i: Interaction) -> dict[str, Any]:
    return {
        "id_hash": i.id_hash,
        "browser_hash": i.browser_hash,
        "client_id": i.client_id,
        "request": i.request.to_json(),
        "stage": i.stage,
        "provider": i.provider,
        "user_id": i.user_id,
        "session_id": i.session_id,
        "remember_me": i.remember_me,
        "amr": list(i.amr),
        "otp_hash": i.otp_hash,
        "otp_expires_at": i.otp_expires_at,
        "otp_attempts": i.otp_attempts,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
    }


def _from_row(row: Any) -> Interaction:
    return Interaction(
        id_hash=row["id_hash"],
        browser_hash=row["browser_hash"],
        client_id=row["client_id"],
        request=AuthorizationRequest.from_json(dict(row["request"])),
        stage=row["stage"],
        provider=row["provider"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        remember_me=row["remember_me"],
        amr=tuple(row["amr"]),
        otp_hash=row["otp_hash"],
        otp_expires_at=row["otp_expires_at"],
        otp_attempts=row["otp_attempts"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
