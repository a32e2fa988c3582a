"""CIBA requests ⇄ `models.CibaRequest`. Every state change is one conditional UPDATE, so a
browser binding, a decision, a poll slot and the redemption each happen once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import CibaRequest
from idplus.store.sql.tables import ciba_requests

_c = ciba_requests.c


def _from_row(row: Any) -> CibaRequest:
    return CibaRequest(
        auth_req_id_hash=row["auth_req_id_hash"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        flow=row["flow"],
        scopes=tuple(row["scopes"]),
        binding_message=row["binding_message"],
        approval_hash=row["approval_hash"],
        status=row["status"],
        interval=row["interval"],
        next_poll_at=row["next_poll_at"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        polled=row["polled"],
        browser_hash=row["browser_hash"],
        ping_sealed=row["ping_sealed"],
        session_id=row["session_id"],
        auth_time=row["auth_time"],
        acr=row["acr"],
        amr=tuple(row["amr"] or ()),
        idp=row["idp"],
    )


class SqlCiba:
    """CIBA requests ⇄ `models.CibaRequest`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, request: CibaRequest) -> None:
        self._conn.execute(
            sa.insert(ciba_requests).values(
                auth_req_id_hash=request.auth_req_id_hash,
                client_id=request.client_id,
                user_id=request.user_id,
                flow=request.flow,
                scopes=list(request.scopes),
                binding_message=request.binding_message,
                approval_hash=request.approval_hash,
                ping_sealed=request.ping_sealed,
                status=request.status,
                amr=[],
                interval=request.interval,
                next_poll_at=request.next_poll_at,
                polled=False,
                created_at=request.created_at,
                expires_at=request.expires_at,
            )
        )

    def delete(self, auth_req_id_hash: str) -> None:
        self._conn.execute(sa.delete(ciba_requests).where(_c.auth_req_id_hash == auth_req_id_hash))

    def find(self, auth_req_id_hash: str) -> CibaRequest | None:
        row = self._conn.execute(
            sa.select(ciba_requests).where(_c.auth_req_id_hash == auth_req_id_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def find_by_approval(self, approval_hash: str) -> CibaRequest | None:
        row = self._conn.execute(
            sa.select(ciba_requests).where(_c.approval_hash == approval_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def bind_browser(self, auth_req_id_hash: str, browser_hash: str) -> bool:
        self._conn.execute(
            sa.update(ciba_requests)
            .where(_c.auth_req_id_hash == auth_req_id_hash, _c.browser_hash.is_(None))
            .values(browser_hash=browser_hash)
        )
        bound = self._conn.execute(
            sa.select(_c.browser_hash).where(_c.auth_req_id_hash == auth_req_id_hash)
        ).scalar()
        return bool(bound == browser_hash)

    def decide(
        self,
        auth_req_id_hash: str,
        browser_hash: str | None,
        now: datetime,
        values: dict[str, Any],
    ) -> bool:
        holder = (
            _c.browser_hash.is_(None) if browser_hash is None else _c.browser_hash == browser_hash
        )
        result = self._conn.execute(
            sa.update(ciba_requests)
            .where(
                _c.auth_req_id_hash == auth_req_id_hash,
                holder,
                _c.status == "pending",
                _c.expires_at > now,
            )
            .values(**values)
        )
        return result.rowcount == 1

    def take_poll(self, auth_req_id_hash: str, now: datetime) -> bool:
        row = self._conn.execute(
            sa.select(_c.interval).where(_c.auth_req_id_hash == auth_req_id_hash)
        ).first()
        if row is None:
            return False
        result = self._conn.execute(
            sa.update(ciba_requests)
            .where(_c.auth_req_id_hash == auth_req_id_hash, _c.next_poll_at <= now)
            .values(next_poll_at=now + timedelta(seconds=row.interval), polled=True)
        )
        return result.rowcount == 1

    def slow_down(self, auth_req_id_hash: str, step: int, now: datetime) -> None:
        row = self._conn.execute(
            sa.select(_c.interval).where(_c.auth_req_id_hash == auth_req_id_hash)
        ).first()
        if row is None:
            return
        interval = row.interval + step
        self._conn.execute(
            sa.update(ciba_requests)
            .where(_c.auth_req_id_hash == auth_req_id_hash)
            .values(interval=interval, next_poll_at=now + timedelta(seconds=interval))
        )

    def redeem(self, auth_req_id_hash: str) -> bool:
        result = self._conn.execute(
            sa.update(ciba_requests)
            .where(_c.auth_req_id_hash == auth_req_id_hash, _c.status == "approved")
            .values(status="used")
        )
        return result.rowcount == 1
