"""The store contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from idplus.models import AuditEvent, Client, ClientSecret, SigningKey, User
from idplus.policies import ClientType
from idplus.store.sql import api_products, audit, clients, server_secrets, signing_keys, users
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import refresh_tokens

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _client(client_id: str = "web", **overrides: object) -> Client:
    fields: dict[str, object] = {
        "client_id": client_id,
        "name": "Web",
        "client_type": ClientType.CONFIDENTIAL,
        "redirect_uris": ("https://rp.example/cb",),
        "scopes": ("openid", "api:tv"),
        "grant_types": ("authorization_code",),
        "api_access": True,
        "secrets": (ClientSecret("s1", "sha256$salt$hash", NOW),),
    }
    fields.update(overrides)
    return Client(**fields)  # type: ignore[arg-type]


def _user(user_id: str = "u1", username: str = "+4790000001", **overrides: object) -> User:
    fields: dict[str, object] = {
        "id": user_id,
        "username": username,
        "password_hash": "$argon2id$…",
        "kurtid": f"k-{user_id}",
        "analytics_uuid": f"a-{user_id}",
        "tnuids": (f"t-{user_id}-1", f"t-{user_id}-2"),
        "birthdate": date(1990, 5, 17),
        "legacy": {"legacy_roles": ["admin"]},
    }
    fields.update(overrides)
    return User(**fields)  # type: ignore[arg-type]


def test_client_round_trips_with_its_secrets(db: Database) -> None:
    with db.transaction() as conn:
        clients.insert_client(conn, _client(), NOW)
    with db.reading() as conn:
        found = clients.find_client(conn, "web")
    assert found == _client(created_at=NOW)
    assert found is not None and found.created_at is not None
    assert found.created_at.tzinfo is not None


def test_removing_a_client_removes_its_secrets_and_subscriptions(db: Database) -> None:
    with db.transaction() as conn:
        clients.insert_client(conn, _client(), NOW)
        api_products.insert_api_product(conn, "api:tv", "tv", NOW)
        api_products.add_subscribers(conn, "api:tv", ["web"])
    with db.transaction() as conn:
        assert clients.delete_client(conn, "web")
        assert not clients.delete_client(conn, "web")
    with db.reading() as conn:
        assert clients.find_client(conn, "web") is None
        product = api_products.find_api_product(conn, "api:tv")
    assert product is not None and product.client_ids == ()


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as conn:
        clients.insert_client(conn, _client("a"), NOW)
        clients.insert_client(conn, _client("a"), NOW)
    with db.reading() as conn:
        assert clients.count_clients(conn) == 0


def test_user_round_trips_with_ordered_profiles(db: Database) -> None:
    with db.transaction() as conn:
        users.insert_user(conn, _user(), NOW)
    with db.reading() as conn:
        by_name = users.find_user_by_username(conn, "+4790000001")
        by_id = users.find_user(conn, "u1")
    assert by_name == by_id == _user(created_at=NOW)


def test_usernames_kurtids_and_tnuids_are_unique(db: Database) -> None:
    with db.transaction() as conn:
        users.insert_user(conn, _user(), NOW)
    with db.reading() as conn:
        assert users.username_taken(conn, "+4790000001")
        assert users.kurtid_taken(conn, "k-u1")
        assert users.taken_tnuids(conn, ["t-u1-2", "free"]) == ["t-u1-2"]
    with pytest.raises(IntegrityError), db.transaction() as conn:
        users.insert_user(conn, _user("u2", "+4790000001"), NOW)


def test_server_secret_is_created_once(db: Database) -> None:
    with db.transaction() as conn:
        first = server_secrets.find_or_create_secret(conn, "salt", lambda: "one", NOW)
    with db.transaction() as conn:
        second = server_secrets.find_or_create_secret(conn, "salt", lambda: "two", NOW)
    assert first == second == "one"


def test_signing_keys_are_listed_by_activation_and_retired(db: Database) -> None:
    def key(kid: str, activate_at: datetime) -> SigningKey:
        return SigningKey(kid, "RS256", b"pem", {"kid": kid}, NOW, activate_at)

    later = NOW + timedelta(seconds=20)
    with db.transaction() as conn:
        signing_keys.insert_signing_key(conn, key("new", later))
        signing_keys.insert_signing_key(conn, key("old", NOW))
        signing_keys.retire_signing_keys(conn, ["old"], later + timedelta(hours=1))
    with db.reading() as conn:
        listed = signing_keys.list_signing_keys(conn)
    assert [k.kid for k in listed] == ["old", "new"]
    assert listed[0].publish_until == later + timedelta(hours=1)
    assert listed[1].publish_until is None


def test_api_product_subscriptions_are_idempotent(db: Database) -> None:
    with db.transaction() as conn:
        clients.insert_client(conn, _client(), NOW)
        api_products.insert_api_product(conn, "api:tv", "tv", NOW)
        api_products.add_subscribers(conn, "api:tv", ["web", "web"])
        api_products.add_subscribers(conn, "api:tv", ["web"])
    with db.reading() as conn:
        assert api_products.subscribed_api_scopes(conn, "web") == ["api:tv"]
        assert [p.scope for p in api_products.list_api_products(conn)] == ["api:tv"]


def test_audit_events_are_listed_newest_first(db: Database) -> None:
    with db.transaction() as conn:
        audit.record_event(conn, AuditEvent("a", NOW, client_id="web"))
        audit.record_event(conn, AuditEvent("b", NOW, user_id="u1", detail={"k": 1}))
    with db.reading() as conn:
        events = audit.list_events(conn)
    assert [e.event for e in events] == ["b", "a"]
    assert events[0].detail == {"k": 1}


def test_foreign_keys_are_enforced(db: Database) -> None:
    row = {
        "id": "r1",
        "token_hash": "h",
        "family_id": "f",
        "client_id": "missing",
        "user_id": "missing",
        "scopes": [],
        "policy": "Mobile",
        "amr": [],
        "issued_at": NOW,
        "expires_at": NOW,
        "absolute_expires_at": NOW,
    }
    with pytest.raises(IntegrityError), db.transaction() as conn:
        conn.execute(sa.insert(refresh_tokens).values(**row))


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError), db.transaction() as conn:
        clients.insert_client(conn, _client(), datetime(2026, 1, 1))
