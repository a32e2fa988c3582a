"""The store contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from idplus.models import (
    AuditEvent,
    AuthorizationRequest,
    Client,
    ClientSecret,
    CodeGrant,
    Interaction,
    SigningKey,
    SsoSession,
    User,
)
from idplus.policies import ClientType
from idplus.store.sql import (
    api_products,
    audit,
    clients,
    codes,
    interactions,
    server_secrets,
    sessions,
    signing_keys,
    users,
)
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
        assert clients.list_clients(conn) == []


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
        product = api_products.find_api_product(conn, "api:tv")
        assert product is not None
        assert product.client_ids == ("web",)
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


def _session(session_id: str = "sid-1") -> SsoSession:
    return SsoSession(
        id=session_id,
        user_id="u1",
        sso_group="one_telenor",
        auth_time=NOW,
        acr="urn:telenor.identity.aal.1",
        amr=("urn:telenor.identity.amr.td_pwd",),
        idp="local",
        persistent=False,
        lifetime_seconds=600,
        created_at=NOW,
        last_seen_at=NOW,
        expires_at=NOW + timedelta(seconds=600),
    )


def test_sessions_slide_and_end(db: Database) -> None:
    with db.transaction() as conn:
        users.insert_user(conn, _user(), NOW)
        clients.insert_client(conn, _client(), NOW)
        sessions.insert_session(conn, _session(), "handle-hash-1")
        sessions.add_session_client(conn, "sid-1", "web", NOW)
        sessions.add_session_client(conn, "sid-1", "web", NOW)
    later = NOW + timedelta(seconds=300)
    with db.transaction() as conn:
        found = sessions.find_session(conn, "sid-1")
        assert found == _session()
        assert sessions.find_session_by_handle(conn, "handle-hash-1") == found
        assert sessions.find_session_by_handle(conn, "sid-1") is None
        sessions.touch_session(conn, found, later)
        assert sessions.session_client_ids(conn, "sid-1") == ["web"]
    with db.transaction() as conn:
        touched = sessions.find_session(conn, "sid-1")
        assert touched is not None
        assert touched.expires_at == later + timedelta(seconds=600)
        assert sessions.end_session(conn, "sid-1", later)
        assert not sessions.end_session(conn, "sid-1", later)
        ended = sessions.find_session(conn, "sid-1")
        assert ended is not None
        assert not ended.is_active(later)
        assert sessions.find_session_by_handle(conn, "handle-hash-1") is None


def test_a_code_is_consumed_once(db: Database) -> None:
    grant = CodeGrant(
        code_hash="h1",
        grant_id="g1",
        client_id="web",
        user_id="u1",
        session_id=None,
        redirect_uri="https://rp.example/cb",
        scopes=("openid",),
        auth_time=NOW,
        acr="urn:telenor.identity.aal.1",
        amr=("pwd",),
        idp="local",
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=60),
        claims={"preferred_username": "+4790000001"},
    )
    with db.transaction() as conn:
        users.insert_user(conn, _user(), NOW)
        clients.insert_client(conn, _client(), NOW)
        codes.insert_code(conn, grant)
    with db.transaction() as conn:
        assert codes.find_code(conn, "h1") == grant
        assert codes.consume_code(conn, "h1", NOW)
        assert not codes.consume_code(conn, "h1", NOW)
        used = codes.find_code(conn, "h1")
        assert used is not None
        assert used.used_at == NOW


def test_interactions_round_trip_and_are_consumed_once(db: Database) -> None:
    request = AuthorizationRequest(
        client_id="web",
        redirect_uri="https://rp.example/cb",
        response_type="code",
        response_mode="query",
        scopes=("openid", "profile"),
        prompt=("login",),
        acr_values=("urn:telenor.identity.aal.2",),
        requested_aal=2,
    )
    interaction = Interaction(
        id_hash="i1",
        browser_hash="b1",
        client_id="web",
        request=request,
        stage="login",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
    )
    with db.transaction() as conn:
        clients.insert_client(conn, _client(), NOW)
        interactions.insert_interaction(conn, interaction)
    with db.transaction() as conn:
        assert interactions.find_interaction(conn, "i1") == interaction
        assert interactions.consume_interaction(conn, "i1")
        assert not interactions.consume_interaction(conn, "i1")
