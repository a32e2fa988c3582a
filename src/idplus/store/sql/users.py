"""User rows and their tnuid profiles ⇄ `models.User`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import NO_PASSWORD, User
from idplus.store.base import LINK_FIELDS, PROFILE_FIELDS
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import user_profiles, user_roles, users

_BY_USERNAME = sa.select(users).where(users.c.username == sa.bindparam("value"))
_BY_ID = sa.select(users).where(users.c.id == sa.bindparam("value"))
_BY_KURTID = sa.select(users).where(users.c.kurtid == sa.bindparam("value"))
_PROFILES = (
    sa.select(user_profiles.c.tnuid)
    .where(user_profiles.c.user_id == sa.bindparam("user_id"))
    .order_by(user_profiles.c.position)
)


# The user's columns beside another table's in one statement (a session's, a token's).
USER_PREFIX = "user__"
PREFIXED_USER_COLUMNS = [column.label(USER_PREFIX + column.name) for column in users.c]
_PREFIXED_NAMES = tuple(USER_PREFIX + column.name for column in users.c)


def _find_one(conn: Connection, query: sa.Select[Any], value: str) -> User | None:
    row = conn.execute(query, {"value": value}).first()
    if row is None:
        return None
    return _user_from_row(row._mapping, profiles_of(conn, row.id))


def profiles_of(conn: Connection, user_id: str) -> tuple[str, ...]:
    return tuple(conn.execute(_PROFILES, {"user_id": user_id}).scalars())


def user_from_prefixed_row(conn: Connection, row: Any) -> User | None:
    """The user of a row selected with PREFIXED_USER_COLUMNS (None when the join found none),
    with its profiles read."""
    user_id = row[USER_PREFIX + "id"]
    if user_id is None:
        return None
    columns = {name.removeprefix(USER_PREFIX): row[name] for name in _PREFIXED_NAMES}
    return _user_from_row(columns, profiles_of(conn, user_id))


def _user_from_row(row: Any, tnuids: tuple[str, ...]) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        kurtid=row["kurtid"],
        analytics_uuid=row["analytics_uuid"],
        tnuids=tnuids,
        ial=row["ial"],
        otp_required=row["otp_required"],
        phone_number=row["phone_number"],
        email=row["email"],
        given_name=row["given_name"],
        family_name=row["family_name"],
        birthdate=row["birthdate"],
        legacy=dict(row["legacy"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


class SqlUsers:
    """User rows and their tnuid profiles ⇄ `models.User`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, user: User, now: datetime) -> None:
        self._conn.execute(sa.insert(users).values(**_user_values(user, now)))
        self._insert_profiles(user)

    def insert_if_absent(self, user: User, now: datetime) -> bool:
        """Create the user unless its username exists (two processes provisioning the same
        account at once both succeed; one creates it). True when this call created it."""
        created = insert_if_absent(self._conn, users, _user_values(user, now), ["username"])
        if created:
            self._insert_profiles(user)
        return created

    def _insert_profiles(self, user: User) -> None:
        if user.tnuids:
            self._conn.execute(
                sa.insert(user_profiles),
                [
                    {"tnuid": tnuid, "user_id": user.id, "position": position}
                    for position, tnuid in enumerate(user.tnuids)
                ],
            )

    def username_taken(self, username: str) -> bool:
        return (
            self._conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
            is not None
        )

    def kurtid_taken(self, kurtid: str) -> bool:
        return (
            self._conn.execute(sa.select(users.c.id).where(users.c.kurtid == kurtid)).first()
            is not None
        )

    def taken_tnuids(self, tnuids: list[str]) -> list[str]:
        rows = self._conn.execute(
            sa.select(user_profiles.c.tnuid).where(user_profiles.c.tnuid.in_(tnuids))
        ).all()
        return sorted(row.tnuid for row in rows)

    def find_by_username(self, username: str) -> User | None:
        return _find_one(self._conn, _BY_USERNAME, username)

    def find_by_kurtid(self, kurtid: str) -> User | None:
        return _find_one(self._conn, _BY_KURTID, kurtid)

    def find(self, user_id: str) -> User | None:
        return _find_one(self._conn, _BY_ID, user_id)

    def set_password_hash(self, user_id: str, password_hash: str, now: datetime) -> None:
        self._conn.execute(
            sa.update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, updated_at=now)
        )

    def delete(self, user_id: str) -> bool:
        return self._conn.execute(sa.delete(users).where(users.c.id == user_id)).rowcount > 0

    def count(self) -> int:
        return int(self._conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def users_with_password_where(self, field: str, value: str, limit: int) -> list[User]:
        if field not in LINK_FIELDS:
            raise ValueError(f"cannot look users up by {field!r}")
        rows = self._conn.execute(
            sa.select(users.c.id)
            .where(users.c[field] == value, users.c.password_hash != NO_PASSWORD)
            .order_by(users.c.id)
            .limit(limit)
        ).scalars()
        found = (self.find(user_id) for user_id in list(rows))
        return [user for user in found if user is not None]

    def update_profile(self, user_id: str, values: dict[str, object], now: datetime) -> None:
        unknown = set(values) - PROFILE_FIELDS
        if unknown:
            raise ValueError(f"not profile fields: {sorted(unknown)}")
        if values:
            self._conn.execute(
                sa.update(users).where(users.c.id == user_id).values(**values, updated_at=now)
            )

    def roles_of(self, user_id: str) -> tuple[str, ...]:
        roles = self._conn.execute(
            sa.select(user_roles.c.role)
            .where(user_roles.c.user_id == user_id)
            .order_by(user_roles.c.role)
        ).scalars()
        return tuple(roles)

    def grant_role(self, user_id: str, role: str, now: datetime) -> bool:
        values = {"user_id": user_id, "role": role, "granted_at": now}
        return insert_if_absent(self._conn, user_roles, values, ["user_id", "role"])

    def revoke_role(self, user_id: str, role: str) -> bool:
        gone = self._conn.execute(
            sa.delete(user_roles)
            .where(user_roles.c.user_id == user_id, user_roles.c.role == role)
            .returning(user_roles.c.user_id)
        ).first()
        return gone is not None

    def with_role(self, role: str, *, lock: bool = False) -> list[str]:
        query = (
            sa.select(user_roles.c.user_id)
            .where(user_roles.c.role == role)
            .order_by(user_roles.c.user_id)
        )
        holders = self._conn.execute(query.with_for_update() if lock else query).scalars()
        return list(holders)

    def search(self, text: str, *, after: str | None, limit: int) -> list[User]:
        # Prefixes, not substrings: a prefix is what a B-tree can serve. Ordered by the primary
        # key with a LIMIT, a page reads the primary key's index until it has `limit` rows.
        query = sa.select(users).order_by(users.c.id).limit(limit)
        if after is not None:
            query = query.where(users.c.id > after)
        if text:
            query = query.where(_matches(text))
        rows = [row._mapping for row in self._conn.execute(query).all()]
        tnuids: dict[str, list[str]] = {row["id"]: [] for row in rows}
        if rows:
            profiles = self._conn.execute(
                sa.select(user_profiles.c.user_id, user_profiles.c.tnuid)
                .where(user_profiles.c.user_id.in_(list(tnuids)))
                .order_by(user_profiles.c.user_id, user_profiles.c.position)
            ).all()
            for profile in profiles:
                tnuids[profile.user_id].append(profile.tnuid)
        return [_user_from_row(row, tuple(tnuids[row["id"]])) for row in rows]

    def set_disabled(self, user_id: str, at: datetime | None, now: datetime) -> bool:
        was = users.c.disabled_at.is_(None) if at is not None else users.c.disabled_at.isnot(None)
        changed = self._conn.execute(
            sa.update(users)
            .where(users.c.id == user_id, was)
            .values(disabled_at=at, updated_at=now)
            .returning(users.c.id)
        ).first()
        return changed is not None


# LIKE's own wildcards in a searched text match themselves.
LIKE_ESCAPE = "\\"


def _prefix_pattern(text: str) -> str:
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return text + "%"


def _starts_with(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    return column.like(_prefix_pattern(text), escape=LIKE_ESCAPE)


def _name_starts_with(column: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """Case-insensitive by the database's own lower() on both sides, so a name matches as
    typed whatever letters the database folds (SQLite folds only ASCII)."""
    pattern = sa.func.lower(sa.literal(_prefix_pattern(text), sa.String()))
    return sa.func.lower(column).like(pattern, escape=LIKE_ESCAPE)


def _matches(text: str) -> sa.ColumnElement[bool]:
    """The identifiers are stored normalised (usernames and e-mail addresses lower-case,
    phone numbers E.164), so they are compared as stored, with no function on the column: an
    index can serve the prefix (on PostgreSQL under a collation other than C, one built with
    varchar_pattern_ops, as audit_events.event has; the users' columns have plain ones)."""
    lowered = text.lower()
    given, _, family = text.partition(" ")
    by_name = (
        sa.and_(
            _name_starts_with(users.c.given_name, given),
            _name_starts_with(users.c.family_name, family.strip()),
        )
        if family.strip()
        else sa.or_(
            _name_starts_with(users.c.given_name, text),
            _name_starts_with(users.c.family_name, text),
        )
    )
    return sa.or_(
        _starts_with(users.c.username, lowered),
        _starts_with(users.c.email, lowered),
        _starts_with(users.c.phone_number, text),
        _starts_with(users.c.kurtid, text),
        by_name,
    )


def _user_values(user: User, now: datetime) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "password_hash": user.password_hash,
        "phone_number": user.phone_number,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "birthdate": user.birthdate,
        "kurtid": user.kurtid,
        "analytics_uuid": user.analytics_uuid,
        "ial": user.ial,
        "otp_required": user.otp_required,
        "disabled_at": user.disabled_at,
        "legacy": dict(user.legacy),
        "created_at": now,
        "updated_at": now,
    }
