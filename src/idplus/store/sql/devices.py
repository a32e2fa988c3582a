"""Device authorization requests ⇄ `models.DeviceRequest`. State changes are conditional
UPDATEs, so approval, denial and redemption each happen once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import DeviceRequest
from idplus.store.sql.tables import device_requests


def _from_row(row: Any) -> DeviceRequest:
    return DeviceRequest(
        device_code_hash=row["device_code_hash"],
        user_code=row["user_code"],
        client_id=row["client_id"],
        scopes=tuple(row["scopes"]),
        status=row["status"],
        interval=row["interval"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_polled_at=row["last_polled_at"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        auth_time=row["auth_time"],
        acr=row["acr"],
        amr=tuple(row["amr"] or ()),
        idp=row["idp"],
    )


class SqlDevices:
    """Device authorization requests ⇄ `models.DeviceRequest`. State changes are conditional"""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, request: DeviceRequest) -> None:
        self._conn.execute(
            sa.insert(device_requests).values(
                device_code_hash=request.device_code_hash,
                user_code=request.user_code,
                client_id=request.client_id,
                scopes=list(request.scopes),
                status=request.status,
                interval=request.interval,
                created_at=request.created_at,
                expires_at=request.expires_at,
                amr=[],
            )
        )

    def user_code_taken(self, user_code: str) -> bool:
        query = sa.select(device_requests.c.user_code).where(
            device_requests.c.user_code == user_code
        )
        return self._conn.execute(query).first() is not None

    def find_by_device_code(self, device_code_hash: str) -> DeviceRequest | None:
        row = self._conn.execute(
            sa.select(device_requests).where(device_requests.c.device_code_hash == device_code_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def find_by_user_code(self, user_code: str) -> DeviceRequest | None:
        row = self._conn.execute(
            sa.select(device_requests).where(device_requests.c.user_code == user_code)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def record_poll(self, device_code_hash: str, now: datetime, interval: int) -> None:
        self._conn.execute(
            sa.update(device_requests)
            .where(device_requests.c.device_code_hash == device_code_hash)
            .values(last_polled_at=now, interval=interval)
        )

    def decide(self, user_code: str, values: dict[str, Any]) -> bool:
        """Approve or deny a pending request; False when it was no longer pending."""
        result = self._conn.execute(
            sa.update(device_requests)
            .where(device_requests.c.user_code == user_code, device_requests.c.status == "pending")
            .values(**values)
        )
        return result.rowcount == 1

    def redeem(self, device_code_hash: str) -> bool:
        result = self._conn.execute(
            sa.update(device_requests)
            .where(
                device_requests.c.device_code_hash == device_code_hash,
                device_requests.c.status == "approved",
            )
            .values(status="used")
        )
        return result.rowcount == 1
