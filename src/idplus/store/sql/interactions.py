"""Pending authorization requests waiting for the user ⇄ `models.Interaction`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import AuthorizationRequest, Interaction
from idplus.store.sql.tables import interactions

# Written only by the atomic statements below: a stale copy must never reset a counter.
_OTP_COLUMNS = ("otp_hash", "otp_expires_at", "otp_attempts", "otp_sends", "otp_sent_at")
_t = interactions.c


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
        "otp_sends": i.otp_sends,
        "otp_sent_at": i.otp_sent_at,
        "created_at": i.created_at,
        "expires_at": i.expires_at,
        "upstream_state_hash": i.upstream_state_hash,
        "upstream_nonce": i.upstream_nonce,
        "upstream_verifier": i.upstream_verifier,
        "passkey_id": i.passkey_id,
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
        otp_sends=row["otp_sends"],
        otp_sent_at=row["otp_sent_at"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        upstream_state_hash=row["upstream_state_hash"],
        upstream_nonce=row["upstream_nonce"],
        upstream_verifier=row["upstream_verifier"],
        passkey_id=row["passkey_id"],
    )


class SqlInteractions:
    """Pending authorization requests waiting for the user ⇄ `models.Interaction`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, interaction: Interaction) -> None:
        self._conn.execute(sa.insert(interactions).values(**_values(interaction)))

    def save(self, interaction: Interaction) -> None:
        """Store the login's progress (stage, user, provider …); never its one-time-code state."""
        values = _values(interaction)
        for name in ("id_hash", *_OTP_COLUMNS):
            del values[name]
        self._conn.execute(
            sa.update(interactions)
            .where(interactions.c.id_hash == interaction.id_hash)
            .values(**values)
        )

    def save_request(self, id_hash: str, request: AuthorizationRequest) -> None:
        """Replace the request alone (a language picked mid-login); the progress stays."""
        self._conn.execute(
            sa.update(interactions)
            .where(interactions.c.id_hash == id_hash)
            .values(request=request.to_json())
        )

    def find(self, id_hash: str) -> Interaction | None:
        row = self._conn.execute(
            sa.select(interactions).where(interactions.c.id_hash == id_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def find_by_upstream_state(self, state_hash: str) -> Interaction | None:
        row = self._conn.execute(
            sa.select(interactions).where(interactions.c.upstream_state_hash == state_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def record_otp_sent(
        self,
        id_hash: str,
        *,
        otp_hash: str,
        expires_at: datetime,
        max_sends: int,
        not_sent_since: datetime,
        now: datetime,
    ) -> bool:
        """Replace the code if fewer than `max_sends` went out, none after `not_sent_since`.

        One conditional UPDATE, so parallel resends cannot send more than the limit.
        """
        result = self._conn.execute(
            sa.update(interactions)
            .where(
                _t.id_hash == id_hash,
                _t.otp_sends < max_sends,
                sa.or_(_t.otp_sent_at.is_(None), _t.otp_sent_at <= not_sent_since),
            )
            .values(
                otp_hash=otp_hash,
                otp_expires_at=expires_at,
                otp_sends=_t.otp_sends + 1,
                otp_sent_at=now,
            )
        )
        return result.rowcount > 0

    def reserve_otp_attempt(self, id_hash: str, max_attempts: int) -> bool:
        """Count a guess before it is checked; False once the login has used all of them."""
        result = self._conn.execute(
            sa.update(interactions)
            .where(_t.id_hash == id_hash, _t.otp_attempts < max_attempts)
            .values(otp_attempts=_t.otp_attempts + 1)
        )
        return result.rowcount > 0

    def consume(self, id_hash: str) -> bool:
        """Delete it; True only for the one caller that did (a finished login is not replayable)."""
        return (
            self._conn.execute(
                sa.delete(interactions).where(interactions.c.id_hash == id_hash)
            ).rowcount
            > 0
        )
