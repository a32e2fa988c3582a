"""Pushed authorization requests (RFC 9126) ⇄ `models.PushedRequest`. Taking one back is one
DELETE … RETURNING, so a request_uri serves once however many browsers bring it at once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import AuthorizationRequest, PushedRequest
from idplus.store.sql.tables import pushed_requests

_c = pushed_requests.c


class SqlPushedRequests:
    """Pushed authorization requests ⇄ `models.PushedRequest`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, pushed: PushedRequest) -> None:
        self._conn.execute(
            sa.insert(pushed_requests).values(
                request_uri_hash=pushed.request_uri_hash,
                client_id=pushed.client_id,
                request=pushed.request.to_json(),
                locale_from_browser=pushed.locale_from_browser,
                created_at=pushed.created_at,
                expires_at=pushed.expires_at,
            )
        )

    def consume(self, request_uri_hash: str, client_id: str, now: datetime) -> PushedRequest | None:
        row = self._conn.execute(
            sa.delete(pushed_requests)
            .where(
                _c.request_uri_hash == request_uri_hash,
                _c.client_id == client_id,
                _c.expires_at > now,
            )
            .returning(*pushed_requests.c)
        ).first()
        if row is None:
            return None
        values = row._mapping
        return PushedRequest(
            request_uri_hash=values["request_uri_hash"],
            client_id=values["client_id"],
            request=AuthorizationRequest.from_json(dict(values["request"])),
            locale_from_browser=values["locale_from_browser"],
            created_at=values["created_at"],
            expires_at=values["expires_at"],
        )
