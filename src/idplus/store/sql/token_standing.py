"""A presented access token's standing (revoked? client still registered? its session?) in one
statement: introspection and userinfo ask it on every request."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.base import AccessTokenStanding
from idplus.store.sql.sessions import session_from_row
from idplus.store.sql.tables import clients, revoked_access_tokens, sso_sessions, users
from idplus.store.sql.users import PREFIXED_USER_COLUMNS, user_from_prefixed_row

_REVOKED = (
    sa.exists()
    .where(revoked_access_tokens.c.jti.in_(sa.bindparam("jtis", expanding=True)))
    .label("revoked")
)
_REGISTERED_AT = (
    sa.select(clients.c.created_at)
    .where(clients.c.client_id == sa.bindparam("client_id"))
    .scalar_subquery()
    .label("client_registered_at")
)
# One row whatever matches: the session's (and user's) columns are NULL when `sid` names none.
_ONE_ROW = sa.select(sa.literal_column("1").label("one")).subquery("one_row")
_WITH_SESSION = _ONE_ROW.outerjoin(sso_sessions, sso_sessions.c.id == sa.bindparam("session_id"))
_STANDING = sa.select(_REVOKED, _REGISTERED_AT, *sso_sessions.c).select_from(_WITH_SESSION)
_STANDING_WITH_USER = sa.select(
    _REVOKED, _REGISTERED_AT, *sso_sessions.c, *PREFIXED_USER_COLUMNS
).select_from(_WITH_SESSION.outerjoin(users, users.c.id == sso_sessions.c.user_id))


class SqlAccessTokenStanding:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def of(
        self,
        jtis: Sequence[str],
        client_id: str,
        session_id: str | None,
        *,
        with_user: bool = False,
    ) -> AccessTokenStanding:
        query = _STANDING_WITH_USER if with_user else _STANDING
        row = self._conn.execute(
            query, {"jtis": list(jtis), "client_id": client_id, "session_id": session_id}
        ).one()
        found = row.id is not None
        return AccessTokenStanding(
            revoked=bool(row.revoked),
            client_registered_at=row.client_registered_at,
            session=session_from_row(row._mapping) if found else None,
            user=user_from_prefixed_row(self._conn, row._mapping) if found and with_user else None,
        )
