"""The store contract: the same behaviour on SQLite and PostgreSQL.

Every test goes through `Store` units of work (here `SqlStore(db)` from the `store` fixture),
so any other implementation of `idplus.store.base` must pass it too.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from idplus.models import (
    NO_PASSWORD,
    AuditEvent,
    AuthorizationRequest,
    Client,
    ClientSecret,
    CodeGrant,
    Delivery,
    Interaction,
    RefreshToken,
    SigningKey,
    SsoSession,
    UpstreamProvider,
    UpstreamSessionTokens,
    User,
)
from idplus.policies import ClientType
from idplus.store.base import Store
from idplus.store.sql.tables import deliveries
from idplus.store.sql.uow import SqlStore

# The kinds this version sends.
KINDS = ("backchannel_logout",)


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


def test_client_round_trips_with_its_secrets(store: Store) -> None:
    with store.transaction() as uow:
        uow.clients.insert(_client(), NOW)
    with store.reading() as uow:
        found = uow.clients.find("web")
    assert found == _client(created_at=NOW)
    assert found is not None and found.created_at is not None
    assert found.created_at.tzinfo is not None


def test_removing_a_client_removes_its_secrets_and_subscriptions(store: Store) -> None:
    with store.transaction() as uow:
        uow.clients.insert(_client(), NOW)
        uow.api_products.insert("api:tv", "tv", NOW)
        uow.api_products.add_subscribers("api:tv", ["web"])
    with store.transaction() as uow:
        assert uow.clients.delete("web")
        assert not uow.clients.delete("web")
    with store.reading() as uow:
        assert uow.clients.find("web") is None
        product = uow.api_products.find("api:tv")
    assert product is not None and product.client_ids == ()


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(IntegrityError), store.transaction() as uow:
        uow.clients.insert(_client("a"), NOW)
        uow.users.insert(_user(), NOW)
        uow.users.insert(_user(), NOW)
    with store.reading() as uow:
        assert uow.clients.list_all() == []


def test_a_taken_client_id_is_not_inserted_twice(store: Store) -> None:
    """The insert is the check: a second registration of an id (even a concurrent one) is
    told so and writes nothing."""
    with store.transaction() as uow:
        assert uow.clients.insert(_client("a"), NOW)
        assert not uow.clients.insert(replace(_client("a"), name="other"), NOW)
    with store.reading() as uow:
        assert [c.name for c in uow.clients.list_all()] == [_client("a").name]


def test_user_round_trips_with_ordered_profiles(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
    with store.reading() as uow:
        by_name = uow.users.find_by_username("+4790000001")
        by_id = uow.users.find("u1")
    assert by_name == by_id == _user(created_at=NOW)


def test_usernames_kurtids_and_tnuids_are_unique(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
    with store.reading() as uow:
        assert uow.users.username_taken("+4790000001")
        assert uow.users.kurtid_taken("k-u1")
        assert uow.users.taken_tnuids(["t-u1-2", "free"]) == ["t-u1-2"]
    with pytest.raises(IntegrityError), store.transaction() as uow:
        uow.users.insert(_user("u2", "+4790000001"), NOW)


def test_server_secret_is_created_once(store: Store) -> None:
    with store.transaction() as uow:
        first = uow.server_secrets.find_or_create("salt", lambda: "one", NOW)
    with store.transaction() as uow:
        second = uow.server_secrets.find_or_create("salt", lambda: "two", NOW)
    assert first == second == "one"


def test_signing_keys_are_listed_by_activation_and_retired(store: Store) -> None:
    def key(kid: str, activate_at: datetime) -> SigningKey:
        return SigningKey(kid, "RS256", b"pem", {"kid": kid}, NOW, activate_at)

    later = NOW + timedelta(seconds=20)
    with store.transaction() as uow:
        uow.signing_keys.insert(key("new", later))
        uow.signing_keys.insert(key("old", NOW))
        uow.signing_keys.retire(["old"], later + timedelta(hours=1))
    with store.reading() as uow:
        listed = uow.signing_keys.list_all()
    assert [k.kid for k in listed] == ["old", "new"]
    assert listed[0].publish_until == later + timedelta(hours=1)
    assert listed[1].publish_until is None


def test_api_product_subscriptions_are_idempotent(store: Store) -> None:
    with store.transaction() as uow:
        uow.clients.insert(_client(), NOW)
        uow.api_products.insert("api:tv", "tv", NOW)
        uow.api_products.add_subscribers("api:tv", ["web", "web"])
        uow.api_products.add_subscribers("api:tv", ["web"])
    with store.reading() as uow:
        product = uow.api_products.find("api:tv")
        assert product is not None
        assert product.client_ids == ("web",)
        assert [p.scope for p in uow.api_products.list_all()] == ["api:tv"]


def _upstream(provider_id: str, **overrides: object) -> UpstreamProvider:
    fields: dict[str, object] = {
        "id": provider_id,
        "issuer": "https://idp.example",
        "client_id": "idplus",
        "client_secret_sealed": "fernet:token",
        "scopes": ("openid", "email"),
        "display_name": "IdP",
        "acr": "urn:telenor.identity.aal.2",
        "amr": ("bankid", "hwk"),
        "link_by": "email",
        "token_auth_method": "client_secret_post",
        "created_at": NOW,
    }
    fields.update(overrides)
    return UpstreamProvider(**fields)  # type: ignore[arg-type]


def test_upstream_providers_round_trip_are_listed_by_id_and_deleted(store: Store) -> None:
    with store.transaction() as uow:
        uow.upstream_providers.insert(_upstream("vipps"))
        uow.upstream_providers.insert(_upstream("azure", client_secret_sealed=None, acr=None))
    with store.reading() as uow:
        assert uow.upstream_providers.find("vipps") == _upstream("vipps")
        assert uow.upstream_providers.find("ghost") is None
        listed = uow.upstream_providers.list_all()
    assert [p.id for p in listed] == ["azure", "vipps"]
    assert listed[0] == _upstream("azure", client_secret_sealed=None, acr=None)
    with store.transaction() as uow:
        assert uow.upstream_providers.find("vipps", lock=True) == _upstream("vipps")
        assert uow.upstream_providers.delete("vipps") is True
        assert uow.upstream_providers.delete("vipps") is False
    with store.reading() as uow:
        assert [p.id for p in uow.upstream_providers.list_all()] == ["azure"]


def test_upstream_provider_ids_are_unique(store: Store) -> None:
    with store.transaction() as uow:
        uow.upstream_providers.insert(_upstream("vipps"))
    with pytest.raises(IntegrityError), store.transaction() as uow:
        uow.upstream_providers.insert(_upstream("vipps", issuer="https://other.example"))
    with store.reading() as uow:
        assert uow.upstream_providers.find("vipps") == _upstream("vipps")


def test_audit_events_are_listed_newest_first(store: Store) -> None:
    with store.transaction() as uow:
        uow.audit.record(AuditEvent("a", NOW, client_id="web"))
        uow.audit.record(AuditEvent("b", NOW, user_id="u1", detail={"k": 1}))
    with store.reading() as uow:
        events = uow.audit.list_events()
    assert [e.event for e in events] == ["b", "a"]
    assert events[0].detail == {"k": 1}


def test_foreign_keys_are_enforced(store: Store) -> None:
    token = RefreshToken(
        id="r1",
        token_hash="h",
        family_id="f",
        client_id="missing",
        user_id="missing",
        scopes=(),
        policy="Mobile",
        issued_at=NOW,
        expires_at=NOW,
        absolute_expires_at=NOW,
        auth_time=None,
        acr=None,
        amr=(),
        idp=None,
    )
    with pytest.raises(IntegrityError), store.transaction() as uow:
        uow.refresh_tokens.insert(token)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError), store.transaction() as uow:
        uow.clients.insert(_client(), datetime(2026, 1, 1))


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


def test_sessions_slide_and_end(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.clients.insert(_client(), NOW)
        uow.sessions.insert(_session(), "handle-hash-1")
        uow.sessions.add_client("sid-1", "web", NOW)
        uow.sessions.add_client("sid-1", "web", NOW)
    later = NOW + timedelta(seconds=300)
    with store.transaction() as uow:
        found = uow.sessions.find("sid-1")
        assert found == _session()
        assert uow.sessions.find_by_handle("handle-hash-1") == found
        assert uow.sessions.find_by_handle("sid-1") is None
        uow.sessions.touch(found, later)
        assert uow.sessions.client_ids("sid-1") == ["web"]
    with store.transaction() as uow:
        touched = uow.sessions.find("sid-1")
        assert touched is not None
        assert touched.expires_at == later + timedelta(seconds=600)
        assert uow.sessions.end("sid-1", later)
        assert not uow.sessions.end("sid-1", later)
        ended = uow.sessions.find("sid-1")
        assert ended is not None
        assert not ended.is_active(later)
        assert uow.sessions.find_by_handle("handle-hash-1") is None


def test_a_code_is_consumed_once(store: Store) -> None:
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
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.clients.insert(_client(), NOW)
        uow.codes.insert(grant)
    with store.transaction() as uow:
        assert uow.codes.find("h1") == grant
        assert uow.codes.consume("h1", NOW)
        assert not uow.codes.consume("h1", NOW)
        used = uow.codes.find("h1")
        assert used is not None
        assert used.used_at == NOW


def test_interactions_round_trip_and_are_consumed_once(store: Store) -> None:
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
    with store.transaction() as uow:
        uow.clients.insert(_client(), NOW)
        uow.interactions.insert(interaction)
    with store.transaction() as uow:
        assert uow.interactions.find("i1") == interaction
        assert uow.interactions.consume("i1")
        assert not uow.interactions.consume("i1")


def test_an_interactions_request_is_replaced_without_touching_its_progress(store: Store) -> None:
    """A language picked mid-login changes the request alone, never the stage or code counters."""
    request = AuthorizationRequest(
        client_id="web",
        redirect_uri="https://rp.example/cb",
        response_type="code",
        response_mode="query",
        scopes=("openid",),
    )
    interaction = Interaction(
        id_hash="i1",
        browser_hash="b1",
        client_id="web",
        request=request,
        stage="otp",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        otp_hash="code-hash",
        otp_attempts=2,
    )
    with store.transaction() as uow:
        uow.clients.insert(_client(), NOW)
        uow.interactions.insert(interaction)
    in_norwegian = replace(request, ui_locale="nb")
    with store.transaction() as uow:
        uow.interactions.save_request("i1", in_norwegian)
    with store.reading() as uow:
        assert uow.interactions.find("i1") == replace(interaction, request=in_norwegian)


def _delivery(delivery_id: str = "d1", due: datetime = NOW) -> Delivery:
    return Delivery(
        id=delivery_id,
        kind="backchannel_logout",
        target="https://rp.example/bcl",
        payload={"logout_token": f"token-{delivery_id}"},
        subject="web",
        status="pending",
        attempts=0,
        next_attempt_at=due,
        created_at=NOW,
    )


LEASE = NOW + timedelta(seconds=30)


def test_a_delivery_is_claimed_once_until_its_lease_ends(store: Store) -> None:
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery())
    with store.transaction() as uow:
        assert uow.deliveries.find("d1") == _delivery()
        (claimed,) = uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS)
    assert claimed == replace(_delivery(), claimed_until=LEASE)
    with store.transaction() as uow:
        assert uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS) == []
    # The claimer died without an answer: once the lease ends anyone may send it.
    with store.transaction() as uow:
        (again,) = uow.deliveries.claim_due(
            LEASE, lease_until=LEASE + timedelta(seconds=30), limit=10, kinds=KINDS
        )
    assert again.id == "d1"


def test_only_due_deliveries_are_claimed_oldest_first_up_to_the_limit(store: Store) -> None:
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery("later", NOW + timedelta(seconds=5)))
        uow.deliveries.enqueue(_delivery("second", NOW - timedelta(seconds=1)))
        uow.deliveries.enqueue(_delivery("first", NOW - timedelta(seconds=2)))
        uow.deliveries.enqueue(_delivery("third", NOW))
    with store.transaction() as uow:
        claimed = uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=2, kinds=KINDS)
    assert [d.id for d in claimed] == ["first", "second"]


def test_a_retried_delivery_is_released_until_its_next_attempt(store: Store) -> None:
    retry_at = NOW + timedelta(seconds=4)
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery())
    with store.transaction() as uow:
        uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS)
        uow.deliveries.mark_retry("d1", next_attempt_at=retry_at, error="HTTP 503")
    with store.transaction() as uow:
        assert (
            uow.deliveries.claim_due(
                retry_at - timedelta(seconds=1), lease_until=LEASE, limit=10, kinds=KINDS
            )
            == []
        )
        (claimed,) = uow.deliveries.claim_due(retry_at, lease_until=LEASE, limit=10, kinds=KINDS)
    assert (claimed.attempts, claimed.last_error, claimed.status) == (1, "HTTP 503", "pending")


def test_delivered_and_failed_deliveries_are_never_claimed_again(store: Store) -> None:
    later = NOW + timedelta(seconds=1)
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery("ok"))
        uow.deliveries.enqueue(_delivery("refused"))
    with store.transaction() as uow:
        uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS)
        uow.deliveries.mark_delivered("ok", later)
        uow.deliveries.mark_failed("refused", later, "HTTP 400")
    with store.transaction() as uow:
        assert uow.deliveries.claim_due(LEASE, lease_until=LEASE, limit=10, kinds=KINDS) == []
        ok, refused = uow.deliveries.find("ok"), uow.deliveries.find("refused")
    assert ok is not None and refused is not None
    assert (ok.status, ok.attempts, ok.finished_at, ok.claimed_until) == (
        "delivered",
        1,
        later,
        None,
    )
    assert (refused.status, refused.attempts, refused.last_error) == ("failed", 1, "HTTP 400")


def test_a_late_sender_cannot_undo_a_finished_delivery(store: Store) -> None:
    """A sender whose lease ran out reports after another sender delivered it."""
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery())
        uow.deliveries.mark_delivered("d1", NOW)
        uow.deliveries.mark_retry("d1", next_attempt_at=NOW, error="ReadTimeout")
        uow.deliveries.mark_failed("d1", NOW, "HTTP 500")
    with store.reading() as uow:
        found = uow.deliveries.find("d1")
    assert found is not None
    assert (found.status, found.attempts, found.last_error) == ("delivered", 1, None)


def test_two_concurrent_claimers_never_get_the_same_delivery(store: Store) -> None:
    ids = {f"d{n:02}" for n in range(40)}
    with store.transaction() as uow:
        for delivery_id in sorted(ids):
            uow.deliveries.enqueue(_delivery(delivery_id))
    claims: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def claimer(mine: list[str]) -> None:
        start.wait(timeout=30)
        while True:
            with store.transaction() as uow:
                batch = uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=3, kinds=KINDS)
            if not batch:
                return
            mine.extend(d.id for d in batch)

    threads = [threading.Thread(target=claimer, args=(mine,)) for mine in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert set(claims[0]).isdisjoint(claims[1])
    assert sorted(claims[0] + claims[1]) == sorted(ids)


@pytest.mark.postgres
def test_a_claimer_skips_deliveries_another_open_claim_holds(postgres_url: str) -> None:
    """PostgreSQL: the second claimer neither waits for the first transaction nor takes its
    rows (FOR UPDATE SKIP LOCKED). SQLite cannot have two write transactions open at once."""
    store = SqlStore.from_url(postgres_url)
    try:
        _claim_while_another_claim_is_open(store)
    finally:
        store.dispose()


def _claim_while_another_claim_is_open(store: Store) -> None:
    with store.transaction() as uow:
        for delivery_id in ("a", "b", "c"):
            uow.deliveries.enqueue(_delivery(delivery_id))
    second: list[str] = []

    def claim_all() -> None:
        with store.transaction() as uow:
            second.extend(
                d.id
                for d in uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS)
            )

    with store.transaction() as uow:
        first = [
            d.id for d in uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=2, kinds=KINDS)
        ]
        other = threading.Thread(target=claim_all)
        other.start()
        other.join(timeout=30)
        assert not other.is_alive(), "the second claimer waited for the first one's locks"
    assert first == ["a", "b"]
    assert second == ["c"]


def test_an_unreadable_delivery_fails_alone_and_the_others_still_go(store: Store) -> None:
    """One bad row used to roll back every claim: nothing behind it was ever sent."""
    with store.transaction() as uow:
        uow.deliveries.enqueue(_delivery("bad", due=NOW - timedelta(seconds=1)))
        uow.deliveries.enqueue(_delivery("good"))
    with _raw(store) as conn:  # a row no version of the code could have written
        conn.execute(sa.update(deliveries).where(deliveries.c.id == "bad").values(payload=[1]))
    with store.transaction() as uow:
        claimed = uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS)
    assert [d.id for d in claimed] == ["good"]
    with _raw(store) as conn:
        status = conn.execute(
            sa.select(deliveries.c.status).where(deliveries.c.id == "bad")
        ).scalar_one()
    assert status == "failed"


def test_a_kind_this_version_cannot_send_is_left_for_one_that_can(store: Store) -> None:
    """During a rolling upgrade an older instance must not use up a newer kind's attempts."""
    with store.transaction() as uow:
        uow.deliveries.enqueue(replace(_delivery("ping"), kind="ciba_ping"))
    with store.transaction() as uow:
        assert uow.deliveries.claim_due(NOW, lease_until=LEASE, limit=10, kinds=KINDS) == []
    with store.transaction() as uow:
        (claimed,) = uow.deliveries.claim_due(
            NOW, lease_until=LEASE, limit=10, kinds=("ciba_ping",)
        )
    assert claimed.attempts == 0


def _raw(store: Store) -> AbstractContextManager[Connection]:
    """Plain SQL under the repositories, for rows the repositories would never write."""
    assert isinstance(store, SqlStore)
    return store.database.transaction()


def test_upstream_provider_ial_mapping_round_trips(store: Store) -> None:
    mapped = _upstream("bankid", ial_claim="loa", ial_values={"high": 2, "substantial": 1})
    with store.transaction() as uow:
        uow.upstream_providers.insert(mapped)
    with store.reading() as uow:
        assert uow.upstream_providers.find("bankid") == mapped


def test_users_with_a_password_are_found_by_email_or_phone(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user("u1", "+4790000001", email="kari@example.no"), NOW)
        uow.users.insert(_user("u2", "tid:s", password_hash=NO_PASSWORD, kurtid="k2",
                               analytics_uuid="a2", tnuids=("t2",),
                               email="kari@example.no"), NOW)  # fmt: skip
    with store.reading() as uow:
        found = uow.users.users_with_password_where("email", "kari@example.no", limit=2)
        assert [u.id for u in found] == ["u1"]
        assert uow.users.users_with_password_where("phone_number", "+4799999999", limit=2) == []
        with pytest.raises(ValueError, match="cannot look users up"):
            uow.users.users_with_password_where("password_hash", "x", limit=2)


def test_a_users_profile_is_updated_field_by_field(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.users.update_profile("u1", {"given_name": "Kari", "ial": 2,
                                        "birthdate": date(1990, 5, 17)}, NOW)  # fmt: skip
        with pytest.raises(ValueError, match="not profile fields"):
            uow.users.update_profile("u1", {"password_hash": "x"}, NOW)
    with store.reading() as uow:
        user = uow.users.find("u1")
    assert user is not None
    assert (user.given_name, user.ial, user.birthdate) == ("Kari", 2, date(1990, 5, 17))


def test_upstream_accounts_are_listed_and_unlinked_never_to_the_last(store: Store) -> None:
    lonely = _user("u1", "tid:s", password_hash=NO_PASSWORD)
    with store.transaction() as uow:
        uow.users.insert(lonely, NOW)
        uow.upstream_accounts.insert_if_absent("tid", "s-1", "u1", NOW)
        uow.upstream_accounts.insert_if_absent("bankid", "s-2", "u1", NOW + timedelta(1))
    with store.transaction() as uow:
        listed = uow.upstream_accounts.list_for_user("u1")
        assert [(a.provider_id, a.subject) for a in listed] == [("tid", "s-1"), ("bankid", "s-2")]
        assert not uow.upstream_accounts.unlink_unless_last("tid", "other", lonely)
        assert uow.upstream_accounts.unlink_unless_last("tid", "s-1", lonely)
        assert not uow.upstream_accounts.unlink_unless_last("bankid", "s-2", lonely)
        assert uow.upstream_accounts.find_user_id("bankid", "s-2") == "u1"


def test_a_sessions_upstream_side_is_kept_replaced_and_gone_with_it(store: Store) -> None:
    tokens = UpstreamSessionTokens("tid", "a.b.c", "fernet:rt")
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.sessions.insert(replace(_session(), upstream_subject="up-sub"), "h")
        uow.upstream_session_tokens.save("sid-1", tokens, NOW)
        uow.upstream_session_tokens.save("sid-1", replace(tokens, id_token="d.e.f"), NOW)
        uow.sessions.reauthenticate("sid-1", auth_time=NOW, acr="urn:telenor.identity.aal.3",
                                    amr=("bankid",), idp="bankid", upstream_subject="b-sub",
                                    now=NOW)  # fmt: skip
    with store.reading() as uow:
        assert uow.upstream_session_tokens.find("sid-1") == replace(tokens, id_token="d.e.f")
        session = uow.sessions.find("sid-1")
        assert session is not None and (session.idp, session.upstream_subject) == (
            "bankid",
            "b-sub",
        )
    with store.transaction() as uow:
        uow.upstream_session_tokens.delete("sid-1")
        assert uow.upstream_session_tokens.find("sid-1") is None


def test_an_upstream_logout_hop_is_used_once_and_only_while_live(store: Store) -> None:
    with store.transaction() as uow:
        uow.upstream_logouts.insert("hop-1", "tid", "https://rp.example/bye", NOW + timedelta(1))
        uow.upstream_logouts.insert("hop-2", "tid", "https://rp.example/bye", NOW)
    with store.transaction() as uow:
        assert uow.upstream_logouts.consume("hop-1", "bankid", NOW) is None
        assert uow.upstream_logouts.consume("hop-1", "tid", NOW) == "https://rp.example/bye"
        assert uow.upstream_logouts.consume("hop-1", "tid", NOW) is None
        assert uow.upstream_logouts.consume("hop-2", "tid", NOW) is None


def test_a_sessions_user_agent_is_kept_and_a_new_login_may_replace_it(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.sessions.insert(replace(_session(), user_agent="Firefox/133"), "handle-hash-1")
        uow.sessions.insert(_session("sid-2"), "handle-hash-2")
    with store.transaction() as uow:
        for session_id, user_agent in (("sid-1", None), ("sid-2", "Chrome/131")):
            uow.sessions.reauthenticate(
                session_id, auth_time=NOW, acr="urn:telenor.identity.aal.1", amr=(),
                idp="local", upstream_subject=None, now=NOW, user_agent=user_agent,
            )  # fmt: skip
    with store.reading() as uow:
        agents = {s.id: s.user_agent for s in uow.sessions.active_of_user("u1", NOW)}
    # A login that sent no User-Agent keeps the stored one.
    assert agents == {"sid-1": "Firefox/133", "sid-2": "Chrome/131"}


def test_an_access_tokens_standing_is_read_in_one_go(store: Store) -> None:
    """Introspection and userinfo ask on every request: revoked (the token or one it was
    exchanged from), when its client was registered, and the session its sid names."""
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.clients.insert(_client(), NOW)
        uow.sessions.insert(_session(), "handle-hash-1")
        uow.revoked_access_tokens.revoke("jti-ancestor", NOW + timedelta(hours=1))

    with store.reading() as uow:
        standing = uow.access_token_standing.of(["jti-1"], "web", "sid-1")
        exchanged = uow.access_token_standing.of(["jti-2", "jti-ancestor"], "web", "sid-1")
        unbound = uow.access_token_standing.of(["jti-3"], "web", None)
        orphan = uow.access_token_standing.of(["jti-4"], "removed", "sid-gone")

    assert not standing.revoked
    assert standing.client_registered_at == NOW
    assert standing.session == _session()
    assert exchanged.revoked
    assert unbound.session is None and unbound.client_registered_at == NOW
    assert orphan.client_registered_at is None and orphan.session is None and not orphan.revoked
    assert standing.user is None


def test_an_access_tokens_standing_brings_the_sessions_user_when_asked(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.clients.insert(_client(), NOW)
        uow.sessions.insert(_session(), "handle-hash-1")

    with store.reading() as uow:
        with_user = uow.access_token_standing.of(["jti-1"], "web", "sid-1", with_user=True)
        no_session = uow.access_token_standing.of(["jti-1"], "web", "sid-gone", with_user=True)
        user = uow.users.find("u1")

    assert user is not None and user.tnuids == ("t-u1-1", "t-u1-2")
    assert with_user.user == user
    assert with_user.session == _session()
    assert no_session.user is None and no_session.session is None


def test_a_session_is_read_with_its_user(store: Store) -> None:
    with store.transaction() as uow:
        uow.users.insert(_user(), NOW)
        uow.sessions.insert(_session(), "handle-hash-1")

    with store.reading() as uow:
        found = uow.sessions.find_with_user("sid-1")
        missing = uow.sessions.find_with_user("sid-gone")
        user = uow.users.find("u1")

    assert found == (_session(), user)
    assert missing is None
